// Package pgtest gives each test a fresh PostgreSQL database of its own,
// cloned from a template, so that tests are isolated and can run in parallel.
//
// The server is found through PGMIG_TEST_DATABASE_URL, defaulting to the
// local server on 127.0.0.1:5432. When none answers, tests fail with a
// message saying how to start one: never a silent skip.
package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgmig/pgmig/internal/connstr"
)

// DefaultURL is the server the tests use when PGMIG_TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL returns the connection string of the maintenance database that
// tests create their databases from.
func AdminURL() string {
	if u := os.Getenv("PGMIG_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// WithDatabase returns connString with its database name replaced by name.
// Both the URL and the keyword/value forms are handled.
func WithDatabase(connString, name string) string {
	s, err := connstr.With(connString, map[string]string{"dbname": name})
	if err != nil {
		panic(fmt.Sprintf("pgtest: bad test URL: %v", err))
	}
	return s
}

var templates sync.Map // setup hash -> *templateOnce

var dbSeq atomic.Int64 // numbers the databases of this process

type templateOnce struct {
	once sync.Once
	err  error
}

// NewDB creates a database for t, cloned from a template that holds the
// result of running setup (in order) on an empty database, and returns its
// connection string. The database is dropped when the test ends, unless the
// test failed: then it is kept and its name logged, to look at.
func NewDB(t testing.TB, setup ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	admin := connect(ctx, t, AdminURL())
	defer admin.Close(context.Background())

	sum := sha256.Sum256([]byte(strings.Join(setup, "\x00")))
	tpl := "pgmig_tpl_" + hex.EncodeToString(sum[:])[:16]
	v, _ := templates.LoadOrStore(tpl, &templateOnce{})
	to := v.(*templateOnce)
	to.once.Do(func() { to.err = ensureTemplate(ctx, admin, tpl, setup) })
	if to.err != nil {
		t.Fatalf("pgtest: template %s: %v", tpl, to.err)
	}

	// Unique across parallel tests (the counter) and test processes (the
	// pid and the clock): two tests once drew the same nanosecond.
	name := fmt.Sprintf("pgmig_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, dbSeq.Add(1))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{tpl}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgtest: kept database %s of the failed test", name)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return WithDatabase(AdminURL(), name)
}

func connect(ctx context.Context, t testing.TB, connString string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, connString)
	if err != nil {
		t.Fatalf("pgtest: no PostgreSQL server answers at %s: %v\n"+
			"Start one (e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`)\n"+
			"or point PGMIG_TEST_DATABASE_URL at a server where this user may create databases.",
			redact(connString), err)
	}
	return c
}

// ensureTemplate builds the template database once across every test
// process: packages are tested in parallel, so creation happens under an
// advisory lock and a template that exists is taken as it is.
func ensureTemplate(ctx context.Context, admin *pgx.Conn, tpl string, setup []string) error {
	const lockKey = 0x70676d6967 // "pgmig"
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return err
	}
	defer admin.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockKey)

	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", tpl).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	// Build under a temporary name and rename at the end, so that a run
	// killed half-way never leaves a half-built template behind.
	tmp := tpl + "_build"
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{tmp}.Sanitize()+" WITH (FORCE)"); err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{tmp}.Sanitize()+" TEMPLATE template0"); err != nil {
		return err
	}
	c, err := pgx.Connect(ctx, WithDatabase(AdminURL(), tmp))
	if err != nil {
		return err
	}
	for i, sql := range setup {
		if _, err := c.Exec(ctx, sql); err != nil {
			c.Close(ctx)
			return fmt.Errorf("setup step %d: %w", i+1, err)
		}
	}
	if err := c.Close(ctx); err != nil {
		return err
	}
	_, err = admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{tmp}.Sanitize()+" RENAME TO "+pgx.Identifier{tpl}.Sanitize())
	return err
}

func redact(connString string) string {
	if u, err := url.Parse(connString); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return connString
}

var serverVersion struct {
	once sync.Once
	num  int
	err  error
}

// ServerVersion returns the test server's server_version_num, e.g. 150004.
func ServerVersion(t testing.TB) int {
	t.Helper()
	serverVersion.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			serverVersion.err = err
			return
		}
		defer c.Close(ctx)
		serverVersion.err = c.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&serverVersion.num)
	})
	if serverVersion.err != nil {
		t.Fatalf("pgtest: server version: %v", serverVersion.err)
	}
	return serverVersion.num
}

// RequireVersion skips t, saying why, when the server is older than
// major (e.g. 14) and so lacks feature.
func RequireVersion(t testing.TB, major int, feature string) {
	t.Helper()
	if v := ServerVersion(t); v < major*10000 {
		t.Skipf("%s needs PostgreSQL %d or later; the test server is %d.%d", feature, major, v/10000, v%10000)
	}
}

// ExampleDB creates an empty database for an Example function, which has
// no testing.T to give NewDB, and returns its connection string and a
// function that drops it. It panics when no server answers: an Example
// cannot fail any other way.
func ExampleDB() (connString string, drop func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		panic(fmt.Sprintf("pgtest: no PostgreSQL server answers at %s: %v", redact(AdminURL()), err))
	}
	name := fmt.Sprintf("pgmig_example_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, dbSeq.Add(1))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		admin.Close(ctx)
		panic(fmt.Sprintf("pgtest: create database %s: %v", name, err))
	}
	return WithDatabase(AdminURL(), name), func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		admin.Close(ctx)
	}
}

// NewRole creates a login role for t with the attributes attrs, as CREATE
// ROLE takes them ("NOCREATEDB", "CONNECTION LIMIT 0"), dropped when the
// test ends, and returns its name and connString with it as the user.
func NewRole(t testing.TB, connString, attrs string) (role, roleConnString string) {
	t.Helper()
	role = fmt.Sprintf("pgmig_role_%d_%d", os.Getpid(), dbSeq.Add(1))
	admin := Connect(t, AdminURL())
	if _, err := admin.Exec(context.Background(), "CREATE ROLE "+role+" LOGIN "+attrs); err != nil {
		t.Fatalf("pgtest: create role: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, AdminURL()); err == nil {
			c.Exec(ctx, "DROP ROLE IF EXISTS "+role)
			c.Close(ctx)
		}
	})
	s, err := connstr.With(connString, map[string]string{"user": role})
	if err != nil {
		t.Fatalf("pgtest: bad test URL: %v", err)
	}
	return role, s
}

// ExamplePool opens a pool on a fresh database (ExampleDB) for an Example
// function; done closes the pool and drops the database.
func ExamplePool() (pool *pgxpool.Pool, done func()) {
	url, drop := ExampleDB()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		panic(fmt.Sprintf("pgtest: %v", err))
	}
	return pool, func() {
		pool.Close()
		drop()
	}
}
