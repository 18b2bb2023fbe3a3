package runner_test

import (
	"context"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// repeatableRunner reads files with repeatable migrations admitted.
func (e *env) repeatableRunner(files fstest.MapFS, opts runner.Options) *runner.Runner {
	e.t.Helper()
	return e.newRunner(source.FromFSWith(files, source.Options{Repeatables: true}), opts)
}

// states is r's Status rendered as "name=state" items, in its order.
func states(t *testing.T, r *runner.Runner) string {
	t.Helper()
	st, err := r.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, m := range st.Migrations {
		key := m.Name
		if m.Repeatable {
			key = "R:" + key
		}
		parts = append(parts, key+"="+string(m.State))
	}
	return strings.Join(parts, " ")
}

func TestRepeatableAppliedAfterVersionedAndAgainWhenChanged(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// The view's file sorts before the table's by name; it must still
	// run after every versioned migration, and b_ after a_.
	files := fstest.MapFS{
		"001_t.sql":       {Data: []byte("-- pgmig:up\nCREATE TABLE t (id int);\n-- pgmig:down\nDROP TABLE t;\n")},
		"002_u.sql":       {Data: []byte("-- pgmig:up\nALTER TABLE t ADD COLUMN name text;\n-- pgmig:down\nALTER TABLE t DROP COLUMN name;\n")},
		"R__a_view.sql":   {Data: []byte("CREATE OR REPLACE VIEW v AS SELECT id, name FROM t;\n")},
		"R__b_second.sql": {Data: []byte("CREATE OR REPLACE VIEW v2 AS SELECT * FROM v;\n")},
	}
	r := e.repeatableRunner(files, runner.Options{})
	if got, want := states(t, r), "t=pending u=pending R:a_view=pending R:b_second=pending"; got != want {
		t.Fatalf("status before up: %s, want %s", got, want)
	}
	rep, err := r.Up(ctx, runner.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, s := range rep.Applied {
		order = append(order, s.Name)
	}
	if got, want := strings.Join(order, ","), "t,u,a_view,b_second"; got != want {
		t.Fatalf("applied %s, want %s", got, want)
	}
	if rep.Current == nil || *rep.Current != 2 {
		t.Fatalf("current = %v, want 2: a repeatable migration has no version", rep.Current)
	}
	if !e.exists("v2") {
		t.Fatal("view v2 was not created")
	}

	// Nothing changed: nothing to run.
	if rep, err = r.Up(ctx, runner.UpOptions{}); err != nil || len(rep.Applied) != 0 {
		t.Fatalf("second up applied %v, err %v; want nothing", rep.Applied, err)
	}

	// The view changes: status says outdated, up runs it alone again.
	files["R__a_view.sql"] = &fstest.MapFile{Data: []byte("CREATE OR REPLACE VIEW v AS SELECT id, name, 1 AS one FROM t;\n")}
	if got, want := states(t, r), "t=applied u=applied R:a_view=outdated R:b_second=applied"; got != want {
		t.Fatalf("status after the change: %s, want %s", got, want)
	}
	if _, err := r.Validate(ctx); err != nil {
		t.Fatalf("validate refused an outdated repeatable migration: %v", err)
	}
	if rep, err = r.Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) != 1 || rep.Applied[0].Name != "a_view" || !rep.Applied[0].Repeatable {
		t.Fatalf("up after the change applied %+v, want a_view alone", rep.Applied)
	}
	var one int
	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'v' AND column_name = 'one'").Scan(&one); err != nil || one != 1 {
		t.Fatalf("the changed view was not applied (column one: %d, %v)", one, err)
	}
	// One row per repeatable migration, upserted, with the new checksum.
	var rows int
	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM "+runner.DefaultTable+" WHERE repeatable AND name = 'a_view'").Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("rows of a_view: %d, %v; want 1", rows, err)
	}
	if got, want := states(t, r), "t=applied u=applied R:a_view=applied R:b_second=applied"; got != want {
		t.Fatalf("status after re-applying: %s, want %s", got, want)
	}

	// Rollback undoes versioned migrations only, and leaves the
	// repeatable rows alone.
	rep, err = r.Rollback(ctx, runner.RollbackOptions{Steps: 1})
	if err == nil {
		t.Fatalf("rollback of 002 under a view on its column succeeded: %+v", rep)
	}
	// The view depends on the column; drop it by hand, as a person would
	// before rolling back, and try again.
	if _, err := e.pool.Exec(ctx, "DROP VIEW v2; DROP VIEW v"); err != nil {
		t.Fatal(err)
	}
	if rep, err = r.Rollback(ctx, runner.RollbackOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.RolledBack {
		if s.Repeatable {
			t.Fatalf("rollback touched repeatable migration %s", s.Name)
		}
	}
	if len(rep.RolledBack) != 2 {
		t.Fatalf("rolled back %d, want 2", len(rep.RolledBack))
	}
	if got, want := states(t, r), "t=pending u=pending R:a_view=applied R:b_second=applied"; got != want {
		t.Fatalf("status after rollback: %s, want %s", got, want)
	}
}

func TestRepeatableUpgradesIntegerHistoryInPlace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{
		"001_t.sql": {Data: []byte("CREATE TABLE t (id int);\n")},
	}
	// An integer-only project: its table keeps the bigint layout.
	if _, err := e.repeatableRunner(files, runner.Options{}).Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := e.columnType("version"); got != "bigint" {
		t.Fatalf("version column of an integer-only project is %s, want bigint", got)
	}
	files["002_u.sql"] = &fstest.MapFile{Data: []byte("ALTER TABLE t ADD COLUMN n int;\n")}
	files["R__v.sql"] = &fstest.MapFile{Data: []byte("CREATE OR REPLACE VIEW v AS SELECT * FROM t;\n")}
	r := e.repeatableRunner(files, runner.Options{})
	// A dry run changes nothing, not even the layout.
	if _, err := r.Up(ctx, runner.UpOptions{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if got := e.columnType("version"); got != "bigint" {
		t.Fatalf("a dry run upgraded the table: version is %s", got)
	}
	rep, err := r.Up(ctx, runner.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) != 2 || rep.Applied[0].Version != 2 || rep.Applied[1].Name != "v" {
		t.Fatalf("applied %+v, want 002 then v", rep.Applied)
	}
	if got := e.columnType("version"); got != "text" {
		t.Fatalf("version column after the upgrade is %s, want text", got)
	}
	if got := e.columnType("version_key"); got != "bigint[]" {
		t.Fatalf("version_key column is %q, want bigint[]", got)
	}
	// The history kept survives, and the commands keyed by version work
	// on the new layout.
	if got, want := states(t, r), "t=applied u=applied R:v=applied"; got != want {
		t.Fatalf("status after the upgrade: %s, want %s", got, want)
	}
	// A no-transaction migration's row is written and updated by version
	// on the text column; repair updates a checksum by version too.
	files["003_i.sql"] = &fstest.MapFile{Data: []byte("-- pgmig:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);\n")}
	files["001_t.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE t (id int); -- edited\n")}
	changes, err := r.Repair(ctx)
	if err != nil || len(changes) != 1 || changes[0].Version != 1 {
		t.Fatalf("repair = %+v, %v; want 001's checksum updated", changes, err)
	}
	if rep, err = r.Up(ctx, runner.UpOptions{}); err != nil || len(rep.Applied) != 1 || rep.Applied[0].Version != 3 {
		t.Fatalf("up of a no-transaction migration on the upgraded table = %+v, %v", rep.Applied, err)
	}
	if got, want := states(t, r), "t=applied u=applied i=applied R:v=applied"; got != want {
		t.Fatalf("status after 003: %s, want %s", got, want)
	}
	if _, err := e.pool.Exec(ctx, "DROP VIEW v"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Redo(ctx); err == nil {
		t.Fatal("redo without a down section succeeded")
	}
	// A duplicate version is still refused by the table itself.
	if _, err := e.pool.Exec(ctx, "INSERT INTO "+runner.DefaultTable+" (version, name, checksum) VALUES ('2', 'x', 'x')"); err == nil {
		t.Fatal("the upgraded table took a second row for version 2")
	}
	if _, err := e.pool.Exec(ctx, "INSERT INTO "+runner.DefaultTable+" (version, name, checksum, repeatable) VALUES (NULL, 'v', 'x', true)"); err == nil {
		t.Fatal("the upgraded table took a second row for repeatable v")
	}
}

func TestRepeatableFailedUpgradeLeavesTableAsItWas(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{"001_t.sql": {Data: []byte("CREATE TABLE t (id int);\n")}}
	if _, err := e.repeatableRunner(files, runner.Options{}).Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	// The name of the upgrade's last index is taken: the upgrade's
	// last statement fails, after the others ran.
	if _, err := e.pool.Exec(ctx, "CREATE TABLE blocker (id int); CREATE INDEX pgmig_migrations_repeatable_key ON blocker (id)"); err != nil {
		t.Fatal(err)
	}
	files["R__v.sql"] = &fstest.MapFile{Data: []byte("CREATE OR REPLACE VIEW v AS SELECT * FROM t;\n")}
	_, err := e.repeatableRunner(files, runner.Options{}).Up(ctx, runner.UpOptions{})
	if err == nil || !strings.Contains(err.Error(), "upgrade tracking table") {
		t.Fatalf("up = %v, want the upgrade's error", err)
	}
	if got := e.columnType("version"); got != "bigint" {
		t.Fatalf("after a failed upgrade version is %s, want bigint", got)
	}
	if got := e.columnType("repeatable"); got != "" {
		t.Fatalf("after a failed upgrade the table has a repeatable column (%s)", got)
	}
	var pk int
	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'", runner.DefaultTable).Scan(&pk); err != nil || pk != 1 {
		t.Fatalf("primary keys after a failed upgrade: %d, %v; want 1", pk, err)
	}
	if got := e.history(""); got != "1" {
		t.Fatalf("history after a failed upgrade: %s, want 1", got)
	}
	if e.exists("v") {
		t.Fatal("the repeatable migration ran although the upgrade failed")
	}
}

func TestRepeatableNoTransactionRefused(t *testing.T) {
	e := newEnv(t)
	files := fstest.MapFS{
		"001_t.sql": {Data: []byte("CREATE TABLE t (id int);\n")},
		"R__i.sql":  {Data: []byte("-- pgmig:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (id);\n")},
	}
	_, err := e.repeatableRunner(files, runner.Options{}).Up(context.Background(), runner.UpOptions{})
	if !errors.Is(err, source.ErrInvalid) || !strings.Contains(err.Error(), "R__i.sql") {
		t.Fatalf("up = %v, want a file error naming R__i.sql", err)
	}
	if e.exists("t") {
		t.Fatal("001 was applied before the refusal")
	}
}

func TestRepeatableWaitsForBoundedUp(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{
		"001_t.sql": {Data: []byte("CREATE TABLE t (id int);\n")},
		"002_u.sql": {Data: []byte("ALTER TABLE t ADD COLUMN n int;\n")},
		"R__v.sql":  {Data: []byte("CREATE OR REPLACE VIEW v AS SELECT n FROM t;\n")},
	}
	r := e.repeatableRunner(files, runner.Options{})
	rep, err := r.Up(ctx, runner.UpOptions{To: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) != 1 || rep.Applied[0].Version != 1 {
		t.Fatalf("up --to 1 applied %+v, want 001 alone", rep.Applied)
	}
	if rep, err = r.Up(ctx, runner.UpOptions{SingleTransaction: true}); err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) != 2 || rep.Applied[1].Name != "v" {
		t.Fatalf("up applied %+v, want 002 then v", rep.Applied)
	}
	if !e.exists("v") {
		t.Fatal("view v missing after a single-transaction up")
	}
}

// columnType is the type of the tracking table's column, "" when it has
// none.
func (e *env) columnType(col string) string {
	e.t.Helper()
	var typ string
	err := e.pool.QueryRow(context.Background(), "SELECT coalesce((SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped), '')",
		runner.DefaultTable, col).Scan(&typ)
	if err != nil {
		e.t.Fatal(err)
	}
	return typ
}

// flywayCRC is Flyway's checksum as Flyway computes it: CRC-32 over the
// file's lines, each without its line break.
func flywayCRC(lines ...string) int32 {
	h := crc32.NewIEEE()
	for _, l := range lines {
		h.Write([]byte(l))
	}
	return int32(h.Sum32())
}

// zViewChecksum is Flyway's checksum of zViewFile, computed apart from
// pgmig as Flyway computes it (flyway-core's ChecksumCalculator): the file
// read line by line (BufferedReader.readLine, so without \n, \r or \r\n),
// the byte order mark dropped from the first line, CRC-32 over each line's
// UTF-8 bytes, cast to a Java int. In Python:
//
//	lines = re.split(r'\r\n|\r|\n', data.decode('utf-8'))
//	if lines[-1] == '': lines.pop()
//	if lines[0].startswith('\ufeff'): lines[0] = lines[0][1:]
//	crc = 0
//	for l in lines: crc = zlib.crc32(l.encode('utf-8'), crc)
//	crc - (1 << 32) if crc >= (1 << 31) else crc
//
// It is negative, so it also pins the signed cast.
const (
	zViewFile     = "\uFEFF-- la vue « café »\r\nCREATE OR REPLACE VIEW z AS\r\nSELECT 1 AS one;\n"
	zViewChecksum = -1966472685
)

// A repeatable file whose Flyway row holds the checksum Flyway computed
// is adopted as applied: pgmig's checksum agrees with a known value, not
// only with this package's own flywayCRC.
func TestRepeatableAdoptedFromFlywayKnownChecksum(t *testing.T) {
	if got := flywayCRC("-- la vue « café »", "CREATE OR REPLACE VIEW z AS", "SELECT 1 AS one;"); got != zViewChecksum {
		t.Fatalf("flywayCRC = %d, want Flyway's %d", got, zViewChecksum)
	}
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{
		"V1__t.sql":     {Data: []byte("CREATE TABLE t (id int);\n")},
		"R__z_view.sql": {Data: []byte(zViewFile)},
	}
	if _, err := e.pool.Exec(ctx, `CREATE TABLE t (id int); CREATE VIEW z AS SELECT 1 AS one;
`+flywayHistoryDDL); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO flyway_schema_history VALUES
  (1, '1', 't', 'SQL', 'V1__t.sql', 1, 'me', now(), 1, true),
  (2, NULL, 'z view', 'SQL', 'R__z_view.sql', $1, 'me', now(), 1, true)`, zViewChecksum); err != nil {
		t.Fatal(err)
	}
	r := e.repeatableRunner(files, runner.Options{})
	if _, err := r.Adopt(ctx, runner.Flyway, ""); err != nil {
		t.Fatal(err)
	}
	if got, want := states(t, r), "t=applied R:z_view=applied"; got != want {
		t.Fatalf("status after adopt: %s, want %s", got, want)
	}
}

func TestRepeatableAdoptedFromFlyway(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{
		"V1__t.sql": {Data: []byte("CREATE TABLE t (id int);\n")},
		// CRLF line breaks: Flyway's checksum ignores them.
		"R__a_view.sql": {Data: []byte("CREATE OR REPLACE VIEW v AS\r\nSELECT id FROM t;\r\n")},
		"R__b_fn.sql":   {Data: []byte("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 2';\n")},
		"R__c_new.sql":  {Data: []byte("CREATE OR REPLACE VIEW w AS SELECT 1 AS one;\n")},
	}
	// Flyway ran V1, the view as it is now, and the function first as it
	// is now and then in another form: the newest row counts.
	if _, err := e.pool.Exec(ctx, `CREATE TABLE t (id int); CREATE VIEW v AS SELECT id FROM t;
CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';
`+flywayHistoryDDL); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO flyway_schema_history VALUES
  (1, '1', 't', 'SQL', 'V1__t.sql', 1, 'me', now(), 1, true),
  (2, NULL, 'a view', 'SQL', 'R__a_view.sql', $1, 'me', now(), 1, true),
  (3, NULL, 'b fn', 'SQL', 'R__b_fn.sql', $2, 'me', now(), 1, true),
  (4, NULL, 'b fn', 'SQL', 'R__b_fn.sql', $3, 'me', now(), 1, true)`,
		flywayCRC("CREATE OR REPLACE VIEW v AS", "SELECT id FROM t;"),
		flywayCRC("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 2';"),
		flywayCRC("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';")); err != nil {
		t.Fatal(err)
	}
	r := e.repeatableRunner(files, runner.Options{})
	rep, err := r.Adopt(ctx, runner.Flyway, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Baselined) != 3 {
		t.Fatalf("adopted %+v, want V1, a_view and b_fn", rep.Baselined)
	}
	if got, want := states(t, r), "t=applied R:a_view=applied R:b_fn=outdated R:c_new=pending"; got != want {
		t.Fatalf("status after adopt: %s, want %s", got, want)
	}
	if rep, err = r.Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) != 2 || rep.Applied[0].Name != "b_fn" || rep.Applied[1].Name != "c_new" {
		t.Fatalf("up after adopt applied %+v, want b_fn and c_new", rep.Applied)
	}
	var two int
	if err := e.pool.QueryRow(ctx, "SELECT f()").Scan(&two); err != nil || two != 2 {
		t.Fatalf("f() = %d, %v after up; want 2", two, err)
	}
}

// TestRepeatableUnderLeaseLock runs repeatable migrations with the lease
// lock, whose guarded writes must each record exactly one row.
func TestRepeatableUnderLeaseLock(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{
		"001_t.sql": {Data: []byte("CREATE TABLE t (id int);\n")},
		"R__v.sql":  {Data: []byte("CREATE OR REPLACE VIEW v AS SELECT id FROM t;\n")},
	}
	newR := func() *runner.Runner { return e.repeatableRunner(files, runner.Options{LockMode: runner.LockTable}) }
	if rep, err := newR().Up(ctx, runner.UpOptions{}); err != nil || len(rep.Applied) != 2 {
		t.Fatalf("up = %+v, %v; want 001 and v", rep.Applied, err)
	}
	files["R__v.sql"] = &fstest.MapFile{Data: []byte("CREATE OR REPLACE VIEW v AS SELECT id, 1 AS one FROM t;\n")}
	if rep, err := newR().Up(ctx, runner.UpOptions{SingleTransaction: true}); err != nil || len(rep.Applied) != 1 {
		t.Fatalf("up of the changed view = %+v, %v; want v again", rep.Applied, err)
	}
	if got, want := states(t, newR()), "t=applied R:v=applied"; got != want {
		t.Fatalf("status: %s, want %s", got, want)
	}
}
