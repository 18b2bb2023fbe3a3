package check

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// tracking is the tracking table as the checks need it: to leave it out of
// snapshots, and to make its schema before the first one.
type tracking struct {
	// ident is the quoted name, qualified when the option was: what
	// to_regclass and SQL statements read.
	ident string
	// schema is the table's own schema when the name has one; empty when
	// it lives in the connection's current schema.
	schema string
}

// readInputs reads what Verify and Drift start from, before anything is
// made: the migrations of src and the tracking table's name (table, the
// runner's option) as pool's server reads it.
func readInputs(ctx context.Context, pool *pgxpool.Pool, src source.Source, table string) ([]source.Migration, tracking, error) {
	ms, err := src.Migrations(ctx)
	if err != nil {
		return nil, tracking{}, err
	}
	tt, err := trackingTable(ctx, pool, table)
	return ms, tt, err
}

// trackingTable reads the runner's table option as PostgreSQL reads a
// name (parse_ident: unquoted parts folded, quoted ones as written), so
// that "Ops"."History" and ops.history are the tables the runner uses.
func trackingTable(ctx context.Context, pool *pgxpool.Pool, table string) (tracking, error) {
	if table == "" {
		table = runner.DefaultTable
	}
	var parts []string
	if err := pool.QueryRow(ctx, "SELECT parse_ident($1)", table).Scan(&parts); err != nil {
		return tracking{}, fmt.Errorf("%w: table %q: %w", runner.ErrInvalidOption, table, err)
	}
	if len(parts) < 1 || len(parts) > 2 {
		return tracking{}, fmt.Errorf("%w: table %q: want table or schema.table", runner.ErrInvalidOption, table)
	}
	t := tracking{ident: pgx.Identifier(parts).Sanitize()}
	if len(parts) == 2 {
		t.schema = parts[0]
	}
	return t, nil
}

// static is a source that returns migrations already read, so that every
// runner of a check works on the same bytes.
type static []source.Migration

func (s static) Migrations(context.Context) ([]source.Migration, error) { return s, nil }

// label names a migration in messages and diff headers, as pgmig prints
// versions: zero-padded to three digits.
// label names a migration in messages: a whole version zero-padded, a
// dotted one as its file spells it.
func label(version int64, v source.Version, name string) string {
	if v.Dotted() || (version == 0 && !v.IsZero()) {
		return v.String() + " " + name
	}
	return fmt.Sprintf("%03d %s", version, name)
}
