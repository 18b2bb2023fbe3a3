package diff_test

import (
	"context"
	"errors"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/diff"
	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/lint"
	"github.com/pgmig/pgmig/schema"
	"github.com/pgmig/pgmig/source"
)

// role is a role the grant cases grant to; roles belong to the server,
// so it is made once, and a parallel test process making it too is fine.
const role = "pgmig_diff_reader"

var roleOnce sync.Once

func ensureRole(t *testing.T) {
	t.Helper()
	roleOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, pgtest.AdminURL())
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, `DO $$BEGIN CREATE ROLE `+role+` NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END$$`)
		if err != nil {
			t.Fatalf("create role: %v", err)
		}
	})
}

func execSQL(t testing.TB, c *pgx.Conn, sql string) {
	t.Helper()
	if strings.TrimSpace(sql) == "" {
		return
	}
	if _, err := c.Exec(context.Background(), sql); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

func inspect(t testing.TB, c *pgx.Conn) *schema.Catalog {
	t.Helper()
	cat, err := schema.Inspect(context.Background(), c, schema.Options{})
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	return cat
}

// dump is pg_dump --schema-only of the database, less what differs
// between two dumps of one schema: the \restrict keys and the versions.
// Where no pg_dump can dump the server (pg_dump refuses a newer server,
// and the throwaway servers of other majors come without one), it is
// catalogDump instead.
func dump(t testing.TB, url string) string {
	t.Helper()
	pgDump, ok := pgtest.PgDump(t)
	if !ok {
		return catalogDump(t, url)
	}
	out, err := exec.Command(pgDump, "--schema-only", "--no-tablespaces", "-d", url).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("pg_dump: %v: %s", err, ee.Stderr)
		}
		t.Fatalf("pg_dump: %v", err)
	}
	return dumpText(out)
}

// dumpText is pg_dump's output without the lines that differ from one
// dump of the same schema to the next: the \restrict key pair (random each
// run) and the versions in "-- Dumped from/by".
func dumpText(out []byte) string {
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, `\restrict`) || strings.HasPrefix(l, `\unrestrict`) || strings.HasPrefix(l, "-- Dumped ") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// catalogDump stands for pg_dump where none fits the server: schema.Take's
// snapshot (a reading of the catalogs of its own, not Inspect's) and, read
// here as plainly as the catalogs hold them, what the snapshot leaves out
// and pg_dump writes: comments, privileges, policies, owners, replica
// identity, columns' storage settings, and NOT NULL constraints' validity
// and inheritance (18 keeps them in pg_constraint). It reads nothing
// newer than 13 has (to_jsonb stands for columns that 13 lacks), so that
// it works on every server the tests run on.
func catalogDump(t testing.TB, url string) string {
	t.Helper()
	ctx := context.Background()
	c := pgtest.Connect(t, url)
	snap, err := schema.Take(ctx, c, schema.Options{})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	rows, err := c.Query(ctx, catalogDumpSQL)
	if err != nil {
		t.Fatalf("catalog dump: %v", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("catalog dump: %v", err)
	}
	return snap.String() + "\n" + strings.Join(lines, "\n")
}

const catalogDumpSQL = `SELECT line FROM (
SELECT 'comment on ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ': ' || d.description AS line
FROM pg_description d WHERE d.objoid >= 16384
UNION ALL SELECT 'privileges on ' || pg_describe_object('pg_class'::regclass, c.oid, 0) || ': ' || (SELECT string_agg(x::text, ',' ORDER BY x::text)
  FROM unnest(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) x)
FROM pg_class c WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
-- A column's privileges revoked leave an empty list, as good as none.
UNION ALL SELECT 'privileges on ' || pg_describe_object('pg_class'::regclass, a.attrelid, a.attnum) || ': ' || (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(a.attacl) x)
FROM pg_attribute a WHERE a.attrelid >= 16384 AND cardinality(a.attacl) > 0
UNION ALL SELECT 'privileges on ' || pg_describe_object('pg_namespace'::regclass, n.oid, 0) || ': ' || (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(coalesce(n.nspacl, acldefault('n', n.nspowner))) x)
FROM pg_namespace n WHERE n.oid >= 16384 OR n.nspname = 'public'
UNION ALL SELECT 'privileges on ' || pg_describe_object('pg_proc'::regclass, p.oid, 0) || ': ' || (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(coalesce(p.proacl, acldefault('f', p.proowner))) x)
FROM pg_proc p WHERE p.oid >= 16384
UNION ALL SELECT 'privileges on ' || pg_describe_object('pg_type'::regclass, ty.oid, 0) || ': ' || (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(coalesce(ty.typacl, acldefault('T', ty.typowner))) x)
FROM pg_type ty WHERE ty.oid >= 16384 AND ty.typtype IN ('e', 'd', 'c', 'r')
  AND NOT EXISTS (SELECT FROM pg_class tc WHERE tc.oid = ty.typrelid AND tc.relkind <> 'c')
UNION ALL SELECT concat_ws(' ', 'policy', po.polname, 'on', po.polrelid::regclass::text, po.polpermissive, po.polcmd,
  (SELECT array_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END ORDER BY 1) FROM unnest(po.polroles) r)::text,
  'using', pg_get_expr(po.polqual, po.polrelid), 'check', pg_get_expr(po.polwithcheck, po.polrelid))
FROM pg_policy po
UNION ALL SELECT concat_ws(' ', pg_describe_object('pg_class'::regclass, c.oid, 0), 'owner', pg_get_userbyid(c.relowner), 'replica identity', c.relreplident)
FROM pg_class c WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
UNION ALL SELECT concat_ws(' ', pg_describe_object('pg_class'::regclass, a.attrelid, a.attnum), 'storage', a.attstorage,
  'compression', to_jsonb(a) ->> 'attcompression', 'statistics', to_jsonb(a) ->> 'attstattarget', 'options', a.attoptions::text)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p', 'f') AND a.attnum > 0 AND NOT a.attisdropped
-- The constraint's name is left out, as Take and Inspect leave it out: a
-- table or column renamed keeps it, SET NOT NULL names it anew.
UNION ALL SELECT concat_ws(' ', 'not null', co.conrelid::regclass::text, a.attname, CASE WHEN NOT co.convalidated THEN 'not valid' END,
  CASE WHEN co.connoinherit THEN 'no inherit' END, CASE WHEN NOT co.conislocal THEN 'inherited' END)
FROM pg_constraint co JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = co.conkey[1]
WHERE co.contype = 'n'
) x ORDER BY line COLLATE "C"`

// lineDiff shows the lines only in a and only in b, for a failure message.
func lineDiff(a, b string) string {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if count[l] > 0 {
			out = append(out, "- "+l)
			count[l]--
		}
	}
	for l, n := range count {
		for ; n < 0; n++ {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// sortColumns sorts the columns of each table in a dump: the column
// lines of pg_dump's CREATE TABLE, or the column list of a snapshot's
// table line (catalogDump).
func sortColumns(dump string) string {
	lines := strings.Split(dump, "\n")
	for i := 0; i < len(lines); i++ {
		if m := snapTable.FindStringSubmatch(lines[i]); m != nil {
			cols := strings.Split(m[2], ", ")
			slices.Sort(cols)
			lines[i] = m[1] + strings.Join(cols, ", ") + m[3]
			continue
		}
		if !strings.HasPrefix(lines[i], "CREATE TABLE ") || !strings.HasSuffix(lines[i], "(") {
			continue
		}
		j := i + 1
		for j < len(lines) && !strings.HasPrefix(lines[j], ")") {
			lines[j] = strings.TrimSuffix(lines[j], ",")
			j++
		}
		slices.Sort(lines[i+1 : j])
		i = j
	}
	return strings.Join(lines, "\n")
}

// snapTable is a snapshot's table line: "table public.t (a, b) ...".
var snapTable = regexp.MustCompile(`^(table \S+ \()([^)]*)(\).*)$`)

// parseFile reads the generated file as pgmig reads a migration.
func parseFile(t testing.TB, file string) source.Migration {
	t.Helper()
	migs, err := source.FromFS(fstest.MapFS{"002_diff.sql": {Data: []byte(file)}}).Migrations(context.Background())
	if err != nil {
		t.Fatalf("generated file does not parse: %v\n%s", err, file)
	}
	if len(migs) != 1 || migs[0].Down == nil {
		t.Fatalf("generated file: want one migration with a down section, got %d\n%s", len(migs), file)
	}
	return migs[0]
}

// lintErrors lints the generated file as the next migration after one
// that created the current schema, and returns its error-level findings.
func lintErrors(m source.Migration, current string) []lint.Finding {
	prev := source.Migration{Version: 1, Name: "current", Up: source.Section{File: "001_current.sql", SQL: current, Line: 1}}
	return lintErrorsAfter([]source.Migration{prev}, m)
}

// lintErrorsAfter lints m after the migrations before it and returns its
// error-level findings.
func lintErrorsAfter(before []source.Migration, m source.Migration) []lint.Finding {
	res := lint.Lint(append(append([]source.Migration(nil), before...), m), lint.Options{})
	var errs []lint.Finding
	for _, f := range res.Findings {
		if f.Level == lint.Error && f.Version == m.Version {
			errs = append(errs, f)
		}
	}
	return errs
}

// apply runs a section as pgmig does: in one transaction, or one
// statement at a time.
func apply(t testing.TB, c *pgx.Conn, sec source.Section) error {
	t.Helper()
	ctx := context.Background()
	if !sec.NoTransaction {
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sec.SQL); err != nil {
			tx.Rollback(ctx)
			return err
		}
		return tx.Commit(ctx)
	}
	for _, st := range source.Split(sec.SQL) {
		if st.Empty() {
			continue
		}
		if _, err := c.Exec(ctx, st.Text); err != nil {
			return &stmtError{st.Text, err}
		}
	}
	return nil
}

type stmtError struct {
	sql string
	err error
}

func (e *stmtError) Error() string { return strings.TrimSpace(e.sql) + ": " + e.err.Error() }
func (e *stmtError) Unwrap() error { return e.err }

// roundTrip builds current on one database and desired on another,
// plans, applies the up to the first and checks its dump equals the
// second's, applies the down and checks it equals what it was. It returns
// the plan (nil when Plan failed) and Plan's error.
func roundTrip(t testing.TB, current, desired string, opts diff.Options) (*diff.Migration, error) {
	t.Helper()
	urlA, urlB := pgtest.NewDB(t), pgtest.NewDB(t)
	a, b := pgtest.Connect(t, urlA), pgtest.Connect(t, urlB)
	execSQL(t, a, current)
	execSQL(t, b, desired)
	before, want := dump(t, urlA), dump(t, urlB)
	m, err := diff.Plan(inspect(t, a), inspect(t, b), opts)
	if err != nil {
		return nil, err
	}
	if m.Empty() {
		if before != want {
			t.Fatalf("empty plan, but the dumps differ:\n%s", lineDiff(before, want))
		}
		return m, nil
	}
	file := m.File()
	mig := parseFile(t, file)
	if errs := lintErrors(mig, current); len(errs) > 0 {
		for _, f := range errs {
			t.Errorf("lint %s:%d: %s: %s", f.File, f.Line, f.Rule, f.Message)
		}
		t.Fatalf("generated file is not lint-clean:\n%s", file)
	}
	if err := apply(t, a, mig.Up); err != nil {
		t.Fatalf("up: %v\n%s", err, file)
	}
	if got := dump(t, urlA); got != want {
		t.Fatalf("after up, the dump differs from the desired one:\n%s\n\nfile:\n%s", lineDiff(got, want), file)
	}
	if err := apply(t, a, *mig.Down); err != nil {
		t.Fatalf("down: %v\n%s", err, file)
	}
	got := dump(t, urlA)
	if len(m.DownReorders) > 0 {
		// The down re-adds dropped columns at the end: compare the tables'
		// columns as sets.
		got, before = sortColumns(got), sortColumns(before)
	}
	if got != before {
		t.Fatalf("after down, the dump differs from the current one:\n%s\n\nfile:\n%s", lineDiff(got, before), file)
	}
	return m, nil
}

func newDB(t testing.TB) string { return pgtest.NewDB(t) }
