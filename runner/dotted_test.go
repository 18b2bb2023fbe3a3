package runner_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// flywayRunner reads files with Flyway's dotted versions admitted.
func (e *env) flywayRunner(files fstest.MapFS, opts runner.Options) *runner.Runner {
	e.t.Helper()
	return e.newRunner(source.FromFSWith(files, source.Options{FlywayVersions: true}), opts)
}

// textHistory returns the recorded versions as the table holds them, in
// Flyway's order, failed ones marked with a '!'; it reads either layout.
func (e *env) textHistory() string {
	e.t.Helper()
	h, err := e.recorded("SELECT version::text, success FROM " + runner.DefaultTable +
		" WHERE version IS NOT NULL ORDER BY string_to_array(version::text, '.')::bigint[]")
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// flyway is one Flyway V file creating table name, with its undo file.
func flyway(files fstest.MapFS, version, name string) {
	files["V"+version+"__"+name+".sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE " + name + " (id int);\n")}
	files["U"+version+"__"+name+".sql"] = &fstest.MapFile{Data: []byte("DROP TABLE " + name + ";\n")}
}

// dottedSet is a set whose name order, integer reading and Flyway's order
// all differ: 1.10 sorts after 1.9 and before 2, and V1_3 is 1.3.
func dottedSet() fstest.MapFS {
	files := fstest.MapFS{}
	for _, f := range [][2]string{{"1", "a"}, {"1.1", "b"}, {"1.2", "c"}, {"1_3", "d"}, {"1.10", "e"}, {"2", "f"}} {
		flyway(files, f[0], f[1])
	}
	return files
}

func vers(steps []runner.Step) string {
	var parts []string
	for _, s := range steps {
		parts = append(parts, s.Ver.String())
	}
	return strings.Join(parts, ",")
}

func mustVersion(t *testing.T, s string) source.Version {
	t.Helper()
	v, err := source.ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDottedVersionsApplyInFlywayOrder(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.flywayRunner(dottedSet(), runner.Options{})
	rep, err := r.Up(ctx, runner.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := vers(rep.Applied), "1,1.1,1.2,1.3,1.10,2"; got != want {
		t.Fatalf("applied %s, want %s", got, want)
	}
	// Integer versions keep their int64; dotted ones have none.
	if got, want := versions(rep.Applied), "1,0,0,0,0,2"; got != want {
		t.Errorf("int64 versions %s, want %s", got, want)
	}
	if rep.Current == nil || *rep.Current != 2 || rep.CurrentVer.String() != "2" {
		t.Errorf("current %v %q, want 2", rep.Current, rep.CurrentVer)
	}
	// Recorded with the dotted text, V1_3 as Flyway reads it.
	if got, want := e.textHistory(), "1,1.1,1.2,1.3,1.10,2"; got != want {
		t.Errorf("history %s, want %s", got, want)
	}
	if got := e.columnType("version"); got != "text" {
		t.Errorf("version column %s, want text (upgraded)", got)
	}
	if got, want := statusStates(t, r), "1=applied 1.1=applied 1.2=applied 1.3=applied 1.10=applied 2=applied"; got != want {
		t.Errorf("status %s, want %s", got, want)
	}
	// Nothing pending: a second run does nothing.
	if rep, err := r.Up(ctx, runner.UpOptions{}); err != nil || len(rep.Applied) != 0 {
		t.Errorf("second up: %v, %v", rep.Applied, err)
	}
}

// upIntegerSet applies a Flyway set with integer versions only, 1 and 2,
// and returns its files for a test to add to.
func (e *env) upIntegerSet() fstest.MapFS {
	e.t.Helper()
	files := fstest.MapFS{}
	flyway(files, "1", "a")
	flyway(files, "2", "b")
	if _, err := e.flywayRunner(files, runner.Options{}).Up(context.Background(), runner.UpOptions{}); err != nil {
		e.t.Fatal(err)
	}
	return files
}

// integerRows is the history rows of upIntegerSet's versions 1 and 2,
// version, time and checksum, in the order of orderBy: "version" before
// the table's upgrade, "version_key" after.
func (e *env) integerRows(orderBy string) string {
	e.t.Helper()
	var rows string
	if err := e.pool.QueryRow(context.Background(), "SELECT string_agg(version || ' ' || applied_at || ' ' || checksum, ';' ORDER BY "+orderBy+") FROM "+runner.DefaultTable+" WHERE version IN ('1', '2')").Scan(&rows); err != nil {
		e.t.Fatal(err)
	}
	return rows
}

func TestIntegerSetKeepsTheFirstTableLayout(t *testing.T) {
	e := newEnv(t)
	e.upIntegerSet()
	if got := e.columnType("version"); got != "bigint" {
		t.Fatalf("version column %s, want bigint: an integer-only set never upgrades", got)
	}
	if e.exists(runner.DefaultTable + "_version_key") {
		t.Fatal("the upgraded layout's index exists")
	}
}

func TestDottedVersionUpgradesAnIntegerTableInPlace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := e.upIntegerSet()
	before := e.integerRows("version")
	flyway(files, "2.1", "c")
	flyway(files, "3", "d")
	r := e.flywayRunner(files, runner.Options{})
	// A dry run reads the old layout and changes nothing, not even it.
	if rep, err := r.Up(ctx, runner.UpOptions{DryRun: true}); err != nil || vers(rep.Applied) != "2.1,3" {
		t.Fatalf("dry run: %v %v", vers(rep.Applied), err)
	}
	if got := e.columnType("version"); got != "bigint" {
		t.Fatalf("dry run changed the version column to %s", got)
	}
	rep, err := r.Up(ctx, runner.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := vers(rep.Applied), "2.1,3"; got != want {
		t.Fatalf("applied %s, want %s", got, want)
	}
	if got := e.columnType("version"); got != "text" {
		t.Fatalf("version column %s, want text", got)
	}
	// The rows written before keep their version, time and checksum.
	if after := e.integerRows("version_key"); after != before {
		t.Errorf("old rows changed by the upgrade:\n%s\nwant\n%s", after, before)
	}
	if got, want := e.textHistory(), "1,2,2.1,3"; got != want {
		t.Errorf("history %s, want %s", got, want)
	}
	// The upgraded table works for the integer versions as well.
	rb, err := r.Rollback(ctx, runner.RollbackOptions{To: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := vers(rb.RolledBack), "3,2.1"; got != want {
		t.Errorf("rolled back %s, want %s", got, want)
	}
	if e.exists("c") || e.exists("d") || !e.exists("b") {
		t.Errorf("tables after rollback --to 2: c %v d %v b %v", e.exists("c"), e.exists("d"), e.exists("b"))
	}
}

func TestUpAndRollbackToADottedVersion(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.flywayRunner(dottedSet(), runner.Options{})
	rep, err := r.Up(ctx, runner.UpOptions{ToVer: mustVersion(t, "1.1")})
	if err != nil {
		t.Fatal(err)
	}
	if got := vers(rep.Applied); got != "1,1.1" {
		t.Fatalf("up --to 1.1 applied %s", got)
	}
	if rep.Current != nil || rep.CurrentVer.String() != "1.1" {
		t.Errorf("current %v %q, want no int64 and 1.1", rep.Current, rep.CurrentVer)
	}
	// 1.01 is 1.1, as Flyway compares versions.
	if rep, err = r.Up(ctx, runner.UpOptions{ToVer: mustVersion(t, "1.01")}); err != nil || len(rep.Applied) != 0 {
		t.Errorf("up --to 1.01 after 1.1: %v %v", vers(rep.Applied), err)
	}
	_, err = r.Up(ctx, runner.UpOptions{ToVer: mustVersion(t, "1.4")})
	var oe *runner.OptionError
	if !errors.As(err, &oe) || oe.Option != "UpOptions.To" || !errors.Is(err, runner.ErrInvalidOption) || !strings.Contains(err.Error(), "UpOptions.To 1.4: no migration has that version") {
		t.Errorf("up --to 1.4: %v, want an *OptionError naming UpOptions.To", err)
	}
	if _, err := r.Up(ctx, runner.UpOptions{To: 2, ToVer: mustVersion(t, "1.2")}); !errors.As(err, &oe) {
		t.Errorf("To 2 and ToVer 1.2: %v, want an *OptionError", err)
	}
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}

	// Rolling back one step undoes 2; then --to 1.2 undoes 1.10 and 1.3.
	rb, err := r.Rollback(ctx, runner.RollbackOptions{})
	if err != nil || vers(rb.RolledBack) != "2" {
		t.Fatalf("rollback: %v %v", vers(rb.RolledBack), err)
	}
	if rb.CurrentVer.String() != "1.10" {
		t.Errorf("current after rollback %q, want 1.10", rb.CurrentVer)
	}
	if rb, err = r.Rollback(ctx, runner.RollbackOptions{ToVer: mustVersion(t, "1.2"), DryRun: true}); err != nil || vers(rb.RolledBack) != "1.10,1.3" || rb.PlannedVer.String() != "1.2" {
		t.Fatalf("rollback --to 1.2 --dry-run: %v planned %q, %v", vers(rb.RolledBack), rb.PlannedVer, err)
	}
	if rb, err = r.Rollback(ctx, runner.RollbackOptions{ToVer: mustVersion(t, "1.2")}); err != nil || vers(rb.RolledBack) != "1.10,1.3" {
		t.Fatalf("rollback --to 1.2: %v %v", vers(rb.RolledBack), err)
	}
	if got := e.textHistory(); got != "1,1.1,1.2" {
		t.Errorf("history %s", got)
	}
	if e.exists("d") || e.exists("e") || !e.exists("c") {
		t.Error("rollback --to 1.2 left the wrong tables")
	}
	if _, err := r.Rollback(ctx, runner.RollbackOptions{ToVer: mustVersion(t, "1.10")}); !errors.As(err, &oe) || oe.Option != "RollbackOptions.To" {
		t.Errorf("rollback --to an unapplied 1.10: %v", err)
	}
	// Redo takes the newest, a dotted one.
	redo, err := r.Redo(ctx)
	if err != nil || vers(redo.RolledBack) != "1.2" || vers(redo.Applied) != "1.2" {
		t.Fatalf("redo: %v %v %v", vers(redo.RolledBack), vers(redo.Applied), err)
	}
}

func TestDottedMigrationErrorsNameTheVersion(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{}
	flyway(files, "1", "a")
	files["V1.2__bad.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE ok (id int);\nSELECT nope;\n")}
	r := e.flywayRunner(files, runner.Options{})
	_, err := r.Up(ctx, runner.UpOptions{})
	var me *runner.MigrationError
	if !errors.As(err, &me) || me.Ver.String() != "1.2" || me.Line != 2 || !strings.HasPrefix(err.Error(), "apply 1.2 bad: V1.2__bad.sql:2:") {
		t.Fatalf("error %v (%+v), want apply 1.2 bad at line 2", err, me)
	}
	if got := e.textHistory(); got != "1" {
		t.Errorf("history %s after the failure, want 1", got)
	}

	// A pending 1.1 below the applied 1.2 is out of order.
	files["V1.2__bad.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE ok (id int);\n")}
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	flyway(files, "1.1", "late")
	_, err = r.Up(ctx, runner.UpOptions{})
	var oo *runner.OutOfOrderError
	if !errors.As(err, &oo) || oo.Ver.String() != "1.1" || oo.LatestVer.String() != "1.2" || !strings.Contains(err.Error(), "migration 1.1 late is pending but 1.2 is already applied") {
		t.Fatalf("error %v, want 1.1 out of order below 1.2", err)
	}
	if rep, err := e.flywayRunner(files, runner.Options{AllowOutOfOrder: true}).Up(ctx, runner.UpOptions{}); err != nil || vers(rep.Applied) != "1.1" {
		t.Fatalf("out-of-order up: %v %v", vers(rep.Applied), err)
	}
}

func TestBaselineAtADottedVersion(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.flywayRunner(dottedSet(), runner.Options{})
	rep, err := r.BaselineVersion(ctx, mustVersion(t, "1.2"))
	if err != nil {
		t.Fatal(err)
	}
	if got := vers(rep.Baselined); got != "1,1.1,1.2" || rep.CurrentVer.String() != "1.2" {
		t.Fatalf("baselined %s current %q", got, rep.CurrentVer)
	}
	if got := e.textHistory(); got != "1,1.1,1.2" {
		t.Errorf("history %s", got)
	}
}

// TestAdoptFlywayDottedHistory adopts a flyway_schema_history built as
// Flyway builds it, holding dotted versions, a baseline and an undo.
func TestAdoptFlywayDottedHistory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, flywayHistoryDDL+`;
INSERT INTO flyway_schema_history VALUES
  (1, '1', '<< Flyway Baseline >>', 'BASELINE', '<< Flyway Baseline >>', NULL, 'me', now(), 0, true),
  (2, '1.1', 'b', 'SQL', 'V1.1__b.sql', 1, 'me', now(), 5, true),
  (3, '1.2', 'c', 'SQL', 'V1.2__c.sql', 1, 'me', now(), 5, true),
  (4, '1.3', 'd', 'SQL', 'V1_3__d.sql', 1, 'me', now(), 5, true),
  (5, '1.3', 'd', 'UNDO_SQL', 'U1_3__d.sql', 1, 'me', now(), 5, true);
CREATE TABLE a (id int); CREATE TABLE b (id int); CREATE TABLE c (id int);`); err != nil {
		t.Fatal(err)
	}
	r := e.flywayRunner(dottedSet(), runner.Options{})
	rep, err := r.Adopt(ctx, runner.Flyway, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := vers(rep.Baselined); got != "1,1.1,1.2" || rep.CurrentVer.String() != "1.2" {
		t.Fatalf("adopted %s current %q, want 1,1.1,1.2", got, rep.CurrentVer)
	}
	if got := e.textHistory(); got != "1,1.1,1.2" {
		t.Fatalf("history %s", got)
	}
	up, err := r.Up(ctx, runner.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := vers(up.Applied); got != "1.3,1.10,2" {
		t.Errorf("up after adopt applied %s, want 1.3,1.10,2", got)
	}

}

func TestAdoptFlywayNamesADottedVersionNoFileHas(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, `CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), type varchar(20) NOT NULL, success boolean NOT NULL);
INSERT INTO flyway_schema_history VALUES (1, '1', 'SQL', true), (2, '1.9', 'SQL', true);`); err != nil {
		t.Fatal(err)
	}
	_, err := e.flywayRunner(dottedSet(), runner.Options{}).Adopt(ctx, runner.Flyway, "")
	var ae *runner.AdoptError
	if !errors.As(err, &ae) || len(ae.Vers) != 1 || ae.Vers[0].String() != "1.9" || !strings.Contains(err.Error(), "version(s) 1.9 as applied") {
		t.Fatalf("adopt of an unknown 1.9: %v", err)
	}
}

// TestDottedChangedMissingAndRepair: the history's dotted rows are found
// by status, validate and repair, however the file spells the version.
func TestDottedChangedMissingAndRepair(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := dottedSet()
	if _, err := e.flywayRunner(files, runner.Options{}).Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	// 1.1 renamed to 1.01 with another body; 1.10 gone.
	files["V1.01__b.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE b (id int); -- edited\n")}
	delete(files, "V1.1__b.sql")
	delete(files, "U1.1__b.sql")
	delete(files, "V1.10__e.sql")
	delete(files, "U1.10__e.sql")
	r := e.flywayRunner(files, runner.Options{})
	_, err := r.Validate(ctx)
	var cm *runner.ChecksumMismatchError
	var mf *runner.MissingFileError
	if !errors.As(err, &cm) || cm.Ver.String() != "1.01" || !errors.As(err, &mf) || mf.Ver.String() != "1.10" ||
		!strings.Contains(err.Error(), "migration 1.10 e is applied but its file is missing") {
		t.Fatalf("validate: %v, want 1.01 changed and 1.10 missing", err)
	}
	changes, err := r.Repair(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Ver.String() != "1.01" || changes[0].Action != runner.UpdatedChecksum {
		t.Fatalf("repair %+v, want 1.01's checksum updated", changes)
	}
	if got, want := statusStates(t, r), "1=applied 1.01=applied 1.2=applied 1.3=applied 1.10=missing 2=applied"; got != want {
		t.Errorf("status %s, want %s", got, want)
	}
}

// statusStates is Status's migrations as "version=state", in order.
func statusStates(t *testing.T, r *runner.Runner) string {
	t.Helper()
	st, err := r.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range st.Migrations {
		got = append(got, m.Ver.String()+"="+string(m.State))
	}
	return strings.Join(got, " ")
}

// Concurrent runs that each find a dotted version pending on an integer
// table: one takes the lock and upgrades the table, the others wait for it
// and find the table upgraded and nothing left to do. Every run succeeds,
// the table is upgraded once, and the history is whole.
func TestConcurrentUpUpgradesTheTableOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := e.upIntegerSet()
	before := e.integerRows("version")
	flyway(files, "3", "d")
	// The sleep keeps the lock held while the other runs reach it.
	files["V2.1__c.sql"] = &fstest.MapFile{Data: []byte("SELECT pg_sleep(0.3);\nCREATE TABLE c (id int);\n")}
	var got []string
	for _, a := range e.concurrentUps(4, source.FromFSWith(files, source.Options{FlywayVersions: true})) {
		if a != "" {
			got = append(got, a)
		}
	}
	if len(got) != 1 || got[0] != "2.1,3" {
		t.Errorf("runs applied %q, want one run applying 2.1,3 and the others nothing", got)
	}

	if typ := e.columnType("version"); typ != "text" {
		t.Fatalf("version column %s, want text", typ)
	}
	// One upgrade: the layout's columns, constraint and indexes once each,
	// and no primary key left.
	var layout string
	if err := e.pool.QueryRow(ctx, `SELECT
  (SELECT count(*) FROM pg_attribute WHERE attrelid = $1::regclass AND attname IN ('version_key', 'repeatable') AND NOT attisdropped) || ' columns, ' ||
  (SELECT count(*) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c') || ' check, ' ||
  (SELECT count(*) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p') || ' primary key, ' ||
  (SELECT count(*) FROM pg_index WHERE indrelid = $1::regclass AND indisunique) || ' unique indexes'`, runner.DefaultTable).Scan(&layout); err != nil {
		t.Fatal(err)
	}
	if want := "2 columns, 1 check, 0 primary key, 2 unique indexes"; layout != want {
		t.Errorf("tracking table has %s, want %s", layout, want)
	}
	if after := e.integerRows("version_key"); after != before {
		t.Errorf("old rows changed by the upgrade:\n%s\nwant\n%s", after, before)
	}
	if h, want := e.textHistory(), "1,2,2.1,3"; h != want {
		t.Errorf("history %s, want %s", h, want)
	}
}
