package check_test

import (
	"context"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// open connects to connString for the test's duration.
func open(t *testing.T, connString string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), connString)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// withMigration returns the builtin migrations plus file holding sql.
func withMigration(t *testing.T, files ...string) source.Source {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(source.BuiltinFS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(source.BuiltinFS(), path)
		m[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(files); i += 2 {
		m[files[i]] = &fstest.MapFile{Data: []byte(files[i+1])}
	}
	return source.FromFS(m)
}

// wantDropped checks that the database name no longer exists.
func wantDropped(t *testing.T, name string) {
	t.Helper()
	if name == "" {
		t.Fatal("no scratch database named in the report")
	}
	admin := open(t, pgtest.AdminURL())
	var exists bool
	if err := admin.QueryRow(context.Background(), "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("scratch database %s is still there", name)
		admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
}

// wantRelations checks whether each relation exists in pool's database.
func wantRelations(t *testing.T, pool *pgxpool.Pool, exist bool, names ...string) {
	t.Helper()
	for _, n := range names {
		var found bool
		if err := pool.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", n).Scan(&found); err != nil {
			t.Fatal(err)
		}
		if found != exist {
			t.Errorf("relation %s exists: %v, want %v", n, found, exist)
		}
	}
}

// query returns the one value sql returns on pool; an error fails t, so
// that a check of what is left behind cannot pass on a failed query.
func query[T any](t *testing.T, pool *pgxpool.Pool, sql string) T {
	t.Helper()
	var v T
	if err := pool.QueryRow(context.Background(), sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func up(t *testing.T, pool *pgxpool.Pool, src source.Source, opts runner.Options, up runner.UpOptions) {
	t.Helper()
	r, err := runner.New(pool, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Up(context.Background(), up); err != nil {
		t.Fatal(err)
	}
}
