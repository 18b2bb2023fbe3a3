// Command remotemem measures the peak memory of remote.Fetch on hostile but
// allowed archives, each in a fresh process so that the kernel's high-water
// mark (VmHWM) is that scenario's alone:
//
//	endless   a chunked response that never ends (refused at MaxDownload)
//	targz     a ~0.5 MB .tar.gz of 248 MiB of "SELECT 1;" (inside the limits)
//	zip       the same as a .zip
//	download  a 63 MiB .tar.gz of incompressible bytes, Content-Length set
//
// The archives are written to a temporary directory first and served from
// disk by an httptest TLS server in the same process, whose own memory is a
// few MB. Run it with no arguments for every scenario:
//
//	go run ./cmd/remotemem            # from bench/
//	go run ./cmd/remotemem -one targz
package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/pgmig/pgmig/remote"
)

var scenarios = []string{"endless", "targz", "zip", "download"}

func main() {
	one := flag.String("one", "", "run one scenario in this process")
	flag.Parse()
	if *one != "" {
		if err := run(*one); err != nil {
			fmt.Fprintln(os.Stderr, "remotemem:", err)
			os.Exit(1)
		}
		return
	}
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	fmt.Println("| scenario | result | unpacked | VmHWM before | VmHWM after | Go runtime mapped | time |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|")
	for _, s := range scenarios {
		cmd := exec.Command(self, "-one", s)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fail(fmt.Errorf("%s: %w", s, err))
		}
	}
}

func run(name string) error {
	dir, err := os.MkdirTemp("", "remotemem")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var handler http.Handler
	path := "/m.tar.gz"
	switch name {
	case "endless":
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, 32<<10)
			for r.Context().Err() == nil {
				if _, err := w.Write(buf); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		})
	case "targz", "download":
		f := filepath.Join(dir, "m.tar.gz")
		if name == "targz" {
			err = writeTarGz(f, "001_a.sql", selects(248<<20), 248<<20)
		} else {
			err = writeTarGz(f, "blob.bin", &randReader{rand.NewPCG(1, 2)}, 63<<20)
		}
		if err != nil {
			return err
		}
		handler = serveFile(f)
	case "zip":
		path = "/m.zip"
		f := filepath.Join(dir, "m.zip")
		if err := writeZip(f, "001_a.sql", selects(248<<20)); err != nil {
			return err
		}
		handler = serveFile(f)
	default:
		return fmt.Errorf("no scenario %q; want one of %s", name, strings.Join(scenarios, ", "))
	}
	srv := httptest.NewTLSServer(handler)
	defer srv.Close()

	runtime.GC()
	before := vmHWM()
	start := time.Now()
	fsys, err := remote.Fetch(context.Background(), srv.URL+path, remote.Options{Client: srv.Client(), Retries: -1, Timeout: 5 * time.Minute})
	took := time.Since(start)
	after := vmHWM()
	result, unpacked := "ok", int64(0)
	if err != nil {
		result = "refused: " + firstLine(err.Error())
	} else {
		fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if fi, err := d.Info(); err == nil {
					unpacked += fi.Size()
				}
			}
			return nil
		})
	}
	fmt.Printf("| %s | %s | %d MiB | %d MiB | %d MiB | %d MiB | %.1fs |\n",
		name, result, unpacked>>20, before>>20, after>>20, heapPeak()>>20, took.Seconds())
	return nil
}

// selects is n bytes of "SELECT 1;\n".
func selects(n int64) io.Reader {
	return io.LimitReader(&repeat{b: []byte("SELECT 1;\n")}, n)
}

type repeat struct {
	b   []byte
	off int
}

func (r *repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.b[r.off]
		r.off = (r.off + 1) % len(r.b)
	}
	return len(p), nil
}

type randReader struct{ src *rand.PCG }

func (r *randReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.src.Uint64())
	}
	return len(p), nil
}

func writeTarGz(path, entry string, body io.Reader, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: entry, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, body, size); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func writeZip(path, entry string, body io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	w, err := zw.Create(entry)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, body); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func serveFile(path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, path) })
}

// vmHWM is the process's peak resident set so far, in bytes.
func vmHWM() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	return -1
}

// heapPeak is the memory the Go runtime has mapped (not
// necessarily touched): /memory/classes/heap/... sums at this moment are
// not a peak, so this reads total mapped memory, which only grows.
func heapPeak() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 70 {
		s = s[:70] + "…"
	}
	return s
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "remotemem:", err)
	os.Exit(1)
}
