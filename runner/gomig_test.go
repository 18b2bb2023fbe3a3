package runner_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// gooseGo is a goose migration written in Go, as goose's users write them.
const gooseGo = `package migrations

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"
)

func init() { goose.AddMigrationContext(upB, downB) }

func upB(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "CREATE TABLE b (id int)")
	return err
}

func downB(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "DROP TABLE b")
	return err
}
`

// goSet is 001_a.sql, 002_b.go and 003_c.sql, the last needing b.
func goSet() fstest.MapFS {
	return fstest.MapFS{
		"001_a.sql": mig("CREATE TABLE a (id int);", "DROP TABLE a;"),
		"002_b.go":  &fstest.MapFile{Data: []byte(gooseGo)},
		"003_c.sql": mig("CREATE TABLE c (id int REFERENCES b (id));", "DROP TABLE c;"),
	}
}

func (e *env) goRunner(files fstest.MapFS, gms ...runner.GoMigration) *runner.Runner {
	e.t.Helper()
	return e.newRunner(source.FromFSWith(files, source.Options{GoMigrations: true}), runner.Options{GoMigrations: gms})
}

func txFunc(sql string) *runner.GoFunc {
	return &runner.GoFunc{RunTx: func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql)
		return err
	}}
}

func TestGoMigrationRunsInOrderWithItsRow(t *testing.T) {
	e := newEnv(t)
	var sawA bool
	up := &runner.GoFunc{RunTx: func(ctx context.Context, tx pgx.Tx) error {
		// 001 ran before, in its own committed transaction.
		if err := tx.QueryRow(ctx, "SELECT to_regclass('a') IS NOT NULL").Scan(&sawA); err != nil {
			return err
		}
		// A session setting the function makes must not reach 003.
		if _, err := tx.Exec(ctx, "SET search_path = nowhere"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "CREATE TABLE public.b (id int PRIMARY KEY)")
		return err
	}}
	r := e.goRunner(goSet(), runner.GoMigration{Version: 2, Up: up, Down: txFunc("DROP TABLE b")})
	rep, err := r.Up(context.Background(), runner.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := versions(rep.Applied); got != "1,2,3" {
		t.Fatalf("applied %s, want 1,2,3", got)
	}
	if !sawA {
		t.Fatalf("the Go migration did not run after 001: saw a = %v", sawA)
	}
	if !e.exists("b") || !e.exists("c") {
		t.Fatal("tables b and c are missing")
	}
	sum := sha256.Sum256([]byte(gooseGo))
	var recorded, name string
	if err := e.pool.QueryRow(context.Background(), "SELECT checksum, name FROM "+runner.DefaultTable+" WHERE version = 2").Scan(&recorded, &name); err != nil {
		t.Fatal(err)
	}
	if recorded != hex.EncodeToString(sum[:]) || name != "b" {
		t.Fatalf("row of 2: checksum %s name %q, want the .go file's SHA-256 and \"b\"", recorded, name)
	}

	// Rollback runs the registered Down, in a transaction with the row.
	rb, err := r.Rollback(context.Background(), runner.RollbackOptions{Steps: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := versions(rb.RolledBack); got != "3,2" {
		t.Fatalf("rolled back %s, want 3,2", got)
	}
	if e.exists("b") || e.history("") != "1" {
		t.Fatalf("after rollback: b exists %v, history %s, want no b and 1", e.exists("b"), e.history(""))
	}
}

func TestGoMigrationFailingKeepsNothing(t *testing.T) {
	e := newEnv(t)
	boom := errors.New("boom")
	up := &runner.GoFunc{RunTx: func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "CREATE TABLE b (id int PRIMARY KEY)"); err != nil {
			return err
		}
		return boom
	}}
	r := e.goRunner(goSet(), runner.GoMigration{Version: 2, Up: up})
	_, err := r.Up(context.Background(), runner.UpOptions{})
	var me *runner.MigrationError
	if !errors.As(err, &me) || me.Version != 2 || me.File != "002_b.go" || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want a MigrationError of 2 in 002_b.go wrapping the function's", err)
	}
	if e.exists("b") || e.history("") != "1" {
		t.Fatalf("b exists %v, history %s: want the failed Go migration rolled back with its row", e.exists("b"), e.history(""))
	}

	// A function that commits the transaction itself is caught, not
	// recorded as if its row were in it.
	t.Run("commits", func(t *testing.T) {
		e2 := newEnv(t)
		commits := &runner.GoFunc{RunTx: func(ctx context.Context, tx pgx.Tx) error {
			return tx.Commit(ctx)
		}}
		_, err := e2.goRunner(goSet(), runner.GoMigration{Version: 2, Up: commits}).Up(context.Background(), runner.UpOptions{})
		if err == nil || !strings.Contains(err.Error(), "ended the transaction") || e2.history("") != "1" {
			t.Fatalf("err = %v, history %s: want the ended transaction reported and no row of 2", err, e2.history(""))
		}
	})
}

func TestGoMigrationOnThePool(t *testing.T) {
	e := newEnv(t)
	var during string
	up := &runner.GoFunc{RunDB: func(ctx context.Context, db *pgxpool.Pool) error {
		// The failed row is written before the function runs.
		during = e.history("")
		_, err := db.Exec(ctx, "CREATE INDEX CONCURRENTLY a_id ON a (id)")
		return err
	}}
	files := fstest.MapFS{"001_a.sql": mig("CREATE TABLE a (id int);", "DROP TABLE a;")}
	r := e.goRunner(files, runner.GoMigration{Version: 2, Name: "index_a", Up: up})
	rep, err := r.Up(context.Background(), runner.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if during != "1,2!" || e.history("") != "1,2" || !e.exists("a_id") {
		t.Fatalf("history during %s, after %s, index %v: want 1,2! then 1,2 and the index", during, e.history(""), e.exists("a_id"))
	}
	if !rep.Applied[1].NoTransaction || rep.Applied[1].File != "" {
		t.Fatalf("step %+v: want a no-transaction step with no file", rep.Applied[1])
	}
	var sum string
	if err := e.pool.QueryRow(context.Background(), "SELECT checksum FROM "+runner.DefaultTable+" WHERE version = 2").Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256([]byte("go:index_a")); sum != hex.EncodeToString(want[:]) {
		t.Fatalf("checksum %s, want the SHA-256 of \"go:index_a\"", sum)
	}
	// No Down: refused before anything is undone.
	if _, err := r.Rollback(context.Background(), runner.RollbackOptions{All: true}); !errors.Is(err, runner.ErrValidation) || e.history("") != "1,2" {
		t.Fatalf("rollback without Down: %v, history %s; want a validation error, nothing undone", err, e.history(""))
	}

	// A failing RunDB leaves its failed row.
	t.Run("fails", func(t *testing.T) {
		e2 := newEnv(t)
		bad := &runner.GoFunc{RunDB: func(ctx context.Context, db *pgxpool.Pool) error {
			_, err := db.Exec(ctx, "CREATE INDEX CONCURRENTLY nope ON missing (id)")
			return err
		}}
		_, err := e2.goRunner(files, runner.GoMigration{Version: 2, Name: "index_a", Up: bad}).Up(context.Background(), runner.UpOptions{})
		var me *runner.MigrationError
		if !errors.As(err, &me) || !me.NoTransaction || e2.history("") != "1,2!" {
			t.Fatalf("err = %v, history %s: want a no-transaction MigrationError and the failed row 2!", err, e2.history(""))
		}
	})
}

func TestGoMigrationUnregistered(t *testing.T) {
	e := newEnv(t)
	r := e.goRunner(goSet())
	_, err := r.Up(context.Background(), runner.UpOptions{})
	var ue *runner.UnregisteredGoError
	if !errors.As(err, &ue) || ue.Version != 2 || ue.File != "002_b.go" || !errors.Is(err, runner.ErrValidation) {
		t.Fatalf("err = %v, want an UnregisteredGoError for 002_b.go", err)
	}
	if e.exists("a") || e.history("") != "" {
		t.Fatalf("a exists %v, history %q: want nothing applied", e.exists("a"), e.history(""))
	}

	// Registered, it still cannot join a run sent as SQL only.
	reg := e.goRunner(goSet(), runner.GoMigration{Version: 2, Up: txFunc("CREATE TABLE b (id int PRIMARY KEY)")})
	if _, err := reg.Up(context.Background(), runner.UpOptions{SingleTransaction: true}); !errors.Is(err, runner.ErrInvalidOption) || e.exists("a") {
		t.Fatalf("single transaction with a Go migration: %v (a exists %v), want ErrInvalidOption and nothing applied", err, e.exists("a"))
	}

	// Applied with the functions, it needs none for status.
	if _, err := e.goRunner(goSet(), runner.GoMigration{Version: 2, Up: txFunc("CREATE TABLE b (id int PRIMARY KEY)")}).Up(context.Background(), runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := r.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Migrations {
		if m.State != runner.Applied {
			t.Fatalf("status of %d: %s, want applied", m.Version, m.State)
		}
	}

	// Registrations that cannot be run are refused by New.
	for name, g := range map[string]runner.GoMigration{
		"no up":   {Version: 2},
		"both":    {Version: 2, Up: &runner.GoFunc{RunTx: txFunc("SELECT 1").RunTx, RunDB: func(context.Context, *pgxpool.Pool) error { return nil }}},
		"neither": {Version: 2, Up: &runner.GoFunc{}},
	} {
		if _, err := runner.New(e.pool, source.Builtin(), runner.Options{GoMigrations: []runner.GoMigration{g}}); !errors.Is(err, runner.ErrInvalidOption) {
			t.Errorf("%s: New = %v, want ErrInvalidOption", name, err)
		}
	}
	// A registration clashing with a SQL file's version is refused.
	clash := e.goRunner(goSet(), runner.GoMigration{Version: 3, Name: "c", Up: txFunc("SELECT 1")})
	if _, err := clash.Status(context.Background()); !errors.Is(err, runner.ErrInvalidOption) {
		t.Errorf("registration of a SQL file's version: %v, want ErrInvalidOption", err)
	}
}

func TestGoMigrationWithoutFileSortsIn(t *testing.T) {
	e := newEnv(t)
	files := fstest.MapFS{
		"001_a.sql": mig("CREATE TABLE a (id int);", ""),
		"003_c.sql": mig("CREATE TABLE c (id int REFERENCES b (id));", ""),
	}
	r := e.goRunner(files, runner.GoMigration{Version: 2, Name: "b", Up: txFunc("CREATE TABLE b (id int PRIMARY KEY)")})
	rep, err := r.Up(context.Background(), runner.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := versions(rep.Applied); got != "1,2,3" || e.history("") != "1,2,3" {
		t.Fatalf("applied %s, history %s; want 1,2,3", got, e.history(""))
	}
}

// Under a lease, the history row of a Go migration is a guarded write.
func TestGoMigrationUnderLease(t *testing.T) {
	e := newEnv(t)
	gms := []runner.GoMigration{
		{Version: 2, Up: txFunc("CREATE TABLE b (id int PRIMARY KEY)"), Down: txFunc("DROP TABLE b")},
		{Version: 4, Name: "d", Up: &runner.GoFunc{RunDB: func(ctx context.Context, db *pgxpool.Pool) error {
			_, err := db.Exec(ctx, "CREATE TABLE d (id int)")
			return err
		}}},
	}
	r := e.newRunner(source.FromFSWith(goSet(), source.Options{GoMigrations: true}), runner.Options{LockMode: runner.LockTable, GoMigrations: gms})
	if _, err := r.Up(context.Background(), runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if e.history("") != "1,2,3,4" || !e.exists("d") {
		t.Fatalf("history %s, d exists %v; want 1,2,3,4 and d", e.history(""), e.exists("d"))
	}
}
