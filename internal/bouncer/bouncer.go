// Package bouncer starts a PgBouncer of a test's own in front of the test
// server (see pgtest), on a free loopback port with its configuration in a
// temporary directory, and stops it when the test ends. A PgBouncer a
// package manager may have started as a service is never used.
//
//	b := bouncer.Start(t, bouncer.Options{}) // pool_mode=transaction
//	url := b.URL(pgtest.NewDB(t))             // the same database, through PgBouncer
//
// When pgbouncer is not installed the test fails, saying how to install
// it: never a silent skip.
package bouncer

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/internal/connstr"
	"github.com/pgmig/pgmig/internal/pgtest"
)

// Options tunes Start. The zero value works.
type Options struct {
	// PoolMode is PgBouncer's pool_mode. Empty means "transaction".
	PoolMode string
	// PoolSize is default_pool_size: server connections per database and
	// user. Zero means 5, so that clients share server connections.
	PoolSize int
}

// Bouncer is a running PgBouncer.
type Bouncer struct {
	Port    int
	Version string // e.g. "PgBouncer 1.18.0"
	cmd     *exec.Cmd
	dir     string
	logFile string
}

// Path finds the pgbouncer binary: on PATH, else where Debian puts it.
func Path() (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer", "/usr/local/bin/pgbouncer"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("pgbouncer is not installed; the PgBouncer tests need it: apt-get install -y pgbouncer on Debian (.ci/run does so), brew install pgbouncer on macOS")
}

// Start starts a PgBouncer forwarding every database to the test server,
// with trust authentication for the test server's user. It stops in
// t.Cleanup.
func Start(t testing.TB, opts Options) *Bouncer {
	t.Helper()
	bin, err := Path()
	if err != nil {
		t.Fatal(err)
	}
	if opts.PoolMode == "" {
		opts.PoolMode = "transaction"
	}
	if opts.PoolSize == 0 {
		opts.PoolSize = 5
	}
	server, err := pgconn.ParseConfig(pgtest.AdminURL())
	if err != nil {
		t.Fatalf("bouncer: parse test server URL: %v", err)
	}
	// pgbouncer switches to an unprivileged user when started as root;
	// that user must read the configuration.
	dir, err := os.MkdirTemp("", "pgmig-bouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var args []string
	if os.Geteuid() == 0 {
		name := "nobody"
		if _, err := user.Lookup("postgres"); err == nil {
			name = "postgres"
		}
		args = append(args, "-u", name)
	}

	out, _ := exec.Command(bin, "--version").Output()
	version, _, _ := strings.Cut(string(out), "\n")

	// A port found free may be taken before pgbouncer binds it: try again.
	var lastLog string
	for attempt := 0; attempt < 3; attempt++ {
		b := &Bouncer{Port: freePort(t), Version: version, dir: dir, logFile: filepath.Join(dir, fmt.Sprintf("pgbouncer-%d.log", attempt))}
		ini := filepath.Join(dir, "pgbouncer.ini")
		write(t, filepath.Join(dir, "userlist.txt"), fmt.Sprintf("%q \"\"\n", server.User))
		db := fmt.Sprintf("host=%s port=%d", server.Host, server.Port)
		if server.Password != "" {
			db += fmt.Sprintf(" user=%s password=%s", server.User, server.Password)
		}
		write(t, ini, strings.Join([]string{
			"[databases]",
			"* = " + db,
			"[pgbouncer]",
			"listen_addr = 127.0.0.1",
			"listen_port = " + strconv.Itoa(b.Port),
			"unix_socket_dir =",
			"auth_type = trust",
			"auth_file = " + filepath.Join(dir, "userlist.txt"),
			"pool_mode = " + opts.PoolMode,
			"max_client_conn = 200",
			"default_pool_size = " + strconv.Itoa(opts.PoolSize),
			"ignore_startup_parameters = extra_float_digits",
			"server_login_retry = 1",
			"",
		}, "\n"))
		logf, err := os.Create(b.logFile)
		if err != nil {
			t.Fatal(err)
		}
		b.cmd = exec.Command(bin, append(args, ini)...)
		b.cmd.Stdout, b.cmd.Stderr = logf, logf
		if err := b.cmd.Start(); err != nil {
			logf.Close()
			t.Fatalf("bouncer: start %s: %v", bin, err)
		}
		logf.Close()
		exited := make(chan struct{})
		go func() { b.cmd.Wait(); close(exited) }()
		if b.waitReady(exited) {
			t.Cleanup(func() { b.stop(exited) })
			t.Logf("bouncer: %s on 127.0.0.1:%d, pool_mode=%s, default_pool_size=%d", version, b.Port, opts.PoolMode, opts.PoolSize)
			return b
		}
		b.stop(exited)
		lastLog = b.Log()
	}
	t.Fatalf("bouncer: pgbouncer did not start; its log:\n%s", lastLog)
	return nil
}

// URL returns connString (a URL, as pgtest.NewDB returns) pointing at the
// same database through this PgBouncer.
func (b *Bouncer) URL(connString string) string {
	s, err := connstr.With(connString, map[string]string{"host": "127.0.0.1", "port": strconv.Itoa(b.Port), "sslmode": "disable"})
	if err != nil {
		panic(fmt.Sprintf("bouncer: bad URL: %v", err))
	}
	return s
}

// Log returns what pgbouncer wrote so far.
func (b *Bouncer) Log() string {
	data, _ := os.ReadFile(b.logFile)
	return string(data)
}

func (b *Bouncer) waitReady(exited chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port)), time.Second); err == nil {
			c.Close()
			// The port answers; make sure it is ours and not one another
			// process took: our pgbouncer says so in its log.
			if bytes.Contains([]byte(b.Log()), []byte("listening on 127.0.0.1:"+strconv.Itoa(b.Port))) {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func (b *Bouncer) stop(exited chan struct{}) {
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-exited
	}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
