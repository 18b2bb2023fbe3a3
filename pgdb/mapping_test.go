package pgdb_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/pgdb"
)

type stamps struct {
	Note string `db:"note"`
}

// row is mapped by the rule repo follows: tags only, options ignored,
// embedded structs flattened.
type row struct {
	stamps
	ID      int    `db:"id,default"`
	Name    string `db:"name"`
	Untaged string
	Skipped string `db:"-"`
}

func TestQueryMappingRule(t *testing.T) {
	t.Parallel()
	db := openTest(t, pgtest.NewDB(t), pgdb.Config{})
	ctx := t.Context()
	got, err := pgdb.Query[row](ctx, db.Pool(), "SELECT 1 AS id, 'a' AS name, 'n' AS note UNION ALL SELECT 2, 'b', 'm' ORDER BY 1")
	if err != nil || len(got) != 2 || got[0].ID != 1 || got[0].Name != "a" || got[0].Note != "n" || got[1].Note != "m" {
		t.Fatalf("Query = %+v, %v", got, err)
	}
	// A field without a column keeps its zero value.
	one, err := pgdb.QueryOne[row](ctx, db.Pool(), "SELECT 7 AS id")
	if err != nil || one.ID != 7 || one.Name != "" {
		t.Errorf("QueryOne = %+v, %v", one, err)
	}
	// A column without a field is an error naming it: an untagged field
	// does not catch it by its Go name.
	for _, sql := range []string{"SELECT 1 AS id, 'x' AS untaged", "SELECT 1 AS id, 'x' AS skipped", "SELECT 1 AS \"ID\""} {
		if _, err := pgdb.Query[row](ctx, db.Pool(), sql); err == nil || !strings.Contains(err.Error(), "has no field") {
			t.Errorf("%s: error %v, want a column without a field", sql, err)
		}
	}
	if _, err := pgdb.QueryOne[row](ctx, db.Pool(), "SELECT 1 AS id WHERE false"); !errors.Is(err, pgdb.ErrNotFound) {
		t.Errorf("no row: %v", err)
	}
	if _, err := pgdb.QueryOne[row](ctx, db.Pool(), "SELECT 1 AS id UNION ALL SELECT 2"); !errors.Is(err, pgx.ErrTooManyRows) {
		t.Errorf("two rows: %v", err)
	}
}

func TestDataErrorIsInvalidInput(t *testing.T) {
	t.Parallel()
	db := openTest(t, pgtest.NewDB(t, "CREATE TABLE t (id uuid PRIMARY KEY, at timestamptz, name varchar(3))"), pgdb.Config{})
	ctx := t.Context()
	tests := []struct {
		name, sql, code string
		args            []any
	}{
		{"bad uuid", "SELECT * FROM t WHERE id = $1", "22P02", []any{"nope"}},
		{"bad timestamp", "SELECT * FROM t WHERE at = $1", "22007", []any{"yesterday-ish"}},
		{"too long", "INSERT INTO t VALUES (gen_random_uuid(), now(), $1)", "22001", []any{"abcd"}},
		{"division by zero", "SELECT 1 / $1::int", "22012", []any{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pgdb.Exec(ctx, db.Pool(), tc.sql, tc.args...)
			var de *pgdb.DataError
			var pgErr *pgconn.PgError
			if !errors.Is(err, pgdb.ErrInvalidInput) || !errors.As(err, &de) || !errors.As(err, &pgErr) || pgErr.Code != tc.code {
				t.Fatalf("error %v (%T): want a *DataError with %s", err, err, tc.code)
			}
			// The text a service may answer names the condition, not the
			// value (the server's message quotes it).
			if v, ok := tc.args[0].(string); (ok && strings.Contains(err.Error(), v)) || !strings.Contains(err.Error(), tc.code) {
				t.Errorf("error text %q: want the SQLSTATE and not the value", err)
			}
		})
	}
	// Other server errors stay what they are.
	_, err := pgdb.Exec(ctx, db.Pool(), "SELECT * FROM nope")
	if errors.Is(err, pgdb.ErrInvalidInput) {
		t.Errorf("undefined table classified as invalid input: %v", err)
	}
}

func TestInTxCarriesTx(t *testing.T) {
	t.Parallel()
	db := itemsDB(t)
	if pgdb.TxFrom(t.Context()) != nil {
		t.Fatal("a bare context carries a transaction")
	}
	err := db.InTx(t.Context(), pgdb.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
		if pgdb.TxFrom(ctx) != tx {
			t.Error("fn's ctx does not carry its tx")
		}
		return pgdb.InTx(ctx, tx, pgdb.TxOptions{}, func(ctx context.Context, sp pgx.Tx) error {
			if pgdb.TxFrom(ctx) != sp {
				t.Error("a savepoint's ctx does not carry it")
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}
