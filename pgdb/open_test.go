package pgdb_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/pgdb"
)

func openTest(t *testing.T, connString string, cfg pgdb.Config) *pgdb.DB {
	t.Helper()
	db, err := pgdb.Open(t.Context(), connString, cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		want   string // empty: only check that secret is gone
		secret string
	}{
		{"url", "postgres://bob:s3cret@db:5432/app?sslmode=disable", "postgres://bob:xxxxx@db:5432/app?sslmode=disable", "s3cret"},
		{"url postgresql scheme", "postgresql://bob:s3cret@db/app", "postgresql://bob:xxxxx@db/app", "s3cret"},
		{"url no password", "postgres://bob@db/app", "postgres://bob@db/app", ""},
		{"url escaped password", "postgres://bob:p%40ss%2Fw@db/app", "postgres://bob:xxxxx@db/app", "p%40ss"},
		{"url password query", "postgres://db/app?user=bob&password=s3cret", "", "s3cret"},
		{"url broken by bare @", "postgres://bob:p@ss@db/app", "postgres://bob:xxxxx@db/app", "p@ss"},
		{"url broken by bare # and /", "postgres://bob:a#b/c@db/app", "postgres://bob:xxxxx@db/app", "a#b/c"},
		{"keyword value", "host=db user=bob password=s3cret dbname=app", "host=db user=bob password=xxxxx dbname=app", "s3cret"},
		{"keyword value quoted", "host=db password='s3 cret' dbname=app", "host=db password=xxxxx dbname=app", "s3 cret"},
		{"keyword value escaped quote", `password='it\'s secret' host=db`, "password=xxxxx host=db", "secret"},
		{"keyword value spaces around =", "host=db password = s3cret user=bob", "host=db password = xxxxx user=bob", "s3cret"},
		{"keyword value password last", "host=db password=s3cret", "host=db password=xxxxx", "s3cret"},
		{"keyword value unterminated quote", "host=db password='s3cret", "host=db password=xxxxx", "s3cret"},
		{"keyword value no password", "host=db user=bob", "host=db user=bob", ""},
		{"empty", "", "", ""},
		{"other scheme", "mysql://u:hunter2@h/db", "mysql://u:xxxxx@h/db", "hunter2"},
		{"upper-case scheme", "Postgres://u:hunter2@h/db", "Postgres://u:xxxxx@h/db", "hunter2"},
		{"scheme missing its colon", "postgres//u:hunter2@h/db", "postgres//u:xxxxx@h/db", "hunter2"},
		{"no scheme", "u:hunter2@host/db", "u:xxxxx@host/db", "hunter2"},
		{"bare @ and / in password", "postgres://app:S3cr@t/kEy9@db/shop", "postgres://app:xxxxx@db/shop", "kEy9"},
		{"one-letter password leaves other letters alone", "postgres://a:b@h/db", "postgres://a:xxxxx@h/db", ""},
		{"host left out", "postgres://u:hunter2", "postgres://u:xxxxx", "hunter2"},
		{"sslpassword", "host=h sslpassword=s3cret user=u", "host=h sslpassword=xxxxx user=u", "s3cret"},
		{"bare word after password", "host=h password=ab cd user=u", "host=h password=xxxxx", "cd"},
		{"bare word before password", "junk password=s3cret", "junk password=xxxxx", "s3cret"},
		{"URL as a value", "x=postgres://u:s3cret@h", "x=postgres://u:xxxxx@h", "s3cret"},
		{"query password holding @", "postgres://h/db?password=se@cret&sslmode=disable", "postgres://h/db?password=xxxxx", "cret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := pgdb.Redact(tc.in)
			if tc.want != "" || tc.in == "" {
				if got != tc.want {
					t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
				}
			}
			if tc.secret != "" && strings.Contains(got, tc.secret) {
				t.Errorf("Redact(%q) = %q still shows %q", tc.in, got, tc.secret)
			}
		})
	}
}

// TestOpenRefusesWithoutShowingPassword covers the strings users really
// pass by mistake: each is refused before any connection is tried (pgx would
// read some of them as one odd keyword and connect to the default server),
// and no way of printing the error shows the password.
func TestOpenRefusesWithoutShowingPassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, secret, reason string }{
		{"mysql://u:hunter2@h/db", "hunter2", `unsupported scheme "mysql"`},
		{"mysql2://app:s3cretpw@db/app", "s3cretpw", `unsupported scheme "mysql2"`},
		{"Postgres://u:hunter2@h/db?application_name=x", "hunter2", "must be lower case"},
		{"postgres//u:hunter2@h/db", "hunter2", "neither a URL"},
		{"u:hunter2@host/db", "hunter2", "neither a URL"},
		{"postgres://app:S3cr@t/kEy9@db/shop", "S3cr@t/kEy9", "percent-encoded"},
		{"host=h password=hunter2 junk", "hunter2", "keyword/value"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := pgdb.Open(t.Context(), tc.in, pgdb.Config{ConnectTimeout: time.Second})
			var cse *pgdb.ConnStringError
			if !errors.As(err, &cse) {
				t.Fatalf("Open(%q) = %v, want a *ConnStringError", tc.in, err)
			}
			if !strings.Contains(cse.Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", cse.Reason, tc.reason)
			}
			for _, form := range []string{fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), fmt.Sprintf("%s", err)} {
				for _, part := range []string{tc.secret, tc.secret[:3], tc.secret[len(tc.secret)-3:]} {
					if strings.Contains(form, part) {
						t.Errorf("error shows %q of the password: %s", part, form)
					}
				}
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return fmt.Errorf("connect: %w", &pgconn.PgError{Code: code}) }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"starting up", pg("57P03"), true},
		{"too many connections", pg("53300"), true},
		{"admin shutdown", pg("57P01"), true},
		{"connection failure", pg("08006"), true},
		{"protocol violation", pg("08P01"), false},
		{"bad password", pg("28P01"), false},
		{"bad authorization", pg("28000"), false},
		{"unknown database", pg("3D000"), false},
		{"syntax error", pg("42601"), false},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"host unreachable", fmt.Errorf("x: %w", syscall.EHOSTUNREACH), true},
		{"eof while starting", fmt.Errorf("x: %w", io.ErrUnexpectedEOF), true},
		{"unknown host", &net.DNSError{Err: "no such host", Name: "nope", IsNotFound: true}, false},
		{"dns timeout", &net.DNSError{Err: "timeout", Name: "db", IsTimeout: true}, true},
		{"parse", &pgconn.ParseConfigError{ConnString: "x"}, false},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), false},
		{"other", errors.New("boom"), false},
		{"a standby, read-write wanted", fmt.Errorf("x: %w", pgconn.ErrReadOnlyConnection), true},
		{"a standby, primary wanted", fmt.Errorf("x: %w", pgconn.ErrStandbyConnection), true},
		{"two hosts: one down, one a standby", fmt.Errorf("connect: %w", errors.Join(
			&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, fmt.Errorf("validate: %w", pgconn.ErrReadOnlyConnection))), true},
		{"two hosts: one down, one refusing the password", errors.Join(
			&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, pg("28P01")), false},
		{"two hosts: one misspelt, one starting up", errors.Join(
			&net.DNSError{Err: "no such host", Name: "nope", IsNotFound: true}, pg("57P03")), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pgdb.Retryable(tc.err); got != tc.want {
				t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestOpenDefaults(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	db := openTest(t, url, pgdb.Config{ApplicationName: "pgmig-test"})
	cfg := db.Pool().Config()
	if cfg.MinConns != 2 || cfg.MaxConns != 10 {
		t.Errorf("min, max conns = %d, %d; want 2, 10", cfg.MinConns, cfg.MaxConns)
	}
	var name string
	if err := db.Pool().QueryRow(t.Context(), "SHOW application_name").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "pgmig-test" {
		t.Errorf("application_name = %q, want pgmig-test", name)
	}

	// The connection string wins over the config.
	db2 := openTest(t, url+"&application_name=mine", pgdb.Config{ApplicationName: "pgmig-test", MinConns: 1, MaxConns: 3})
	if err := db2.Pool().QueryRow(t.Context(), "SHOW application_name").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "mine" {
		t.Errorf("application_name = %q, want mine", name)
	}
	if c := db2.Pool().Config(); c.MinConns != 1 || c.MaxConns != 3 {
		t.Errorf("min, max conns = %d, %d; want 1, 3", c.MinConns, c.MaxConns)
	}
}

// TestOpenFailsAtOnce covers the errors that retrying cannot cure: Open
// must return long before the connect timeout, without the password.
func TestOpenFailsAtOnce(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	tests := []struct {
		name     string
		conn     string
		sqlState string
	}{
		{"unknown role", pgtest.WithDatabase("postgres://no_such_role_pgdb:hunter2secret@127.0.0.1:5432/x?sslmode=disable", "postgres"), "28000"},
		{"unknown database", strings.Replace(pgtest.WithDatabase(url, "no_such_db_pgdb"), "postgres@", "postgres:hunter2secret@", 1), "3D000"},
		{"malformed url", "postgres://bob:hunter2secret@127.0.0.1:notaport/db", ""},
		{"malformed keyword value", "host=127.0.0.1 password='hunter2secret port=5432 sslmode=bogus", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			db, err := pgdb.Open(t.Context(), tc.conn, pgdb.Config{ConnectTimeout: 20 * time.Second})
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Open took %s: it retried", d)
			}
			if strings.Contains(err.Error(), "hunter2secret") {
				t.Errorf("error shows the password: %v", err)
			}
			if tc.sqlState != "" {
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) || pgErr.Code != tc.sqlState {
					t.Errorf("error %v: want SQLSTATE %s", err, tc.sqlState)
				}
			}
		})
	}
}

func TestOpenGivesUpOnRefusedAfterTimeout(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	start := time.Now()
	_, err := pgdb.Open(t.Context(), fmt.Sprintf("postgres://u:hunter2secret@127.0.0.1:%d/db", port), pgdb.Config{ConnectTimeout: time.Second})
	if err == nil {
		t.Fatal("Open succeeded with no server")
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Errorf("Open gave up after %s, want about 1s", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %v: want deadline exceeded and connection refused", err)
	}
	if strings.Contains(err.Error(), "hunter2secret") {
		t.Errorf("error shows the password: %v", err)
	}
}

// TestOpenRetriesUntilServerListens starts a proxy to the real server on a
// port that refuses connections when Open begins.
func TestOpenRetriesUntilServerListens(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	port := freePort(t)
	go func() {
		time.Sleep(700 * time.Millisecond)
		proxy(t, port, "127.0.0.1:5432")
	}()
	proxied := strings.Replace(url, "127.0.0.1:5432", fmt.Sprintf("127.0.0.1:%d", port), 1)
	db := openTest(t, proxied, pgdb.Config{ConnectTimeout: 20 * time.Second, MinConns: 1})
	if h := db.Check(t.Context()); !h.Healthy {
		t.Fatalf("not healthy: %+v", h)
	}
}

// TestOpenRetriesTooManyConnections makes the server answer 53300 (a role
// with no connection slot) until the limit is raised.
func TestOpenRetriesTooManyConnections(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	admin := openTest(t, url, pgdb.Config{MinConns: 1, MaxConns: 1})
	role := fmt.Sprintf("pgdb_limited_%d", time.Now().UnixNano())
	exec(t, admin, "CREATE ROLE "+role+" LOGIN CONNECTION LIMIT 0")
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), url)
		if err == nil {
			c.Exec(context.Background(), "DROP ROLE IF EXISTS "+role)
			c.Close(context.Background())
		}
	})
	go func() {
		time.Sleep(700 * time.Millisecond)
		admin.Pool().Exec(context.Background(), "ALTER ROLE "+role+" CONNECTION LIMIT 5")
	}()
	limited := strings.Replace(url, "postgres@", role+"@", 1)
	start := time.Now()
	db := openTest(t, limited, pgdb.Config{ConnectTimeout: 20 * time.Second, MinConns: 1, MaxConns: 2})
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("Open returned after %s: it did not wait for a slot", d)
	}
	db.Close()
}

func TestOpenCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	go func() { time.Sleep(300 * time.Millisecond); cancel() }()
	_, err := pgdb.Open(ctx, fmt.Sprintf("postgres://u@127.0.0.1:%d/db", freePort(t)), pgdb.Config{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v: want context.Canceled", err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	t.Parallel()
	db, err := pgdb.Open(t.Context(), pgtest.NewDB(t), pgdb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(db.Close)
	}
	wg.Wait()
	db.Close()
}

func TestCheck(t *testing.T) {
	t.Parallel()
	db := openTest(t, pgtest.NewDB(t), pgdb.Config{})
	h := pgdb.Check(t.Context(), db.Pool())
	if !h.Healthy || h.Status != "ok" || h.Error != "" {
		t.Fatalf("health = %+v", h)
	}
	if !strings.HasPrefix(h.ServerVersion, "1") || h.ServerVersionNum < 100000 {
		t.Errorf("server version %q (%d)", h.ServerVersion, h.ServerVersionNum)
	}
	if h.Latency <= 0 || h.Pool.MaxConns != 10 || h.Pool.TotalConns < 1 || h.Pool.AcquireCount < 1 {
		t.Errorf("latency %s, pool %+v", h.Latency, h.Pool)
	}

	closed, err := pgdb.Open(t.Context(), pgtest.NewDB(t), pgdb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if h := closed.Check(t.Context()); h.Healthy || h.Status != "unavailable" || h.Error == "" {
		t.Errorf("closed pool health = %+v", h)
	}
}

func TestHealthHandler(t *testing.T) {
	t.Parallel()
	up := openTest(t, pgtest.NewDB(t), pgdb.Config{})
	down, err := pgdb.Open(t.Context(), pgtest.NewDB(t), pgdb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	down.Close()
	tests := []struct {
		name     string
		db       *pgdb.DB
		detailed bool
		code     int
		status   string
		keys     []string // exactly the keys of the body
	}{
		{"public healthy", up, false, http.StatusOK, "ok", []string{"status"}},
		{"public unavailable", down, false, http.StatusServiceUnavailable, "unavailable", []string{"status"}},
		{"detailed healthy", up, true, http.StatusOK, "ok", []string{"healthy", "latency_ms", "pool", "server_version", "server_version_num", "status"}},
		{"detailed unavailable", down, true, http.StatusServiceUnavailable, "unavailable", []string{"error", "healthy", "latency_ms", "pool", "status"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(pgdb.HealthHandler(tc.db.Pool(), pgdb.HealthOptions{Detailed: tc.detailed}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code || body["status"] != tc.status {
				t.Errorf("got %d %v, want %d %s", resp.StatusCode, body, tc.code, tc.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			if got := slices.Sorted(maps.Keys(body)); !slices.Equal(got, tc.keys) {
				t.Errorf("body keys %v, want %v", got, tc.keys)
			}
		})
	}
}

func exec(t *testing.T, db *pgdb.DB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Pool().Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proxy forwards connections on port to target until the test ends.
func proxy(t *testing.T, port int, target string) {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Errorf("proxy: %v", err)
		return
	}
	context.AfterFunc(t.Context(), func() { l.Close() })
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			s, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer s.Close()
			go io.Copy(s, c)
			io.Copy(c, s)
		}()
	}
}
