package pgdb

import (
	"context"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Querier runs parameterised statements. *pgxpool.Pool, *pgx.Conn and
// pgx.Tx satisfy it.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var (
	_ Querier = (*pgxpool.Pool)(nil)
	_ Querier = (*pgx.Conn)(nil)
	_ Querier = (pgx.Tx)(nil)
)

// Query runs sql with args and scans every row into a T, a struct whose
// fields map to the result columns by their db tags (the rule of Field,
// which the repo package follows too). Every result column needs a field;
// a field without a result column keeps its zero value. It returns an
// empty slice, not an error, when no row matches.
func Query[T any](ctx context.Context, q Querier, sql string, args ...any) ([]T, error) {
	rows, plan, err := queryPlanned[T](ctx, q, sql, args)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var zero T
		out = append(out, zero)
		if err := plan.scan(rows, unsafe.Pointer(&out[len(out)-1])); err != nil {
			return nil, wrapErr(ctx, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(ctx, err)
	}
	return out, nil
}

// QueryOne is Query for exactly one row: it returns ErrNotFound when there
// is none, and pgx.ErrTooManyRows when there is more than one.
func QueryOne[T any](ctx context.Context, q Querier, sql string, args ...any) (T, error) {
	var v T
	rows, plan, err := queryPlanned[T](ctx, q, sql, args)
	if err != nil {
		return v, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return v, wrapErr(ctx, err)
		}
		return v, ErrNotFound
	}
	if err := plan.scan(rows, unsafe.Pointer(&v)); err != nil {
		return v, wrapErr(ctx, err)
	}
	if rows.Next() {
		var zero T
		return zero, pgx.ErrTooManyRows
	}
	return v, wrapErr(ctx, rows.Err())
}

// queryPlanned runs sql and plans the scan of its rows into a T: how Query
// and QueryOne start. The caller closes rows; on an error they are closed.
func queryPlanned[T any](ctx context.Context, q Querier, sql string, args []any) (pgx.Rows, *rowPlan, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, wrapErr(ctx, err)
	}
	plan, err := planRows[T](rows)
	if err != nil {
		rows.Close()
		return nil, nil, err
	}
	return rows, plan, nil
}

// QueryValue runs sql, which must return one column, and returns its value
// in every row, e.g. QueryValue[string](ctx, q, "SELECT email FROM users").
func QueryValue[T any](ctx context.Context, q Querier, sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, wrapErr(ctx, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[T])
	if err != nil {
		return nil, wrapErr(ctx, err)
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// Exec runs sql with args and returns the number of rows it affected.
func Exec(ctx context.Context, q Querier, sql string, args ...any) (int64, error) {
	tag, err := q.Exec(ctx, sql, args...)
	if err != nil {
		return 0, wrapErr(ctx, err)
	}
	return tag.RowsAffected(), nil
}
