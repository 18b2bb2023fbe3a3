package remote

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"io/fs"
	"testing"
	"time"

	"github.com/pgmig/pgmig/internal/testserve"
)

// member is one archive entry to build. A zero typ is a regular file.
type member struct {
	name string
	body string
	typ  byte        // tar type flag
	link string      // tar link target
	mode fs.FileMode // zip: file mode bits beyond regular (symlink, pipe, device)
	enc  bool        // zip: set the encryption flag
	pad  int64       // bytes of zeros appended to body (cheap to compress)
}

func (m member) content() []byte {
	return append([]byte(m.body), make([]byte, m.pad)...)
}

func tarGzOf(t testing.TB, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, m := range ms {
		typ := m.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		data := m.content()
		hdr := &tar.Header{Name: m.name, Typeflag: typ, Linkname: m.link, Mode: 0o644, ModTime: time.Unix(0, 0)}
		if typ == tar.TypeXGlobalHeader {
			hdr = &tar.Header{Typeflag: typ, PAXRecords: map[string]string{"comment": "0123abcd"}}
		}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipOf(t testing.TB, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		fh := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		fh.SetMode(0o644 | m.mode)
		if m.enc {
			fh.Flags |= 0x1
		}
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.content()); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipLying builds a zip whose one .sql entry declares declared bytes but
// inflates to actual zero bytes: the classic bomb that trusts headers.
func zipLying(t testing.TB, name string, declared uint64, actual int) []byte {
	t.Helper()
	var raw bytes.Buffer
	fw, _ := flate.NewWriter(&raw, flate.BestCompression)
	zeros := make([]byte, actual)
	fw.Write(zeros)
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	fh := &zip.FileHeader{
		Name:               name,
		Method:             zip.Deflate,
		CRC32:              crc32.ChecksumIEEE(zeros),
		CompressedSize64:   uint64(raw.Len()),
		UncompressedSize64: declared,
	}
	w, err := zw.CreateRaw(fh)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// server is the shared archive server, with the options that trust it.
type server struct{ *testserve.Server }

func newServer(t testing.TB, tls bool) *server { return &server{testserve.New(t, tls)} }

// opts are test options: the server's client, retries without waiting.
func (s *server) opts() Options {
	return Options{Client: s.Client(), RetryWait: time.Millisecond}
}
