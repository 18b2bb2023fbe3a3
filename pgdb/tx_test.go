package pgdb_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/pgdb"
)

const itemsSQL = `
CREATE TABLE items (
  id int PRIMARY KEY,
  name text UNIQUE NOT NULL,
  qty int NOT NULL DEFAULT 0 CHECK (qty >= 0)
);
CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL);
INSERT INTO counters VALUES (1, 0), (2, 0);`

type item struct {
	ID   int    `db:"id"`
	Name string `db:"name"`
	Qty  int    `db:"qty"`
}

func itemsDB(t *testing.T) *pgdb.DB {
	t.Helper()
	return openTest(t, pgtest.NewDB(t, itemsSQL), pgdb.Config{})
}

func countItems(t *testing.T, db *pgdb.DB) int {
	t.Helper()
	n, err := pgdb.QueryValue[int](t.Context(), db.Pool(), "SELECT count(*)::int FROM items")
	if err != nil {
		t.Fatal(err)
	}
	return n[0]
}

var errBoom = errors.New("boom")

func TestInTxCommitsOrRollsBack(t *testing.T) {
	t.Parallel()
	db := itemsDB(t)
	ctx := t.Context()
	err := db.InTx(ctx, pgdb.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO items (id, name) VALUES (1, 'kept')")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = pgdb.InTx(ctx, db.Pool(), pgdb.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO items (id, name) VALUES (2, 'gone')"); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("error %v: want errBoom", err)
	}
	if n := countItems(t, db); n != 1 {
		t.Errorf("%d items, want 1", n)
	}
}

func TestInTxPanicRollsBackAndRepanics(t *testing.T) {
	t.Parallel()
	db := itemsDB(t)
	func() {
		defer func() {
			if p := recover(); p != "kaboom" {
				t.Errorf("recovered %v, want kaboom", p)
			}
		}()
		_ = db.InTx(t.Context(), pgdb.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "INSERT INTO items (id, name) VALUES (1, 'x')"); err != nil {
				return err
			}
			panic("kaboom")
		})
		t.Error("InTx returned after a panic")
	}()
	if n := countItems(t, db); n != 0 {
		t.Errorf("%d items after the panic, want 0", n)
	}
	if s := db.Pool().Stat(); s.AcquiredConns() != 0 {
		t.Errorf("%d connections still acquired", s.AcquiredConns())
	}
}

// TestInTxNested: an InTx on a pgx.Tx is a savepoint.
func TestInTxNested(t *testing.T) {
	t.Parallel()
	db := itemsDB(t)
	insert := func(id int, name string) func(context.Context, pgx.Tx) error {
		return func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO items (id, name) VALUES ($1, $2)", id, name)
			return err
		}
	}
	err := db.InTx(t.Context(), pgdb.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
		if err := insert(1, "outer")(ctx, tx); err != nil {
			return err
		}
		// A failing inner call rolls back to its savepoint only, so the
		// outer transaction can go on even after a server error.
		err := pgdb.InTx(ctx, tx, pgdb.TxOptions{}, insert(2, "outer"))
		if !errors.Is(err, pgdb.ErrUniqueViolation) {
			t.Errorf("inner error %v: want a unique violation", err)
		}
		return pgdb.InTx(ctx, tx, pgdb.TxOptions{}, insert(3, "inner"))
	})
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgdb.QueryValue[string](t.Context(), db.Pool(), "SELECT name FROM items ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "outer,inner" {
		t.Errorf("items %v, want outer,inner", names)
	}

	// An outer rollback takes the released savepoint's work with it.
	err = db.InTx(t.Context(), pgdb.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
		if err := pgdb.InTx(ctx, tx, pgdb.TxOptions{}, insert(4, "doomed")); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) || countItems(t, db) != 2 {
		t.Errorf("error %v, %d items: want errBoom and 2", err, countItems(t, db))
	}
}

func TestConstraintError(t *testing.T) {
	t.Parallel()
	db := itemsDB(t)
	ctx := t.Context()
	if _, err := pgdb.Exec(ctx, db.Pool(), "INSERT INTO items (id, name) VALUES (1, 'a')"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		sql        string
		sentinel   error
		constraint string
		column     string
	}{
		{"unique", "INSERT INTO items (id, name) VALUES (2, 'a')", pgdb.ErrUniqueViolation, "items_name_key", "name"},
		{"primary key", "INSERT INTO items (id, name) VALUES (1, 'b')", pgdb.ErrUniqueViolation, "items_pkey", "id"},
		{"not null", "INSERT INTO items (id) VALUES (3)", pgdb.ErrNotNullViolation, "", "name"},
		{"check", "INSERT INTO items (id, name, qty) VALUES (4, 'c', -1)", pgdb.ErrCheckViolation, "items_qty_check", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pgdb.Exec(ctx, db.Pool(), tc.sql)
			var ce *pgdb.ConstraintError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T): want *ConstraintError", err, err)
			}
			if !errors.Is(err, tc.sentinel) || ce.Constraint != tc.constraint || ce.Column != tc.column || ce.Table != "items" {
				t.Errorf("got %+v: want %v, constraint %q, column %q", ce, tc.sentinel, tc.constraint, tc.column)
			}
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code[:2] != "23" {
				t.Errorf("error %v does not reach the *pgconn.PgError", err)
			}
			for _, other := range []error{pgdb.ErrUniqueViolation, pgdb.ErrNotNullViolation, pgdb.ErrCheckViolation} {
				if other != tc.sentinel && errors.Is(err, other) {
					t.Errorf("error matches %v too", other)
				}
			}
		})
	}
}

// TestInTxRetriesSerializationFailure runs a real write skew: two
// SERIALIZABLE transactions each read both counters, then write one.
// PostgreSQL aborts one with 40001; with Retries it runs again and wins.
func TestInTxRetriesSerializationFailure(t *testing.T) {
	t.Parallel()
	for _, retries := range []int{0, 3} {
		t.Run(map[int]string{0: "without retries", 3: "with retries"}[retries], func(t *testing.T) {
			t.Parallel()
			db := itemsDB(t)
			var attempts atomic.Int32
			var bothRead sync.WaitGroup
			bothRead.Add(2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() {
					first := true
					errs[i] = db.InTx(t.Context(), pgdb.TxOptions{Isolation: pgx.Serializable, Retries: retries},
						func(ctx context.Context, tx pgx.Tx) error {
							attempts.Add(1)
							var sum int
							if err := tx.QueryRow(ctx, "SELECT sum(n) FROM counters").Scan(&sum); err != nil {
								return err
							}
							if first {
								first = false
								bothRead.Done()
								bothRead.Wait()
							}
							_, err := tx.Exec(ctx, "UPDATE counters SET n = $1 + 1 WHERE id = $2", sum, i+1)
							return err
						})
				})
			}
			wg.Wait()
			failed := 0
			for _, err := range errs {
				var pgErr *pgconn.PgError
				if errors.As(err, &pgErr) && pgErr.Code == "40001" {
					failed++
				} else if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
			}
			if retries == 0 && (failed != 1 || attempts.Load() != 2) {
				t.Errorf("%d failed in %d attempts, want 1 in 2", failed, attempts.Load())
			}
			if retries > 0 && (failed != 0 || attempts.Load() != 3) {
				t.Errorf("%d failed in %d attempts, want 0 in 3", failed, attempts.Load())
			}
		})
	}
}

func TestInTxReadOnly(t *testing.T) {
	t.Parallel()
	db := itemsDB(t)
	err := db.InTx(t.Context(), pgdb.TxOptions{ReadOnly: true}, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO items (id, name) VALUES (1, 'x')")
		return err
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25006" {
		t.Fatalf("error %v: want 25006 read_only_sql_transaction", err)
	}
}

func TestCancellation(t *testing.T) {
	t.Parallel()
	db := itemsDB(t)
	t.Run("in a transaction", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		err := db.InTx(ctx, pgdb.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "SELECT pg_sleep(10)")
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v: want context.Canceled", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s", d)
		}
	})
	t.Run("query", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(200*time.Millisecond, cancel)
		_, err := pgdb.QueryValue[int](ctx, db.Pool(), "SELECT 1 FROM pg_sleep(10)")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v: want context.Canceled", err)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := pgdb.QueryOne[item](ctx, db.Pool(), "SELECT id, name, qty FROM items")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v: want context.Canceled", err)
		}
		if err := db.InTx(ctx, pgdb.TxOptions{}, func(context.Context, pgx.Tx) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Errorf("InTx error %v: want context.Canceled", err)
		}
	})
	// The pool survives.
	if h := db.Check(t.Context()); !h.Healthy {
		t.Errorf("pool unhealthy after cancellations: %+v", h)
	}
}

func TestInTxConcurrent(t *testing.T) {
	t.Parallel()
	db := itemsDB(t)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			err := db.InTx(t.Context(), pgdb.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
				_, err := tx.Exec(ctx, "UPDATE counters SET n = n + 1 WHERE id = 1")
				return err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	n, err := pgdb.QueryValue[int](t.Context(), db.Pool(), "SELECT n FROM counters WHERE id = 1")
	if err != nil || n[0] != 20 {
		t.Errorf("counter %v, %v: want 20", n, err)
	}
}

func TestQueryHelpers(t *testing.T) {
	t.Parallel()
	db := itemsDB(t)
	ctx := t.Context()
	got, err := pgdb.Query[item](ctx, db.Pool(), "SELECT id, name, qty FROM items")
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("empty table: %v, %v; want an empty slice", got, err)
	}
	n, err := pgdb.Exec(ctx, db.Pool(), "INSERT INTO items (id, name, qty) VALUES (1, 'a', 5), (2, 'b', 7)")
	if err != nil || n != 2 {
		t.Fatalf("insert: %d, %v", n, err)
	}
	got, err = pgdb.Query[item](ctx, db.Pool(), "SELECT id, name, qty FROM items WHERE qty > $1 ORDER BY id", 1)
	if err != nil || len(got) != 2 || got[1] != (item{2, "b", 7}) {
		t.Errorf("Query = %v, %v", got, err)
	}
	one, err := pgdb.QueryOne[item](ctx, db.Pool(), "SELECT id, name, qty FROM items WHERE name = $1", "a")
	if err != nil || one != (item{1, "a", 5}) {
		t.Errorf("QueryOne = %v, %v", one, err)
	}
	_, err = pgdb.QueryOne[item](ctx, db.Pool(), "SELECT id, name, qty FROM items WHERE name = $1", "'; DROP TABLE items; --")
	if !errors.Is(err, pgdb.ErrNotFound) || !errors.Is(err, pgx.ErrNoRows) {
		t.Errorf("QueryOne of no row: %v, want ErrNotFound", err)
	}
	_, err = pgdb.QueryOne[item](ctx, db.Pool(), "SELECT id, name, qty FROM items")
	if !errors.Is(err, pgx.ErrTooManyRows) {
		t.Errorf("QueryOne of two rows: %v, want pgx.ErrTooManyRows", err)
	}
}

// logLines decodes the JSON log lines written to buf.
func logLines(t *testing.T, buf *pgtest.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestQueryLog(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	tests := []struct {
		name     string
		cfg      pgdb.Config
		sql      string
		wantMsg  string // empty: no line for sql
		wantLvl  string
		wantArgs bool
	}{
		{"development logs every query", pgdb.Config{LogQueries: true}, "SELECT $1::int AS answer", "query", "DEBUG", false},
		{"arguments only when asked", pgdb.Config{LogQueries: true, LogArgs: true}, "SELECT $1::int AS answer", "query", "DEBUG", true},
		{"production skips fast queries", pgdb.Config{}, "SELECT $1::int AS answer", "", "", false},
		{"slow queries always", pgdb.Config{SlowQueryThreshold: 50 * time.Millisecond}, "SELECT $1::int FROM pg_sleep(0.1)", "slow query", "WARN", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf pgtest.Buffer
			tc.cfg.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			db := openTest(t, url, tc.cfg)
			if _, err := pgdb.QueryValue[int](t.Context(), db.Pool(), tc.sql, 42); err != nil {
				t.Fatal(err)
			}
			var line map[string]any
			for _, l := range logLines(t, &buf) {
				if l["sql"] == tc.sql {
					line = l
				}
			}
			if tc.wantMsg == "" {
				if line != nil {
					t.Errorf("logged %v", line)
				}
				return
			}
			if line == nil {
				t.Fatalf("no line for %q", tc.sql)
			}
			if line["msg"] != tc.wantMsg || line["level"] != tc.wantLvl || line["duration"] == nil {
				t.Errorf("line %v: want %s at %s with a duration", line, tc.wantMsg, tc.wantLvl)
			}
			if _, has := line["args"]; has != tc.wantArgs {
				t.Errorf("line %v: args present %v, want %v", line, has, tc.wantArgs)
			}
		})
	}
}

func TestQueryLogBatchAndCopy(t *testing.T) {
	t.Parallel()
	var buf pgtest.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db := openTest(t, pgtest.NewDB(t, itemsSQL), pgdb.Config{Logger: logger, LogQueries: true})
	ctx := t.Context()
	b := &pgx.Batch{}
	b.Queue("SELECT 1")
	b.Queue("SELECT 2")
	if err := db.Pool().SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().CopyFrom(ctx, pgx.Identifier{"items"}, []string{"id", "name"}, pgx.CopyFromRows([][]any{{1, "a"}})); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range logLines(t, &buf) {
		seen[fmt.Sprint(l["msg"], ": ", l["sql"])] = true
	}
	for _, want := range []string{"batch query: SELECT 1", "batch query: SELECT 2", "batch: batch", `copy from: COPY "items" FROM STDIN`} {
		if !seen[want] {
			t.Errorf("no line %q in %v", want, seen)
		}
	}
}
