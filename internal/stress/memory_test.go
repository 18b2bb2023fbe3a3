//go:build linux

package stress

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgmig/pgmig/internal/pgtest"
)

// The peak-memory trials run pgmig on sources at the size limits and read
// the process's peak resident set from the kernel (wait4's ru_maxrss,
// which counts every page the process ever had resident). Issue 16 sets
// the target: at most twice the largest source the limits allow, plus
// 64 MB, which docs/files.md promises. The trials assert it, and the
// summary line CI prints carries the figures; PGMIG_STRESS_MEM_ASSERT=0
// only measures and reports, for a machine whose runs are perturbed (a
// race-detector build, say). They also assert the outcome: each run exits
// as it must.

const mib = 1 << 20

// memRun is one measured run of pgmig.
type memRun struct {
	res    result
	maxRSS int64 // bytes
}

// runMeasured runs pgmig with args and extra environment, within limit,
// and returns how it ended and its peak RSS.
func runMeasured(t *testing.T, env []string, limit time.Duration, args ...string) memRun {
	t.Helper()
	cmd := exec.Command(pgmigBin(t), args...)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(limit, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	r := memRun{res: result{args: args, stdout: out.String(), stderr: errb.String(), dur: time.Since(start)}}
	if ee, ok := err.(*exec.ExitError); ok {
		r.res.code = ee.ExitCode()
		if r.res.code < 0 {
			r.res.signal = ee.String()
		}
	} else if err != nil {
		t.Fatal(err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss * 1024 // KiB on Linux
	}
	return r
}

// bigTarGz builds a .tar.gz of files, each head, n copies of chunk and
// tail, cheaply: gzip allows a stream of members, so the chunk is
// compressed once and its member repeated, and only head, tail, the tar
// headers and padding are compressed on their own. Compressing 256 MiB
// in the test itself would take minutes under -race.
func bigTarGz(t *testing.T, names []string, head string, chunk []byte, n int, tail string) []byte {
	t.Helper()
	w := &memberWriter{chunk: chunk, packed: gzipped(t, chunk)}
	tw := tar.NewWriter(w)
	for _, name := range names {
		if err := tw.WriteHeader(&tar.Header{Name: "release/" + name, Mode: 0o644, Size: int64(len(head) + n*len(chunk) + len(tail)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, head); err != nil {
			t.Fatal(err)
		}
		for range n {
			if _, err := tw.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := io.WriteString(tw, tail); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return w.out.Bytes()
}

func gzipped(t *testing.T, p []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// memberWriter writes each write as a gzip member: the chunk's, made once,
// for a write of the chunk itself (tar.Writer passes file content through
// as written), a fresh one for anything else.
type memberWriter struct {
	out    bytes.Buffer
	chunk  []byte
	packed []byte
}

func (w *memberWriter) Write(p []byte) (int, error) {
	if len(p) == len(w.chunk) && len(p) > 0 && &p[0] == &w.chunk[0] {
		w.out.Write(w.packed)
		return len(p), nil
	}
	zw := gzip.NewWriter(&w.out)
	zw.Write(p)
	return len(p), zw.Close()
}

// lines returns line repeated to about size bytes: whole lines, a
// multiple of 512 bytes long (a tar block) when line is 10 bytes.
func lines(line string, size int) []byte {
	return bytes.Repeat([]byte(line), size/len(line))
}

// writeBig writes head and then n copies of chunk to path.
func writeBig(t *testing.T, path, head string, chunk []byte, n int) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.WriteString(f, head); err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	return int64(len(head) + n*len(chunk))
}

// memCase is one measured scenario: the largest source its limits allow
// (source bytes) and the run.
type memCase struct {
	name   string
	source int64
	run    memRun
	want   int // exit code
	// again measures the scenario anew. A run over the bound is measured
	// once more, and only two runs over it count: on this 2-core machine,
	// under a whole `go test ./...`, one run in many peaked at 87 MiB
	// where it takes 30-36 MiB alone, which is the machine, not pgmig.
	// Both figures are reported.
	again func() memRun
}

func (mc memCase) bound() int64 { return 2*mc.source + 64*mib }

// TestStressPeakMemory measures pgmig's peak RSS at the limits:
//   - `validate` of a 0.5 MB .tar.gz served over HTTPS that unpacks to
//     248 MiB of "SELECT 1;" lines in four files, inside the default limits
//     (64 MiB download, 256 MiB unpacked): the largest source is 256 MiB;
//   - `up` of an archive as large, four migrations of one statement each
//     whose string literal is 62 MiB;
//   - `validate` of a local file holding a 250 MiB comment;
//   - `up` of a local file of "SELECT 1;" statements, in one transaction:
//     PGMIG_STRESS_MEM_UP_STATEMENTS of them, default 520,000 (5.2 MB,
//     about 15s); issue 16's figure is for 5,200,000 (52 MB), which takes
//     minutes. Local files have no size limit, so the target is taken from
//     this source.
//
// PGMIG_STRESS_MEM_SCALE_PCT shrinks the two validate sources (default
// 100, percent) for quick local runs.
func TestStressPeakMemory(t *testing.T) {
	// Alone, not in parallel: the figures are the point, and the runs
	// need a few GB between them.
	pct := envCount(t, "PGMIG_STRESS_MEM_SCALE_PCT", 100)
	sized := func(n int) int { return n * pct / 100 }
	start := time.Now()
	var cases []memCase

	// The remote archive, served over TLS that pgmig trusts through
	// SSL_CERT_FILE: four files of 62 chunks of 1,049,600 bytes (205 tar
	// blocks, 104,960 lines), 248 MiB in all.
	names := []string{"001_a.sql", "002_b.sql", "003_c.sql", "004_d.sql"}
	chunk := lines("SELECT 1;\n", 512*205*10)
	archive := bigTarGz(t, names, "", chunk, sized(62), "")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(archive) }))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	trust := []string{"SSL_CERT_FILE=" + ca, "SSL_CERT_DIR=" + t.TempDir()}
	t.Logf("archive: %d bytes, unpacking to %.1f MiB in %d files", len(archive), float64(len(names)*sized(62)*len(chunk))/mib, len(names))
	remote := func() memRun {
		return runMeasured(t, trust, 3*time.Minute, "--no-color", "--source", srv.URL+"/m.tar.gz", "validate")
	}
	cases = append(cases, memCase{name: "remote-validate", source: 256 * mib, want: 0, run: remote(), again: remote})

	// `up` of an archive as large: four migrations, each one statement
	// whose 62 MiB string literal the server receives whole, so that the
	// sending path, not only the reading, is measured at the limits.
	literal := bigTarGz(t, names, "SELECT length('", lines("xxxxxxxxx\n", 512*205*10), sized(62), "');\n")
	litSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(literal) }))
	t.Cleanup(litSrv.Close)
	remoteUp := func() memRun {
		return runMeasured(t, trust, 3*time.Minute, "--no-color", "--database-url", pgtest.NewDB(t), "--source", litSrv.URL+"/m.tar.gz", "up")
	}
	cases = append(cases, memCase{name: "remote-up", source: 256 * mib, want: 0, run: remoteUp(), again: remoteUp})

	// A 250 MiB comment.
	comments := t.TempDir()
	size := writeBig(t, filepath.Join(comments, "001_comment.sql"), "-- pgmig:up\nSELECT 1;\n", lines("-- a comment line of no statement\n", mib), sized(250))
	comment := func() memRun {
		return runMeasured(t, nil, 3*time.Minute, "--no-color", "--source", comments, "validate")
	}
	cases = append(cases, memCase{name: "comment-validate", source: size, want: 0, run: comment(), again: comment})

	// SELECT 1 statements, applied in one transaction.
	stmts := t.TempDir()
	n := envCount(t, "PGMIG_STRESS_MEM_UP_STATEMENTS", 520_000)
	size = writeBig(t, filepath.Join(stmts, "001_many.sql"), "", lines("SELECT 1;\n", 10_000), n/1000)
	up := func() memRun {
		return runMeasured(t, nil, 5*time.Minute, "--no-color", "--database-url", pgtest.NewDB(t), "--source", stmts, "up")
	}
	cases = append(cases, memCase{name: "local-up", source: size, want: 0, run: up(), again: up})

	over := 0
	var figures []string
	for _, mc := range cases {
		r := mc.run
		if r.res.code != mc.want {
			t.Errorf("%s: want exit %d, got\n%s", mc.name, mc.want, r.res)
		}
		ratio := float64(r.maxRSS) / float64(mc.source)
		fig := fmt.Sprintf("%s %.0f MiB peak for %.1f MiB (%.1fx, target %.0f MiB, %s)",
			mc.name, float64(r.maxRSS)/mib, float64(mc.source)/mib, ratio, float64(mc.bound())/mib, r.res.dur.Round(100*time.Millisecond))
		if r.maxRSS > mc.bound() {
			r2 := mc.again()
			if r2.res.code != mc.want {
				t.Errorf("%s, measured again: want exit %d, got\n%s", mc.name, mc.want, r2.res)
			}
			fig += fmt.Sprintf(", over the target, then %.0f MiB measured again", float64(r2.maxRSS)/mib)
			if r2.maxRSS > mc.bound() {
				over++
			}
		}
		figures = append(figures, fig)
	}
	t.Logf("peak RSS: %s", strings.Join(figures, "; "))
	failures, asserted := 0, "asserted"
	if os.Getenv("PGMIG_STRESS_MEM_ASSERT") != "0" {
		failures = over
	} else {
		asserted = "measured only (PGMIG_STRESS_MEM_ASSERT=0)"
	}
	summary(t, "peak-memory", len(cases), failures, 0,
		fmt.Sprintf("%s; %d over the 2x+64MB target; %s; %s", asserted, over, strings.Join(figures, "; "), time.Since(start).Round(time.Millisecond)))
}
