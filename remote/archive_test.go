package remote

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostile are archives Fetch must refuse, each naming the entry at fault.
// Limits in the cases are those of testLimits.
func hostile(t testing.TB) []struct {
	name, ext string
	data      []byte
	entry     string // wanted in the error
} {
	ok := member{name: "001_a.sql", body: up1}
	many := []member{}
	for i := range 6 {
		many = append(many, member{name: fmt.Sprintf("%03d_m.sql", i+1), body: "SELECT 1;"})
	}
	return []struct {
		name, ext string
		data      []byte
		entry     string
	}{
		{"tar ../", ".tar.gz", tarGzOf(t, ok, member{name: "../evil.sql", body: "x"}), "../evil.sql"},
		{"tar ../ inside", ".tar.gz", tarGzOf(t, member{name: "d/../../evil.sql", body: "x"}), "d/../../evil.sql"},
		{"tar absolute", ".tar.gz", tarGzOf(t, member{name: "/abs.sql", body: "x"}), "/abs.sql"},
		{"tar backslash", ".tar.gz", tarGzOf(t, member{name: `..\evil.sql`, body: "x"}), `..\evil.sql`},
		{"tar symlink", ".tar.gz", tarGzOf(t, ok, member{name: "002_b.sql", typ: tar.TypeSymlink, link: "/etc/passwd"}), "002_b.sql"},
		{"tar hardlink", ".tar.gz", tarGzOf(t, ok, member{name: "002_b.sql", typ: tar.TypeLink, link: "001_a.sql"}), "002_b.sql"},
		{"tar char device", ".tar.gz", tarGzOf(t, ok, member{name: "null", typ: tar.TypeChar}), "null"},
		{"tar block device", ".tar.gz", tarGzOf(t, ok, member{name: "sda", typ: tar.TypeBlock}), "sda"},
		{"tar fifo", ".tar.gz", tarGzOf(t, ok, member{name: "pipe", typ: tar.TypeFifo}), "pipe"},
		{"tar two top folders", ".tar.gz", tarGzOf(t, member{name: "a/001_a.sql", body: up1}, member{name: "b/002_b.sql", body: up2}), "b/002_b.sql"},
		{"tar root and folder", ".tar.gz", tarGzOf(t, ok, member{name: "sub/002_b.sql", body: up2}), "sub/002_b.sql"},
		{"tar folder then root", ".tar.gz", tarGzOf(t, member{name: "sub/", typ: tar.TypeDir}, member{name: "README", body: "x"}), "README"},
		{"tar duplicate", ".tar.gz", tarGzOf(t, ok, member{name: "./001_a.sql", body: "DROP TABLE users;"}), "./001_a.sql"},
		{"tar too many files", ".tar.gz", tarGzOf(t, many...), "006_m.sql"},
		{"tar declared size over the limit", ".tar.gz", tarGzOf(t, ok, member{name: "blob.bin", pad: 2 << 20}), "blob.bin"},
		{"tar .sql over the limit", ".tar.gz", tarGzOf(t, member{name: "001_a.sql", body: "SELECT 1;", pad: 2 << 20}), "001_a.sql"},
		{"tar total over the limit", ".tar.gz", tarGzOf(t, member{name: "001_a.sql", pad: 600 << 10}, member{name: "002_b.sql", pad: 600 << 10}), "002_b.sql"},
		{"zip ../", ".zip", zipOf(t, ok, member{name: "../evil.sql", body: "x"}), "../evil.sql"},
		{"zip absolute", ".zip", zipOf(t, member{name: "/abs.sql", body: "x"}), "/abs.sql"},
		{"zip backslash", ".zip", zipOf(t, member{name: `top\001_a.sql`, body: "x"}), `top\001_a.sql`},
		{"tar not UTF-8", ".tar.gz", tarGzOf(t, member{name: "\xb0001_a.sql", body: "x"}), "\xb0001_a.sql"},
		{"zip drive letter", ".zip", zipOf(t, member{name: `C:/evil.sql`, body: "x"}), `C:/evil.sql`},
		{"zip symlink", ".zip", zipOf(t, ok, member{name: "002_b.sql", body: "/etc/passwd", mode: fs.ModeSymlink}), "002_b.sql"},
		{"zip fifo", ".zip", zipOf(t, ok, member{name: "pipe", mode: fs.ModeNamedPipe}), "pipe"},
		{"zip device", ".zip", zipOf(t, ok, member{name: "dev", mode: fs.ModeDevice}), "dev"},
		{"zip encrypted", ".zip", zipOf(t, member{name: "001_a.sql", body: "x", enc: true}), "001_a.sql"},
		{"zip duplicate", ".zip", zipOf(t, ok, ok), "001_a.sql"},
		{"zip two top folders", ".zip", zipOf(t, member{name: "a/001_a.sql", body: up1}, member{name: "__MACOSX/a/._001_a.sql", body: "x"}), "__MACOSX/a/._001_a.sql"},
		{"zip too many files", ".zip", zipOf(t, many...), ""}, // refused before reading the entries
		{"zip bomb, honest header", ".zip", zipOf(t, member{name: "001_a.sql", pad: 2 << 20}), "001_a.sql"},
		{"zip bomb, lying header", ".zip", zipLying(t, "001_a.sql", 100, 2<<20), "001_a.sql"},
		{"zip bomb, lying header, not .sql", ".zip", zipLying(t, "blob.bin", 1<<62, 1), "blob.bin"},
		{"not gzip", ".tar.gz", []byte("<html>login</html>"), ""},
		{"not zip", ".zip", []byte("<html>login</html>"), ""},
		{"truncated tar.gz", ".tar.gz", tarGzOf(t, ok)[:40], ""},
	}
}

// testLimits are the limits the hostile cases are built against.
var testLimits = limits{maxUnpacked: 1 << 20, maxFiles: 5}

func TestFetchRefusesHostileArchives(t *testing.T) {
	t.Parallel()
	srv := newServer(t, true)
	for i, tc := range hostile(t) {
		t.Run(tc.name, func(t *testing.T) {
			u := srv.Put(fmt.Sprintf("/%d%s", i, tc.ext), tc.data)
			opts := srv.opts()
			opts.MaxUnpacked, opts.MaxFiles = testLimits.maxUnpacked, testLimits.maxFiles
			fsys, err := Fetch(context.Background(), u, opts)
			if !errors.Is(err, ErrUnsafeArchive) || fsys != nil {
				t.Fatalf("Fetch = %v, %v; want ErrUnsafeArchive", fsys, err)
			}
			var ue *UnsafeArchiveError
			if !errors.As(err, &ue) {
				t.Fatalf("%v is no *UnsafeArchiveError", err)
			}
			if tc.entry != "" && !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.entry)) {
				t.Errorf("error does not name the entry %s: %v", tc.entry, err)
			}
		})
	}
}

func TestFetchNoSQLFiles(t *testing.T) {
	t.Parallel()
	srv := newServer(t, true)
	u := srv.Put("/m.tar.gz", tarGzOf(t, member{name: "top/deeper/001_a.sql", body: up1}))
	_, err := Fetch(context.Background(), u, srv.opts())
	if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), "no .sql files") {
		t.Fatalf("error %v, want one saying there are no .sql files", err)
	}
}

var writeSeeds = flag.Bool("seeds", false, "rewrite the seed corpus in testdata/fuzz/FuzzArchive")

// TestSeedCorpus keeps testdata/fuzz/FuzzArchive in step with the table
// tests' archives: go test ./remote -run SeedCorpus -seeds.
func TestSeedCorpus(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -seeds to rewrite the corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzArchive")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, data := range seeds(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// seeds are the good and hostile archives of the tests, small enough to keep.
func seeds(t testing.TB) [][]byte {
	out := [][]byte{
		tarGzOf(t, member{name: "001_a.sql", body: up1}, member{name: "002_b.sql", body: up2}),
		zipOf(t, member{name: "proj/"}, member{name: "proj/001_a.sql", body: up1}, member{name: "proj/README.md", body: "x"}),
		tarGzOf(t, member{name: "pax_global_header", typ: tar.TypeXGlobalHeader}, member{name: "./", typ: tar.TypeDir},
			member{name: "./rel/001_a.sql", body: up1}, member{name: "./rel/docs/9_n.sql", body: "x"}),
	}
	for _, h := range hostile(t) {
		if len(h.data) < 64<<10 {
			out = append(out, h.data)
		}
	}
	return out
}

// FuzzArchive feeds arbitrary bytes to both unpackers with small limits:
// they must not panic, and what they accept must hold only .sql files with
// plain names, within the limits.
func FuzzArchive(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	lim := limits{maxUnpacked: 64 << 10, maxFiles: 20}
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, data []byte) {
		body, err := readSpool(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		unpackers := []func() (*memFS, error){
			func() (*memFS, error) { return unpackTarGz(body.reader(), lim, log) },
			func() (*memFS, error) { return unpackZip(body, body.size, lim, log) },
		}
		for _, unpack := range unpackers {
			fsys, err := unpack()
			if err != nil {
				if fsys != nil {
					t.Fatalf("an error (%v) and a file system", err)
				}
				continue
			}
			es, err := fs.ReadDir(fsys, ".")
			if err != nil {
				t.Fatal(err)
			}
			if len(es) > lim.maxFiles {
				t.Fatalf("%d files, limit %d", len(es), lim.maxFiles)
			}
			var total int64
			for _, e := range es {
				n := e.Name()
				if !fs.ValidPath(n) || strings.ContainsAny(n, `/\`) || n == "." || n == ".." || !strings.HasSuffix(n, ".sql") || e.IsDir() {
					t.Fatalf("unsafe or unwanted name %q", n)
				}
				b, err := fs.ReadFile(fsys, n)
				if err != nil {
					t.Fatal(err)
				}
				total += int64(len(b))
			}
			if total > lim.maxUnpacked {
				t.Fatalf("%d bytes unpacked, limit %d", total, lim.maxUnpacked)
			}
		}
	})
}
