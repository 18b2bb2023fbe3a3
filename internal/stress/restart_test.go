//go:build unix

package stress

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/pgtest"
)

// server is a throwaway PostgreSQL started by ../shared/pg/pg-start on a
// port of its own, so that the test may restart it.
type server struct {
	t       testing.TB
	scripts string // directory holding pg-start and pg-stop
	major   int
	port    int
	data    string
	pgCtl   string
	url     string // admin URL
}

// startServer starts the server this test restarts: major
// PGMIG_STRESS_PG_MAJOR (default 16) on port PGMIG_STRESS_PG_PORT (default
// 25100+major: below Linux's ephemeral range, where a client connection of
// some other test could hold the port as its source address). A file lock serialises test
// processes that would share it; pg-stop deletes it at the end.
func startServer(t testing.TB) *server {
	t.Helper()
	major, port := 16, 0
	if s := os.Getenv("PGMIG_STRESS_PG_MAJOR"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("PGMIG_STRESS_PG_MAJOR=%q: %v", s, err)
		}
		major = n
	}
	port = 25100 + major
	if s := os.Getenv("PGMIG_STRESS_PG_PORT"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("PGMIG_STRESS_PG_PORT=%q: %v", s, err)
		}
		port = n
	}
	return startServerAt(t, major, port)
}

// startServerAt starts PostgreSQL major on port, as startServer does.
func startServerAt(t testing.TB, major, port int) *server {
	t.Helper()
	scripts := os.Getenv("PG_SCRIPTS")
	if scripts == "" {
		// The test runs in internal/stress; the scripts sit beside the repository.
		scripts = "../../../shared/pg"
	}
	scripts, err := filepath.Abs(scripts)
	if err != nil {
		t.Fatal(err)
	}
	root := os.Getenv("PG_MATRIX_DIR")
	if root == "" {
		root = "/var/tmp/pg-matrix"
	}
	s := &server{t: t, scripts: scripts, major: major, port: port, data: filepath.Join(root, "data", fmt.Sprintf("%d-%d", major, port))}

	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	lf, err := os.OpenFile(filepath.Join(root, fmt.Sprintf("stress-%d.lock", port)), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
		lf.Close()
	})

	out := s.script("pg-start")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	s.url = lines[len(lines)-1]
	t.Cleanup(func() { s.script("pg-stop") })
	ctls, _ := filepath.Glob(filepath.Join(root, "pkg", fmt.Sprintf("%d.*", major), "native", "bin", "pg_ctl"))
	if len(ctls) == 0 {
		t.Fatalf("no pg_ctl for PostgreSQL %d under %s", major, root)
	}
	sort.Strings(ctls)
	s.pgCtl = ctls[0]
	return s
}

// script runs pg-start or pg-stop for the server and returns its output.
func (s *server) script(name string) string {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(s.scripts, name), strconv.Itoa(s.major), strconv.Itoa(s.port))
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s %d %d: %v\n%s", name, s.major, s.port, err, out)
	}
	return string(out)
}

// ctl runs pg_ctl on the server's data directory, as postgres when root.
func (s *server) ctl(args ...string) {
	s.t.Helper()
	full := append([]string{"-D", s.data}, args...)
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", s.pgCtl}, full...)...)
	} else {
		cmd = exec.Command(s.pgCtl, full...)
	}
	// The log file keeps the server from inheriting (and holding open) our output.
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("pg_ctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// restartFast restarts the server with -m fast: sessions are terminated,
// their transactions rolled back. pg_ctl restart reuses the options the
// server was started with.
func (s *server) restartFast() {
	s.ctl("-m", "fast", "-w", "-t", "60", "-l", filepath.Join(s.data, "server.log"), "restart")
}

// crash stops the server with -m immediate (no shutdown checkpoint, crash
// recovery at the next start) and starts it again with pg-start, which
// reuses the data directory.
func (s *server) crash() {
	s.ctl("-m", "immediate", "-w", "stop")
	s.script("pg-start")
}

// database creates a fresh database with the stress fixture and returns
// its URL.
func (s *server) database(name string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, s.url)
	if err != nil {
		s.t.Fatal(err)
	}
	defer admin.Close(ctx)
	id := pgx.Identifier{name}.Sanitize()
	for _, q := range []string{"DROP DATABASE IF EXISTS " + id + " WITH (FORCE)", "CREATE DATABASE " + id} {
		if _, err := admin.Exec(ctx, q); err != nil {
			s.t.Fatalf("%s: %v", q, err)
		}
	}
	url := pgtest.WithDatabase(s.url, name)
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		s.t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, q := range setupSQL {
		if _, err := c.Exec(ctx, q); err != nil {
			s.t.Fatalf("setup %q: %v", q, err)
		}
	}
	return url
}

// historyCount counts success rows, 0 while the table does not exist.
func historyCount(c *pgx.Conn) (int, error) {
	var reg *string
	if err := c.QueryRow(context.Background(), "SELECT to_regclass('public.pgmig_migrations')::text").Scan(&reg); err != nil || reg == nil {
		return 0, err
	}
	return queryInt(c, "SELECT count(*) FROM public.pgmig_migrations WHERE success")
}

// TestStressServerRestart restarts the server under a running `pgmig up`:
// with -m fast (sessions terminated), with -m immediate (a crash and
// recovery), and with the server down when pgmig starts (pgmig must retry
// the connection and finish). pgmig exits 0 or fails cleanly with exit 1;
// the invariant holds; the next `up` finishes.
func TestStressServerRestart(t *testing.T) {
	t.Parallel()
	restartTrials(t, startServer(t), "server-restart", 3*scale(t))
}

// restartTrials runs trials of TestStressServerRestart's three modes, in
// turn, on srv and logs the summary line under name.
func restartTrials(t *testing.T, srv *server, name string, trials int) {
	rng, seed := newRand(t)
	t.Logf("PostgreSQL %d at %s (data %s)", srv.major, srv.url, srv.data)
	ms := make([]mig, 12)
	for i := range ms {
		ms[i] = mig{V: i + 1, NoTx: (i+1)%4 == 0, Sleep: 100 * time.Millisecond}
	}
	tg := &target{t: t, url: srv.database("pgmig_stress"), src: writeSet(t, ms), ms: ms}
	modes := []string{"restart -m fast", "stop -m immediate, start", "down when pgmig starts"}
	failures := 0
	start := time.Now()
	for i := 0; i < trials; i++ {
		mode := modes[i%len(modes)]
		var problems []string
		if i > 0 {
			tg.mustRun(0, "rollback", "--all")
		}
		var p *proc
		switch i % len(modes) {
		case 0, 1:
			c := connect(t, tg.url)
			p = tg.start("up", "--connect-timeout", "60s")
			k := 1 + rng.IntN(6)
			err := poll(30*time.Second, func() (bool, error) {
				n, err := historyCount(c)
				return n >= k, err
			})
			if err != nil {
				t.Fatalf("trial %d: %d migrations never got applied: %v\n%s", i, k, err, p.wait(t, time.Minute))
			}
			c.Close(context.Background())
			if i%len(modes) == 0 {
				srv.restartFast()
			} else {
				srv.crash()
			}
			r := p.wait(t, 90*time.Second)
			if r.code != 0 && (r.code != 1 || !strings.Contains(r.stderr, "error:") || strings.Contains(r.stderr, "panic:")) {
				problems = append(problems, fmt.Sprintf("want exit 0, or exit 1 with an error message, got\n%s", r))
			}
			t.Logf("trial %d (%s after %d applied): exit %d: %s", i, mode, k, r.code, firstLine(r.stderr))
		case 2:
			srv.ctl("-m", "fast", "-w", "stop")
			p = tg.start("up", "--connect-timeout", "60s")
			// pgmig is running before the server starts: it must retry
			// until the server accepts connections.
			down := time.Now()
			srv.script("pg-start")
			up := time.Since(down)
			r := p.wait(t, 90*time.Second)
			if r.code != 0 {
				problems = append(problems, fmt.Sprintf("pgmig must wait for the server to come up and finish; got\n%s", r))
			}
			t.Logf("trial %d (%s): the server took %s to start; pgmig exit %d after %s", i, mode, up.Round(time.Millisecond), r.code, r.dur.Round(time.Millisecond))
		}
		c := connect(t, tg.url)
		waitLockFree(t, c)
		waitBackendsGone(t, c)
		st, ps := check(c, ms)
		problems = append(problems, ps...)
		problems = append(problems, tg.recover(c, st.dirty)...)
		c.Close(context.Background())
		if len(problems) > 0 {
			failures++
			t.Errorf("trial %d (%s; applied %v, failed rows %v):\n%s", i, mode, st.applied, st.dirty, strings.Join(problems, "\n"))
		}
	}
	summary(t, name, trials, failures, seed, time.Since(start).Round(time.Millisecond).String())
}
