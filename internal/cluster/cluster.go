// Package cluster starts throwaway PostgreSQL servers for the tests that
// need more than the one local server: a primary with a streaming standby
// to fail over to, a server of their own to fill with hundreds of
// databases and throw away whole, or one to restart and crash under a
// running pgmig (internal/stress).
//
// Servers come from ../shared/pg/pg-start (the npm registry's PostgreSQL
// builds, cached under PG_MATRIX_DIR, default /var/tmp/pg-matrix); PG_SCRIPTS
// names another directory holding pg-start and pg-stop. A standby is made
// with pg_basebackup -R, found next to the server's binaries, under
// /usr/lib/postgresql/MAJOR/bin (Debian's postgresql package) or on PATH,
// or named by PG_BASEBACKUP. When one is missing the test fails saying
// what to install: never a skip.
package cluster

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
)

// Server is a throwaway PostgreSQL server on 127.0.0.1.
type Server struct {
	t     testing.TB
	Major int
	Port  int
	Data  string // data directory
	URL   string // admin URL, database postgres
	bin   string // directory of pg_ctl and postgres
	root  string
}

// Start starts a server of major version major on port with pg-start,
// stopped and deleted with pg-stop when the test ends. A file lock keeps
// two test processes from sharing the port.
func Start(t testing.TB, major, port int) *Server {
	t.Helper()
	return StartIn(t, matrixDir(), major, port)
}

func matrixDir() string {
	if root := os.Getenv("PG_MATRIX_DIR"); root != "" {
		return root
	}
	return "/var/tmp/pg-matrix"
}

// MemoryDir returns a directory on /dev/shm to start servers in with
// StartIn, sharing the binaries cached in the usual place, when /dev/shm
// has need bytes free; else the usual place. A server holding hundreds of
// databases is deleted in a second there, where a disk mounted with
// discard takes minutes to unlink its files.
func MemoryDir(t testing.TB, need uint64) string {
	t.Helper()
	root := matrixDir()
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Bavail*uint64(st.Bsize) < need {
		return root
	}
	mem := "/dev/shm/pgmig-cluster"
	if err := os.MkdirAll(filepath.Join(mem, "data"), 0o755); err != nil {
		return root
	}
	os.Chmod(mem, 0o755)
	os.Chmod(filepath.Join(mem, "data"), 0o755)
	pkg := filepath.Join(mem, "pkg")
	if _, err := os.Lstat(pkg); err != nil {
		if err := os.MkdirAll(filepath.Join(root, "pkg"), 0o755); err != nil {
			return root
		}
		if err := os.Symlink(filepath.Join(root, "pkg"), pkg); err != nil && !os.IsExist(err) {
			return root
		}
	}
	return mem
}

// StartIn is Start with the servers' directory root (PG_MATRIX_DIR for
// pg-start and pg-stop) given.
func StartIn(t testing.TB, root string, major, port int) *Server {
	t.Helper()
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	flock(t, filepath.Join(root, fmt.Sprintf("cluster-%d.lock", port)))
	s := &Server{t: t, Major: major, Port: port, root: root, Data: dataDir(root, major, port)}
	// A server left by a killed test would hold the port: start afresh.
	s.script("pg-stop")
	out := s.script("pg-start")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	s.URL = lines[len(lines)-1]
	t.Cleanup(func() { s.script("pg-stop") })
	ctls, _ := filepath.Glob(filepath.Join(root, "pkg", fmt.Sprintf("%d.*", major), "native", "bin", "pg_ctl"))
	if len(ctls) == 0 {
		t.Fatalf("no pg_ctl for PostgreSQL %d under %s", major, root)
	}
	sort.Strings(ctls)
	s.bin = filepath.Dir(ctls[0])
	return s
}

func dataDir(root string, major, port int) string {
	return filepath.Join(root, "data", fmt.Sprintf("%d-%d", major, port))
}

func flock(t testing.TB, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
}

// Standby makes a streaming standby of s on port with pg_basebackup -R and
// starts it. It is stopped and deleted when the test ends.
func (s *Server) Standby(port int) *Server {
	t := s.t
	t.Helper()
	flock(t, filepath.Join(s.root, fmt.Sprintf("cluster-%d.lock", port)))
	sb := &Server{t: t, Major: s.Major, Port: port, root: s.root, bin: s.bin, Data: dataDir(s.root, s.Major, port)}
	sb.script("pg-stop") // pg-stop deletes the data directory too
	t.Cleanup(func() { sb.script("pg-stop") })
	if err := os.MkdirAll(sb.Data, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres", sb.Data).CombinedOutput(); err != nil {
			t.Fatalf("chown %s: %v\n%s", sb.Data, err, out)
		}
	}
	s.run(basebackup(t, s), "-D", sb.Data, "-R", "-X", "stream", "-c", "fast",
		"-d", fmt.Sprintf("host=127.0.0.1 port=%d user=postgres application_name=standby_%d", s.Port, port))
	sb.ctl("-w", "-t", "60", "-l", filepath.Join(sb.Data, "server.log"), "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, sb.Data),
		"start")
	sb.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	return sb
}

// basebackup finds a pg_basebackup of s's major version.
func basebackup(t testing.TB, s *Server) string {
	t.Helper()
	if p := os.Getenv("PG_BASEBACKUP"); p != "" {
		return p
	}
	for _, p := range []string{filepath.Join(s.bin, "pg_basebackup"), fmt.Sprintf("/usr/lib/postgresql/%d/bin/pg_basebackup", s.Major)} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("pg_basebackup"); err == nil {
		out, _ := exec.Command(p, "--version").Output()
		if f := strings.Fields(string(out)); len(f) > 0 && strings.HasPrefix(f[len(f)-1], strconv.Itoa(s.Major)+".") {
			return p
		}
	}
	t.Fatalf("no pg_basebackup for PostgreSQL %d: the npm builds have none; install postgresql-client-%d (apt-get install postgresql-client-%d) or set PG_BASEBACKUP", s.Major, s.Major, s.Major)
	return ""
}

// run runs a PostgreSQL program, as the postgres user when root.
func (s *Server) run(prog string, args ...string) string {
	s.t.Helper()
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", prog}, args...)...)
	} else {
		cmd = exec.Command(prog, args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s", filepath.Base(prog), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (s *Server) ctl(args ...string) {
	s.t.Helper()
	s.run(filepath.Join(s.bin, "pg_ctl"), append([]string{"-D", s.Data}, args...)...)
}

// script runs pg-start or pg-stop for the server's major and port.
func (s *Server) script(name string) string {
	s.t.Helper()
	dir := os.Getenv("PG_SCRIPTS")
	if dir == "" {
		// The tests run in internal/cluster; the scripts sit beside the repository.
		dir = "../../../shared/pg"
	}
	cmd := exec.Command(filepath.Join(dir, name), strconv.Itoa(s.Major), strconv.Itoa(s.Port))
	cmd.Env = append(os.Environ(), "PG_MATRIX_DIR="+s.root)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s %d %d: %v\n%s", name, s.Major, s.Port, err, out)
	}
	return string(out)
}

// Restart restarts the server with -m fast: sessions are terminated, their
// transactions rolled back. pg_ctl restart reuses the options the server
// was started with; the log file keeps the server from inheriting (and
// holding open) the test's output.
func (s *Server) Restart() {
	s.ctl("-m", "fast", "-w", "-t", "60", "-l", filepath.Join(s.Data, "server.log"), "restart")
}

// Stop stops the server with -m fast, to be started again with Resume.
func (s *Server) Stop() { s.ctl("-m", "fast", "-w", "stop") }

// Resume starts a server Start made, after Stop or Crash, with pg-start,
// which reuses the data directory (crash recovery after a Crash).
func (s *Server) Resume() { s.script("pg-start") }

// Crash stops the server with -m immediate: no shutdown checkpoint, no
// goodbye to its clients, and, for a primary, nothing more sent to its
// standbys: as a machine that dies.
func (s *Server) Crash() { s.ctl("-m", "immediate", "-w", "stop") }

// Promote makes a standby the primary and waits until it is.
func (s *Server) Promote() { s.ctl("-w", "-t", "60", "promote") }

// Detach stops a standby's replication: what its primary commits from now
// on never reaches it, as with a standby lagging when its primary dies.
func (s *Server) Detach(ctx context.Context) {
	s.t.Helper()
	c := s.Conn(ctx, "postgres")
	defer c.Close(context.Background())
	for _, q := range []string{"ALTER SYSTEM SET primary_conninfo = ''", "SELECT pg_reload_conf()"} {
		if _, err := c.Exec(ctx, q); err != nil {
			s.t.Fatalf("detach standby: %s: %v", q, err)
		}
	}
	s.EventuallyTrue(ctx, "postgres", "the standby's WAL receiver stops", "SELECT count(*) = 0 FROM pg_stat_wal_receiver")
}

// Conn connects to database db on this server alone.
func (s *Server) Conn(ctx context.Context, db string) *pgx.Conn {
	s.t.Helper()
	c, err := pgx.Connect(ctx, s.DSN(db))
	if err != nil {
		s.t.Fatalf("connect to %s on port %d: %v", db, s.Port, err)
	}
	return c
}

// DSN is the connection string of database db on this server alone.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable", s.Port, db)
}

// EventuallyIn polls cond on database db every 20ms until it holds,
// failing the test, saying what it waited for, when ctx ends first.
func (s *Server) EventuallyIn(ctx context.Context, db, what string, cond func(*pgx.Conn) (bool, error)) {
	s.t.Helper()
	c := s.Conn(ctx, db)
	defer c.Close(context.Background())
	var last error
	for {
		ok, err := cond(c)
		if ok && err == nil {
			return
		}
		last = err
		select {
		case <-ctx.Done():
			s.t.Fatalf("port %d: waiting until %s: %v (last error: %v)", s.Port, what, ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// EventuallyTrue is EventuallyIn for a condition that is one boolean
// query, sql, on database db.
func (s *Server) EventuallyTrue(ctx context.Context, db, what, sql string) {
	s.t.Helper()
	s.EventuallyIn(ctx, db, what, func(c *pgx.Conn) (ok bool, err error) {
		err = c.QueryRow(ctx, sql).Scan(&ok)
		return ok, err
	})
}
