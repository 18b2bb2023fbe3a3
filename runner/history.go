package runner

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Record is one row of the tracking table.
type Record struct {
	Version   int64
	Name      string
	Checksum  string
	AppliedAt time.Time
	Duration  time.Duration
	AppliedBy string
	Success   bool
	// Error and FailedStatement describe a failed no-transaction section.
	Error           string
	FailedStatement int
}

// ensureTable creates the tracking table, and its schema, when missing.
// It runs under the lock, so two first runs cannot race to create it; and
// it checks before creating, so a user without CREATE rights can still use
// a table that exists.
func ensureTable(ctx context.Context, s *session) error {
	// Look again under the lock: another run may have created it since.
	var reg *string
	if err := s.conn.QueryRow(ctx, "SELECT to_regclass($1)::text", s.ident).Scan(&reg); err != nil {
		return fmt.Errorf("look up tracking table %s: %w", s.name(), err)
	}
	if s.exists = reg != nil; s.exists {
		return nil
	}
	schema := pgx.Identifier{s.schema}.Sanitize()
	ddl := `CREATE SCHEMA IF NOT EXISTS ` + schema + `;
CREATE TABLE IF NOT EXISTS ` + s.ident + ` (
  version          bigint PRIMARY KEY,
  name             text NOT NULL,
  checksum         text NOT NULL,
  applied_at       timestamptz NOT NULL DEFAULT now(),
  duration_ms      double precision NOT NULL DEFAULT 0,
  applied_by       text NOT NULL DEFAULT current_user,
  success          boolean NOT NULL DEFAULT true,
  error            text,
  failed_statement integer
);
COMMENT ON TABLE ` + s.ident + ` IS 'pgmig migration history: one row per applied migration';`
	var exists bool
	if err := s.conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", s.schema).Scan(&exists); err != nil {
		return fmt.Errorf("create tracking table %s: %w", s.name(), err)
	}
	if exists {
		// CREATE SCHEMA checks the CREATE privilege before it notices the
		// schema exists; skip it for users who may create tables only.
		ddl = ddl[strings.Index(ddl, "\n")+1:]
	}
	if _, err := s.conn.Exec(ctx, "BEGIN;\n"+ddl+"\nCOMMIT;"); err != nil {
		s.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		return fmt.Errorf("create tracking table %s: %w", s.name(), err)
	}
	s.exists = true
	return nil
}

// readHistory reads the whole tracking table in one query, in version order.
func readHistory(ctx context.Context, s *session) ([]Record, error) {
	if !s.exists {
		return nil, nil
	}
	rows, err := s.conn.Query(ctx, `SELECT version, name, checksum, applied_at, duration_ms, applied_by, success,
  coalesce(error, ''), coalesce(failed_statement, 0) FROM `+s.ident+` ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("read history from %s: %w", s.name(), err)
	}
	defer rows.Close()
	var recs []Record
	for rows.Next() {
		var rec Record
		var ms float64
		var failed int32
		if err := rows.Scan(&rec.Version, &rec.Name, &rec.Checksum, &rec.AppliedAt, &ms, &rec.AppliedBy, &rec.Success, &rec.Error, &failed); err != nil {
			return nil, fmt.Errorf("read history from %s: %w", s.name(), err)
		}
		rec.Duration = time.Duration(ms * float64(time.Millisecond))
		rec.FailedStatement = int(failed)
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history from %s: %w", s.name(), err)
	}
	return recs, nil
}

// quoteLiteral quotes s as an E” string, whose meaning does not depend on
// standard_conforming_strings (a migration may have changed it).
func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `''`)
	return "E'" + s + "'"
}

// insertSQL is the statement that records a transactional step inside its
// own transaction. statement_timestamp() is when the server received the
// query that holds the whole step, so the recorded duration is the server's
// time for the step's SQL.
func insertSQL(ident string, version int64, name, checksum string) string {
	return "INSERT INTO " + ident + " (version, name, checksum, applied_at, duration_ms, applied_by, success) VALUES (" +
		strconv.FormatInt(version, 10) + ", " + quoteLiteral(name) + ", " + quoteLiteral(checksum) +
		", now(), extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000, current_user, true)"
}

func deleteSQL(ident string, version int64) string {
	return "DELETE FROM " + ident + " WHERE version = " + strconv.FormatInt(version, 10)
}
