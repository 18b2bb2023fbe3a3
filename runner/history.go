package runner

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/source"
)

// Record is one row of the tracking table.
type Record struct {
	// Version is the row's version as an integer; 0 for a dotted one and
	// for a repeatable migration's row.
	Version int64
	// Ver is the version as the row records it, integer or dotted; the
	// zero Version for a repeatable migration's row.
	Ver       source.Version
	Name      string
	Checksum  string
	AppliedAt time.Time
	Duration  time.Duration
	AppliedBy string
	Success   bool
	// Error and FailedStatement describe a failed no-transaction section.
	Error           string
	FailedStatement int
	// Repeatable marks a repeatable migration's row: Version is 0, and
	// Name is the key.
	Repeatable bool
}

// tracking is the tracking table: every statement that reads or writes it
// is a method here, so its layout is written down in one place.
//
// Under a lock that has one (a lease: lock.Held.Guard), every write is
// guarded: it writes only while the lock is held, and keeps a new holder
// from taking the lock until its transaction ends. A guarded write that
// finds the lock gone changes no row, and the caller stops with
// errGuarded.
type tracking struct {
	schema string
	table  string
	ident  string // quoted schema.table, for SQL
	guard  string // SQL condition true while the lock is held; "" for none
	// upgraded is set when the table has the layout that holds
	// repeatable migrations (see upgrade): version is text, and a
	// repeatable column marks their rows.
	upgraded bool
}

func newTracking(schema, table string) tracking {
	return tracking{schema: schema, table: table, ident: pgx.Identifier{schema, table}.Sanitize()}
}

// name is the table's qualified name, for messages.
func (t tracking) name() string { return t.schema + "." + t.table }

// exists looks the table up. It runs before a transaction pooler can have
// been detected, so it prepares nothing: behind one, a statement another
// client prepared on the same server connection would clash with it (42P05).
func (t tracking) exists(ctx context.Context, conn *pgx.Conn) (bool, error) {
	ok, _, err := t.layout(ctx, conn)
	return ok, err
}

// layout looks the table up, and whether it has been upgraded, in one
// round trip; it prepares nothing, as exists.
func (t tracking) layout(ctx context.Context, conn *pgx.Conn) (exists, upgraded bool, _ error) {
	var reg *string
	q := `SELECT to_regclass($1)::text, EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'repeatable' AND NOT attisdropped)`
	if err := conn.QueryRow(ctx, q, pgx.QueryExecModeSimpleProtocol, t.ident).Scan(&reg, &upgraded); err != nil {
		return false, false, fmt.Errorf("look up tracking table %s: %w", t.name(), err)
	}
	return reg != nil, upgraded, nil
}

// upgrade brings a table of the first layout (version bigint, its primary
// key) to the one that also holds repeatable migrations, whose rows have
// no version, and Flyway's dotted versions, which are no bigint: version
// becomes text (the rows so far keep their digits), version_key orders it
// part by part as integers, and a repeatable row is unique by name
// instead. It runs under the lock, in one transaction: a failure leaves
// the table as it was. Integer-only projects never call it, so their
// table keeps the first layout.
func (t *tracking) upgrade(ctx context.Context, conn *pgx.Conn) error {
	if t.upgraded {
		return nil
	}
	// Look again under the lock: another run may have upgraded it since.
	_, upgraded, err := t.layout(ctx, conn)
	if err != nil {
		return err
	}
	if upgraded {
		t.upgraded = true
		return nil
	}
	// The primary key's name is looked up, not assumed: a long table
	// name gives a truncated one.
	ddl := `BEGIN;
DO $pgmig$ DECLARE c text; BEGIN
  SELECT conname INTO c FROM pg_constraint WHERE conrelid = ` + quoteLiteral(t.ident) + `::regclass AND contype = 'p';
  IF c IS NOT NULL THEN EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', ` + quoteLiteral(t.ident) + `, c); END IF;
END $pgmig$;
ALTER TABLE ` + t.ident + ` ALTER COLUMN version TYPE text, ALTER COLUMN version DROP NOT NULL;
ALTER TABLE ` + t.ident + ` ADD COLUMN version_key bigint[] GENERATED ALWAYS AS (string_to_array(version, '.')::bigint[]) STORED;
ALTER TABLE ` + t.ident + ` ADD COLUMN repeatable boolean NOT NULL DEFAULT false;
ALTER TABLE ` + t.ident + ` ADD CONSTRAINT ` + pgx.Identifier{t.table + "_version_check"}.Sanitize() + ` CHECK (repeatable = (version IS NULL));
CREATE UNIQUE INDEX ` + pgx.Identifier{t.table + "_version_key"}.Sanitize() + ` ON ` + t.ident + ` (version) WHERE NOT repeatable;
CREATE UNIQUE INDEX ` + pgx.Identifier{t.table + "_repeatable_key"}.Sanitize() + ` ON ` + t.ident + ` (name) WHERE repeatable;
COMMIT;`
	if _, err := conn.Exec(ctx, ddl); err != nil {
		conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		return fmt.Errorf("upgrade tracking table %s for repeatable migrations and dotted versions: %w", t.name(), err)
	}
	t.upgraded = true
	return nil
}

// create creates the table, and its schema, when missing. It runs under
// the lock, so two first runs cannot race to create it; and it checks
// before creating, so a user without CREATE rights can still use a table
// that exists.
func (t tracking) create(ctx context.Context, conn *pgx.Conn) error {
	// Look again under the lock: another run may have created it since.
	if ok, err := t.exists(ctx, conn); err != nil || ok {
		return err
	}
	ddl := `CREATE TABLE IF NOT EXISTS ` + t.ident + ` (
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
COMMENT ON TABLE ` + t.ident + ` IS 'pgmig migration history: one row per applied migration';`
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", t.schema).Scan(&exists); err != nil {
		return fmt.Errorf("create tracking table %s: %w", t.name(), err)
	}
	if !exists {
		// Only when missing: CREATE SCHEMA checks the CREATE privilege
		// before it notices the schema exists, and a user may be allowed
		// to create tables only.
		ddl = `CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{t.schema}.Sanitize() + ";\n" + ddl
	}
	if _, err := conn.Exec(ctx, "BEGIN;\n"+ddl+"\nCOMMIT;"); err != nil {
		conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		return fmt.Errorf("create tracking table %s: %w", t.name(), err)
	}
	return nil
}

// read reads the whole table in one query, in version order, the
// repeatable migrations' rows last.
func (t tracking) read(ctx context.Context, conn *pgx.Conn) ([]Record, error) {
	// The version is read as text in either layout, and parsed here: the
	// upgraded layout's may be dotted.
	q := `SELECT version::text, name, checksum, applied_at, duration_ms, applied_by, success,
  coalesce(error, ''), coalesce(failed_statement, 0), false FROM ` + t.ident + ` ORDER BY version`
	if t.upgraded {
		q = `SELECT version, name, checksum, applied_at, duration_ms, applied_by, success,
  coalesce(error, ''), coalesce(failed_statement, 0), repeatable FROM ` + t.ident + ` ORDER BY repeatable, version_key, name`
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read history from %s: %w", t.name(), err)
	}
	defer rows.Close()
	var recs []Record
	for rows.Next() {
		var rec Record
		var ms float64
		var failed int32
		var version *string
		if err := rows.Scan(&version, &rec.Name, &rec.Checksum, &rec.AppliedAt, &ms, &rec.AppliedBy, &rec.Success, &rec.Error, &failed, &rec.Repeatable); err != nil {
			return nil, fmt.Errorf("read history from %s: %w", t.name(), err)
		}
		if version != nil && !rec.Repeatable {
			if rec.Ver, err = source.ParseVersion(*version); err != nil {
				return nil, fmt.Errorf("read history from %s: the row of %s: %w", t.name(), rec.Name, err)
			}
			rec.Version = intOf(rec.Ver)
		}
		rec.Duration = time.Duration(ms * float64(time.Millisecond))
		rec.FailedStatement = int(failed)
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history from %s: %w", t.name(), err)
	}
	return recs, nil
}

// durations reads back the recorded duration and time of each version,
// keyed by the version's canonical form.
func (t tracking) durations(ctx context.Context, conn *pgx.Conn, versions []source.Version) (map[string]Step, error) {
	// The rows were just written with literal(v): look them up by that.
	cond, arg := "version = ANY($1::bigint[])", any(nil)
	if t.upgraded {
		texts := make([]string, len(versions))
		for i, v := range versions {
			texts[i] = v.String()
		}
		cond, arg = "version = ANY($1::text[])", texts
	} else {
		ns := make([]int64, len(versions))
		for i, v := range versions {
			ns[i] = intOf(v)
		}
		arg = ns
	}
	rows, err := conn.Query(ctx, "SELECT version::text, duration_ms, applied_at FROM "+t.ident+" WHERE "+cond, arg)
	if err != nil {
		return nil, fmt.Errorf("read back durations: %w", err)
	}
	defer rows.Close()
	out := map[string]Step{}
	for rows.Next() {
		var st Step
		var ms float64
		var text string
		if err := rows.Scan(&text, &ms, &st.AppliedAt); err != nil {
			return nil, fmt.Errorf("read back durations: %w", err)
		}
		v, err := source.ParseVersion(text)
		if err != nil {
			return nil, fmt.Errorf("read back durations: %w", err)
		}
		st.Duration = time.Duration(ms * float64(time.Millisecond))
		out[v.Canonical()] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read back durations: %w", err)
	}
	return out, nil
}

// versionIs is the condition that selects the row of version v, in
// either layout. In the upgraded one it compares the parts as integers,
// trailing zero parts aside, so that it finds the row however the file
// that wrote it spelt the version (1.1, 1_1, 01.1 and 1.1.0 are one
// version to Flyway and to pgmig).
func (t tracking) versionIs(v source.Version) string {
	if !t.upgraded {
		return "version = " + strconv.FormatInt(intOf(v), 10)
	}
	n := strconv.Itoa(strings.Count(v.Canonical(), ".") + 1)
	return "(version_key[1:" + n + "] = " + keyLiteral(v) + " AND version_key[" + n + "+1:] <@ '{0}'::bigint[])"
}

// literal is v as the version column records it: the integer in the
// first layout; in the upgraded one the text as the file spells it
// (dotted, or the integer's digits as the first layout's rows read).
func (t tracking) literal(v source.Version) string {
	if !t.upgraded {
		return strconv.FormatInt(intOf(v), 10)
	}
	return quoteLiteral(v.String())
}

// quoteLiteral quotes s as an E'…' string, whose meaning does not depend on
// standard_conforming_strings (a migration may have changed it).
func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `''`)
	return "E'" + s + "'"
}

// Where a recorded duration starts: the server's receipt of the query that
// holds the whole step, or, in a single transaction, the end of the
// previous migration (kept in a transaction-local setting by markSQL).
const (
	sinceStatement = "statement_timestamp()"
	sinceMark      = "coalesce(nullif(current_setting('pgmig.mark', true), '')::timestamptz, statement_timestamp())"
)

// where is a statement's WHERE condition with the guard added.
func (t tracking) where(cond string) string {
	switch {
	case t.guard == "":
		return cond
	case cond == "":
		return t.guard
	}
	return cond + " AND " + t.guard
}

// errGuarded is the error of a guarded write that changed no row.
func (t tracking) errGuarded(what string) error {
	return fmt.Errorf("%w: %s not written to %s: this run no longer holds the lock (taken over, or expired)", ErrLockLost, what, t.name())
}

// insertSQL is the statement that records a transactional step inside its
// own transaction, with literals, so it can join the step's query; the
// duration is the server's time since since. It inserts one row, or none
// when the guard finds the lock gone.
func (t tracking) insertSQL(version source.Version, name, checksum, since string) string {
	q := "INSERT INTO " + t.ident + " (version, name, checksum, applied_at, duration_ms, applied_by, success) SELECT " +
		t.literal(version) + ", " + quoteLiteral(name) + ", " + quoteLiteral(checksum) +
		", now(), extract(epoch FROM clock_timestamp() - " + since + ") * 1000, current_user, true"
	if t.guard != "" {
		q += " WHERE " + t.guard
	}
	return q
}

// upsertRepeatableSQL records a repeatable migration's run inside its
// transaction, replacing the row of its previous run, in one statement
// that writes one row, guarded as insertSQL is.
func (t tracking) upsertRepeatableSQL(name, checksum, since string) string {
	q := "INSERT INTO " + t.ident + " AS h (version, name, checksum, applied_at, duration_ms, applied_by, success, repeatable) SELECT NULL, " +
		quoteLiteral(name) + ", " + quoteLiteral(checksum) +
		", now(), extract(epoch FROM clock_timestamp() - " + since + ") * 1000, current_user, true, true"
	if t.guard != "" {
		q += " WHERE " + t.guard
	}
	return q + " ON CONFLICT (name) WHERE repeatable DO UPDATE SET checksum = excluded.checksum, applied_at = excluded.applied_at," +
		" duration_ms = excluded.duration_ms, applied_by = excluded.applied_by, success = true, error = NULL, failed_statement = NULL"
}

// markSQL notes the end of a migration in a single transaction, where the
// next one's duration starts.
const markSQL = "SELECT set_config('pgmig.mark', clock_timestamp()::text, true)"

// deleteSQL is the statement that forgets a version: a rollback's inside
// its transaction, or repair's for a failed row.
func (t tracking) deleteSQL(version source.Version) string {
	return "DELETE FROM " + t.ident + " WHERE " + t.where(t.versionIs(version))
}

// record writes, in one statement, the rows of migrations recorded without
// running them (baseline, adopt).
func (t tracking) record(ctx context.Context, conn *pgx.Conn, ms []*source.Migration) error {
	ns, texts := make([]int64, len(ms)), make([]*string, len(ms))
	names, sums := make([]string, len(ms)), make([]string, len(ms))
	for i, m := range ms {
		names[i], sums[i] = m.Name, m.Checksum
		if !m.Repeatable {
			// A repeatable migration's row has no version.
			v := verOf(*m)
			ns[i], texts[i] = intOf(v), new(string)
			*texts[i] = v.String()
		}
	}
	q := `INSERT INTO ` + t.ident + ` (version, name, checksum, duration_ms, success)
SELECT v, n, c, 0, true FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(v, n, c)`
	args := []any{ns, names, sums}
	if t.upgraded {
		q = `INSERT INTO ` + t.ident + ` (version, name, checksum, duration_ms, success, repeatable)
SELECT v, n, c, 0, true, v IS NULL FROM unnest($1::text[], $2::text[], $3::text[]) AS u(v, n, c)`
		args[0] = texts
	}
	if t.guard != "" {
		q += " WHERE " + t.guard
	}
	tag, err := conn.Exec(ctx, q, args...)
	if err == nil && tag.RowsAffected() != int64(len(ms)) {
		return t.errGuarded("the rows")
	}
	return err
}

// one checks that a guarded write changed its one row.
func (t tracking) one(tag pgconn.CommandTag, err error, what string) error {
	if err == nil && tag.RowsAffected() != 1 {
		return t.errGuarded(what)
	}
	return err
}

// Rows of a no-transaction section: written failed before its first
// statement, so a run that dies half-way leaves a failed row, and marked
// successful only at the end.

func (t tracking) markStarted(ctx context.Context, conn *pgx.Conn, dir Direction, version source.Version, name, checksum string) error {
	if dir == Up {
		q := `INSERT INTO ` + t.ident + ` (version, name, checksum, success, error) SELECT ` + t.literal(version) + `, $1, $2, false, 'interrupted: the no-transaction section did not finish'`
		if t.guard != "" {
			q += " WHERE " + t.guard
		}
		tag, err := conn.Exec(ctx, q, name, checksum)
		return t.one(tag, err, "the failed row that marks its start")
	}
	tag, err := conn.Exec(ctx, `UPDATE `+t.ident+` SET success = false, error = 'interrupted: the no-transaction down section did not finish' WHERE `+t.where(t.versionIs(version)))
	return t.one(tag, err, "the mark of its start")
}

// takeBack undoes markStarted for a section none of whose statements
// ran, so the history says what happened: nothing. It is guarded like
// every write, so it changes nothing once another run may hold the lock;
// that run then finds the failed row and refuses, which errs on the safe
// side.
func (t tracking) takeBack(ctx context.Context, conn *pgx.Conn, dir Direction, version source.Version) error {
	q := `DELETE FROM ` + t.ident + ` WHERE ` + t.where(t.versionIs(version)+" AND NOT success")
	if dir == Down {
		q = `UPDATE ` + t.ident + ` SET success = true, error = NULL, failed_statement = NULL WHERE ` + t.where(t.versionIs(version)+" AND NOT success")
	}
	tag, err := conn.Exec(ctx, q)
	return t.one(tag, err, "the removal of the failed row that marked its start")
}

// failedRow reports whether version has a failed row.
func (t tracking) failedRow(ctx context.Context, conn *pgx.Conn, version source.Version) (bool, error) {
	var failed bool
	err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+t.ident+` WHERE `+t.versionIs(version)+` AND NOT success)`).Scan(&failed)
	return failed, err
}

func (t tracking) markStatement(ctx context.Context, conn *pgx.Conn, version source.Version, statement int) error {
	tag, err := conn.Exec(ctx, `UPDATE `+t.ident+` SET failed_statement = $1 WHERE `+t.where(t.versionIs(version)), statement)
	return t.one(tag, err, "the statement about to run")
}

// markFailed records why the section failed; keepStatement says whether
// the failed statement recorded so far is still the one to blame.
func (t tracking) markFailed(ctx context.Context, conn *pgx.Conn, version source.Version, msg string, keepStatement bool) error {
	set := "error = $1"
	if !keepStatement {
		set = "error = $1, failed_statement = NULL"
	}
	tag, err := conn.Exec(ctx, `UPDATE `+t.ident+` SET `+set+` WHERE `+t.where(t.versionIs(version)), msg)
	return t.one(tag, err, "the failure")
}

func (t tracking) markDone(ctx context.Context, conn *pgx.Conn, dir Direction, version source.Version, d time.Duration) error {
	if dir == Up {
		ms := float64(d) / float64(time.Millisecond)
		tag, err := conn.Exec(ctx, `UPDATE `+t.ident+` SET success = true, error = NULL, failed_statement = NULL, applied_at = now(), duration_ms = $1 WHERE `+t.where(t.versionIs(version)), ms)
		return t.one(tag, err, "its success")
	}
	tag, err := conn.Exec(ctx, t.deleteSQL(version))
	return t.one(tag, err, "the removal of its row")
}

// Repair's changes, inside its transaction.

func (t tracking) remove(ctx context.Context, tx pgx.Tx, version source.Version) error {
	tag, err := tx.Exec(ctx, t.deleteSQL(version))
	return t.one(tag, err, "the removal of the row")
}

func (t tracking) setChecksum(ctx context.Context, tx pgx.Tx, version source.Version, checksum string) error {
	tag, err := tx.Exec(ctx, `UPDATE `+t.ident+` SET checksum = $1 WHERE `+t.where(t.versionIs(version)), checksum)
	return t.one(tag, err, "the checksum")
}

func (t tracking) setName(ctx context.Context, tx pgx.Tx, version source.Version, name string) error {
	tag, err := tx.Exec(ctx, `UPDATE `+t.ident+` SET name = $1 WHERE `+t.where(t.versionIs(version)), name)
	return t.one(tag, err, "the name")
}
