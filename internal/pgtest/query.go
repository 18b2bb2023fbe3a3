package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// QueryMap runs sql on c and returns its rows, two columns each, as a map
// from the first column to the second. An error fails t.
func QueryMap[K comparable, V any](t testing.TB, ctx context.Context, c *pgx.Conn, sql string, args ...any) map[K]V {
	t.Helper()
	rows, err := c.Query(ctx, sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	m := map[K]V{}
	var k K
	var v V
	if _, err := pgx.ForEachRow(rows, []any{&k, &v}, func() error { m[k] = v; return nil }); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return m
}
