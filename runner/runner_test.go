package runner_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/lock"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// env is one test's database, with a pool and a way to query it.
type env struct {
	t    *testing.T
	url  string
	pool *pgxpool.Pool
}

func newEnv(t *testing.T) *env {
	t.Helper()
	t.Parallel()
	url := pgtest.NewDB(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &env{t: t, url: url, pool: pool}
}

// newRunner is a Runner on this test's database reading src; the test
// stops when New refuses the options.
func (e *env) newRunner(src source.Source, opts runner.Options) *runner.Runner {
	e.t.Helper()
	r, err := runner.New(e.pool, src, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) runner(files fstest.MapFS, opts runner.Options) *runner.Runner {
	e.t.Helper()
	return e.newRunner(source.FromFS(files), opts)
}

func (e *env) exists(rel string) bool {
	e.t.Helper()
	var ok bool
	if err := e.pool.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", rel).Scan(&ok); err != nil {
		e.t.Fatal(err)
	}
	return ok
}

// history returns the recorded versions, failed ones marked with a '!'.
func (e *env) history(table string) string {
	e.t.Helper()
	if table == "" {
		table = runner.DefaultTable
	}
	h, err := e.recorded("SELECT version, success FROM " + table + " ORDER BY version")
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" {
		return "<no table>"
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// recorded runs query, which selects a version and whether its migration
// succeeded, and joins the versions with commas, failed ones marked '!'.
func (e *env) recorded(query string) (string, error) {
	rows, err := e.pool.Query(context.Background(), query)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var v any // a bigint or a text, as the table's layout has it
		var ok bool
		if err := rows.Scan(&v, &ok); err != nil {
			return "", err
		}
		s := fmt.Sprint(v)
		if !ok {
			s += "!"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ","), rows.Err()
}

func mig(up, down string) *fstest.MapFile {
	s := "-- pgmig:up\n" + up + "\n"
	if down != "" {
		s += "-- pgmig:down\n" + down + "\n"
	}
	return &fstest.MapFile{Data: []byte(s)}
}

// three is a small project: three tables, each with a down.
func three() fstest.MapFS {
	return fstest.MapFS{
		"001_a.sql": mig("CREATE TABLE a (id int);", "DROP TABLE a;"),
		"002_b.sql": mig("CREATE TABLE b (id int);", "DROP TABLE b;"),
		"003_c.sql": mig("CREATE TABLE c (id int);", "DROP TABLE c;"),
	}
}

func versions(steps []runner.Step) string {
	var parts []string
	for _, s := range steps {
		parts = append(parts, fmt.Sprint(s.Version))
	}
	return strings.Join(parts, ",")
}

func TestBuiltinSchema(t *testing.T) {
	e := newEnv(t)
	r := e.newRunner(source.Builtin(), runner.Options{})
	ctx := context.Background()
	rep, err := r.Up(ctx, runner.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := versions(rep.Applied); got != "1,2,3,4" {
		t.Fatalf("applied %s, want 1,2,3,4", got)
	}
	for _, rel := range []string{"users", "user_security", "audit_log", "user_sessions", "idx_users_email", "idx_sessions_expires", "idx_audit_created"} {
		if !e.exists(rel) {
			t.Errorf("%s missing after up", rel)
		}
	}
	ms, _ := source.Builtin().Migrations(ctx)
	var sum string
	if err := e.pool.QueryRow(ctx, "SELECT checksum FROM pgmig_migrations WHERE version = 3").Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if sum != ms[2].Checksum {
		t.Errorf("recorded checksum %s, want the file's %s", sum, ms[2].Checksum)
	}
	// Everything down again leaves no table behind.
	if _, err := r.Rollback(ctx, runner.RollbackOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"users", "user_security", "audit_log", "user_sessions"} {
		if e.exists(rel) {
			t.Errorf("%s still there after rollback --all", rel)
		}
	}
}

func TestUpAndRollbackBounds(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		up       runner.UpOptions
		rollback *runner.RollbackOptions
		want     string // history after
		current  string
	}{
		{"all", runner.UpOptions{}, nil, "1,2,3", "3"},
		{"to", runner.UpOptions{To: 2}, nil, "1,2", "2"},
		{"steps", runner.UpOptions{Steps: 1}, nil, "1", "1"},
		{"to and steps", runner.UpOptions{To: 3, Steps: 2}, nil, "1,2", "2"},
		{"rollback default one", runner.UpOptions{}, &runner.RollbackOptions{}, "1,2", "2"},
		{"rollback steps", runner.UpOptions{}, &runner.RollbackOptions{Steps: 2}, "1", "1"},
		{"rollback to keeps it", runner.UpOptions{}, &runner.RollbackOptions{To: 1}, "1", "1"},
		{"rollback all", runner.UpOptions{}, &runner.RollbackOptions{All: true}, "", "nil"},
		{"rollback more steps than applied", runner.UpOptions{To: 2}, &runner.RollbackOptions{Steps: 9}, "", "nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.runner(three(), runner.Options{})
			rep, err := r.Up(ctx, tc.up)
			if err != nil {
				t.Fatal(err)
			}
			if tc.rollback != nil {
				if rep, err = r.Rollback(ctx, *tc.rollback); err != nil {
					t.Fatal(err)
				}
			}
			if got := e.history(""); got != tc.want {
				t.Errorf("history %q, want %q", got, tc.want)
			}
			cur := "nil"
			if rep.Current != nil {
				cur = fmt.Sprint(*rep.Current)
			}
			if cur != tc.current {
				t.Errorf("report current %s, want %s", cur, tc.current)
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	e := newEnv(t)
	r := e.runner(three(), runner.Options{})
	ctx := context.Background()
	// The engine names its options as Go does; a CLI renders its flags.
	flag := func(o string) string {
		return "--" + strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(o, "UpOptions."), "RollbackOptions."))
	}
	_, err := r.Up(ctx, runner.UpOptions{To: 7})
	var oe *runner.OptionError
	if !errors.As(err, &oe) || !errors.Is(err, runner.ErrInvalidOption) || oe.Option != "UpOptions.To" ||
		err.Error() != "invalid option: UpOptions.To 7: no migration has that version" ||
		oe.Message(flag) != "--to 7: no migration has that version" {
		t.Errorf("up --to 7: %v (%+v), want an *OptionError naming UpOptions.To", err, oe)
	}
	_, err = r.Rollback(ctx, runner.RollbackOptions{Steps: 1, All: true})
	if !errors.As(err, &oe) || !errors.Is(err, runner.ErrInvalidOption) || strings.Join(oe.Options, " ") != "RollbackOptions.Steps RollbackOptions.To RollbackOptions.All" ||
		oe.Message(flag) != "choose one of --steps, --to and --all" {
		t.Errorf("rollback --steps --all: %v, want an *OptionError naming the three", err)
	}
	if _, err := r.Up(ctx, runner.UpOptions{Steps: -1}); !errors.As(err, &oe) || strings.Contains(err.Error(), "--") {
		t.Errorf("up --steps -1: %v, want an *OptionError naming no flag", err)
	}
	if _, err := r.Up(ctx, runner.UpOptions{To: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Rollback(ctx, runner.RollbackOptions{To: 3}); !errors.Is(err, runner.ErrInvalidOption) {
		t.Errorf("rollback --to an unapplied version: %v, want ErrInvalidOption", err)
	}
	for _, table := range []string{"a.b.c", "bad-name", "x; DROP TABLE y", `"q`, `""`, `a.`, `"a"b`} {
		if _, err := runner.New(e.pool, source.FromFS(three()), runner.Options{Table: table}); !errors.Is(err, runner.ErrInvalidOption) {
			t.Errorf("table %q: %v, want ErrInvalidOption", table, err)
		}
	}
	for _, opts := range []runner.Options{{DDLRetries: -1}, {LockTTL: -time.Second}, {LockMode: "advisory"}} {
		if _, err := runner.New(e.pool, source.FromFS(three()), opts); !errors.Is(err, runner.ErrInvalidOption) {
			t.Errorf("options %+v: %v, want ErrInvalidOption", opts, err)
		}
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	e := newEnv(t)
	r := e.runner(three(), runner.Options{})
	ctx := context.Background()
	rep, err := r.Up(ctx, runner.UpOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.DryRun || versions(rep.Applied) != "1,2,3" || rep.Current != nil {
		t.Fatalf("dry run report %+v: want 1,2,3 and current nil, as the database still is", rep)
	}
	if got := e.history(""); got != "<no table>" {
		t.Fatalf("dry run wrote history: %s", got)
	}
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err = r.Rollback(ctx, runner.RollbackOptions{Steps: 2, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if versions(rep.RolledBack) != "3,2" || rep.Current == nil || *rep.Current != 3 {
		t.Fatalf("rollback dry run: rolled back %s, current %v", versions(rep.RolledBack), rep.Current)
	}
	if got := e.history(""); got != "1,2,3" || !e.exists("c") {
		t.Fatalf("rollback dry run changed the database: history %s", got)
	}
}

func TestChecksumMismatchStopsEverything(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := three()
	r := e.runner(files, runner.Options{})
	if _, err := r.Up(ctx, runner.UpOptions{To: 2}); err != nil {
		t.Fatal(err)
	}
	files["001_a.sql"] = mig("CREATE TABLE a (id bigint);", "DROP TABLE a;")
	_, err := r.Up(ctx, runner.UpOptions{})
	var cm *runner.ChecksumMismatchError
	if !errors.As(err, &cm) || !errors.Is(err, runner.ErrValidation) {
		t.Fatalf("up after editing an applied file: %v, want ChecksumMismatchError", err)
	}
	if cm.Version != 1 || cm.File != "001_a.sql" || cm.Recorded == cm.Current {
		t.Errorf("mismatch %+v", cm)
	}
	if e.exists("c") || e.history("") != "1,2" {
		t.Fatal("up applied a pending migration despite a checksum mismatch")
	}
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Migrations[0].State != runner.Changed || st.Migrations[2].State != runner.Pending {
		t.Errorf("status states %s, %s", st.Migrations[0].State, st.Migrations[2].State)
	}
	changes, err := r.Repair(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Action != runner.UpdatedChecksum || changes[0].Version != 1 {
		t.Fatalf("repair changes %+v", changes)
	}
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatalf("up after repair: %v", err)
	}
}

func TestMissingAndOutOfOrder(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{
		"001_a.sql": mig("CREATE TABLE a (id int);", "DROP TABLE a;"),
		"003_c.sql": mig("CREATE TABLE c (id int);", "DROP TABLE c;"),
	}
	r := e.runner(files, runner.Options{})
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	files["002_b.sql"] = mig("CREATE TABLE b (id int);", "DROP TABLE b;")
	_, err := r.Up(ctx, runner.UpOptions{})
	var oo *runner.OutOfOrderError
	if !errors.As(err, &oo) || oo.Version != 2 || oo.Latest != 3 {
		t.Fatalf("out-of-order: %v", err)
	}
	if e.exists("b") {
		t.Fatal("out-of-order migration applied")
	}
	rep, err := e.runner(files, runner.Options{AllowOutOfOrder: true}).Up(ctx, runner.UpOptions{})
	if err != nil || versions(rep.Applied) != "2" || *rep.Current != 3 {
		t.Fatalf("allowed out-of-order: %v, applied %s", err, versions(rep.Applied))
	}

	delete(files, "001_a.sql")
	var mf *runner.MissingFileError
	if _, err := r.Validate(ctx); !errors.As(err, &mf) || mf.Version != 1 {
		t.Fatalf("validate with a missing file: %v", err)
	}
	// Rolling back what still has its file is fine; reaching the missing one is not.
	if _, err := r.Rollback(ctx, runner.RollbackOptions{All: true}); !errors.As(err, &mf) {
		t.Fatalf("rollback --all over a missing file: %v", err)
	}
	if e.history("") != "1,2,3" {
		t.Fatal("rollback undid something before refusing")
	}
}

func TestDuplicateVersions(t *testing.T) {
	e := newEnv(t)
	files := fstest.MapFS{"1_a.sql": mig("SELECT 1;", ""), "001_b.sql": mig("SELECT 1;", "")}
	_, err := e.runner(files, runner.Options{}).Up(context.Background(), runner.UpOptions{})
	var dv *source.DuplicateVersionError
	if !errors.As(err, &dv) || !errors.Is(err, source.ErrInvalid) {
		t.Fatalf("duplicate versions: %v", err)
	}
	if e.history("") != "<no table>" {
		t.Fatal("table created despite invalid files")
	}
}

func TestMissingDownChecksBeforeUndoing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{
		"001_a.sql": mig("CREATE TABLE a (id int);", "DROP TABLE a;"),
		"002_b.sql": mig("CREATE TABLE b (id int);", ""),
		"003_c.sql": mig("CREATE TABLE c (id int);", "DROP TABLE c;"),
	}
	r := e.runner(files, runner.Options{})
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := r.Rollback(ctx, runner.RollbackOptions{Steps: 2})
	var md *runner.MissingDownError
	if !errors.As(err, &md) || md.Version != 2 {
		t.Fatalf("rollback over a missing down: %v", err)
	}
	if !e.exists("c") || e.history("") != "1,2,3" {
		t.Fatal("003 was rolled back before the missing down of 002 was noticed")
	}
}

func TestSyntaxErrorMidFileLeavesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("-- pgmig:up\n-- a long migration\nCREATE TABLE first_half (id int);\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "INSERT INTO first_half VALUES (%d); -- é 日本\n", i)
	}
	b.WriteString("SELECT 'naïve 日本語', 1 +) 2;\n") // line 24, column 24 in characters
	b.WriteString("CREATE TABLE second_half (id int);\n-- pgmig:down\nDROP TABLE first_half;\n")
	files := fstest.MapFS{
		"001_ok.sql":  mig("CREATE TABLE ok (id int);", "DROP TABLE ok;"),
		"002_bad.sql": &fstest.MapFile{Data: []byte(b.String())},
	}
	_, err := e.runner(files, runner.Options{}).Up(ctx, runner.UpOptions{})
	var me *runner.MigrationError
	var pe *pgconn.PgError
	if !errors.As(err, &me) || !errors.As(err, &pe) {
		t.Fatalf("syntax error: %v, want a MigrationError over a PgError", err)
	}
	if pe.Code != "42601" || me.File != "002_bad.sql" || me.Line != 24 || me.Column != 24 {
		t.Errorf("reported %s:%d:%d SQLSTATE %s, want 002_bad.sql:24:24 42601", me.File, me.Line, me.Column, pe.Code)
	}
	if me.SourceLine != "SELECT 'naïve 日本語', 1 +) 2;" || me.Statement != 22 || me.NoTransaction {
		t.Errorf("source line %q statement %d", me.SourceLine, me.Statement)
	}
	if e.exists("first_half") || !e.exists("ok") || e.history("") != "1" {
		t.Fatalf("after a failed migration: first_half=%v ok=%v history=%s", e.exists("first_half"), e.exists("ok"), e.history(""))
	}
}

func TestRuntimeErrorMidFileNamesStatement(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sql := "-- pgmig:up\nCREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1);\n\n-- the duplicate:\nINSERT INTO t\n  VALUES (1);\nCREATE TABLE never (id int);\n"
	files := fstest.MapFS{"001_dup.sql": &fstest.MapFile{Data: []byte(sql)}}
	_, err := e.runner(files, runner.Options{}).Up(ctx, runner.UpOptions{})
	var me *runner.MigrationError
	var pe *pgconn.PgError
	if !errors.As(err, &me) || !errors.As(err, &pe) || pe.Code != "23505" {
		t.Fatalf("unique violation: %v", err)
	}
	// The server gives no position for a runtime error; the statement's
	// first line is the answer.
	if me.Statement != 3 || me.Line != 6 || me.SourceLine != "INSERT INTO t" {
		t.Errorf("reported statement %d line %d %q, want statement 3 at line 6", me.Statement, me.Line, me.SourceLine)
	}
	if e.exists("t") || e.history("") != "" {
		t.Fatal("failed migration left traces")
	}
}

func TestErrorAtCommit(t *testing.T) {
	e := newEnv(t)
	sql := `CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE ch (p int REFERENCES p DEFERRABLE INITIALLY DEFERRED);
INSERT INTO ch VALUES (42);`
	files := fstest.MapFS{"001_deferred.sql": mig(sql, "")}
	_, err := e.runner(files, runner.Options{}).Up(context.Background(), runner.UpOptions{})
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23503" {
		t.Fatalf("deferred FK violation: %v", err)
	}
	if e.exists("p") || e.history("") != "" {
		t.Fatal("migration failing at COMMIT left traces")
	}
}

func TestNoTransaction(t *testing.T) {
	ctx := context.Background()
	t.Run("success", func(t *testing.T) {
		e := newEnv(t)
		files := fstest.MapFS{
			"001_t.sql":   mig("CREATE TABLE t (id int);", "DROP TABLE t;"),
			"002_idx.sql": mig("-- pgmig:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\nCREATE INDEX CONCURRENTLY t_id2 ON t ((id + 1));", "-- pgmig:no-transaction\nDROP INDEX CONCURRENTLY t_id;\nDROP INDEX CONCURRENTLY t_id2;"),
		}
		r := e.runner(files, runner.Options{})
		if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
			t.Fatal(err)
		}
		if !e.exists("t_id") || !e.exists("t_id2") || e.history("") != "1,2" {
			t.Fatal("concurrent indexes not built or not recorded")
		}
		if _, err := r.Rollback(ctx, runner.RollbackOptions{}); err != nil {
			t.Fatal(err)
		}
		if e.exists("t_id") || e.history("") != "1" {
			t.Fatal("no-transaction down did not undo")
		}
	})
	t.Run("failure leaves a failed row", func(t *testing.T) {
		e := newEnv(t)
		files := fstest.MapFS{
			"001_t.sql":    mig("CREATE TABLE t (id int);", "DROP TABLE t;"),
			"002_idx.sql":  mig("-- pgmig:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\nCREATE INDEX CONCURRENTLY t_x ON t (nope);\nCREATE INDEX CONCURRENTLY t_z ON t (id);", ""),
			"003_more.sql": mig("CREATE TABLE more (id int);", ""),
		}
		r := e.runner(files, runner.Options{})
		_, err := r.Up(ctx, runner.UpOptions{})
		var me *runner.MigrationError
		if !errors.As(err, &me) || me.Statement != 2 || me.Line != 4 || me.Column != 37 || !me.NoTransaction {
			t.Fatalf("no-transaction failure: %v (%+v)", err, me)
		}
		if e.history("") != "1,2!" || !e.exists("t_id") || e.exists("t_z") || e.exists("more") {
			t.Fatalf("history %s after a failed no-transaction section", e.history(""))
		}
		var stmt int
		var msg string
		if err := e.pool.QueryRow(ctx, "SELECT failed_statement, error FROM pgmig_migrations WHERE version = 2").Scan(&stmt, &msg); err != nil {
			t.Fatal(err)
		}
		if stmt != 2 || !strings.Contains(msg, "nope") {
			t.Errorf("failed row says statement %d: %q", stmt, msg)
		}
		var dirty *runner.DirtyError
		if _, err := r.Up(ctx, runner.UpOptions{}); !errors.As(err, &dirty) || dirty.Version != 2 || dirty.Statement != 2 {
			t.Fatalf("up over a failed row: %v", err)
		}
		if _, err := r.Rollback(ctx, runner.RollbackOptions{}); !errors.As(err, &dirty) {
			t.Fatalf("rollback over a failed row: %v", err)
		}
		st, _ := r.Status(ctx)
		if st.Migrations[1].State != runner.Failed {
			t.Errorf("status says %s for the failed migration", st.Migrations[1].State)
		}
		changes, err := r.Repair(ctx)
		if err != nil || len(changes) != 1 || changes[0].Action != runner.RemovedFailed {
			t.Fatalf("repair: %v %+v", err, changes)
		}
		// Fixed by hand: the half-built index goes, then up runs it whole.
		if _, err := e.pool.Exec(ctx, "DROP INDEX t_id; ALTER TABLE t ADD COLUMN nope int"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
			t.Fatalf("up after repair: %v", err)
		}
		if e.history("") != "1,2,3" {
			t.Fatalf("history %s", e.history(""))
		}
	})
}

func TestBaseline(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.runner(three(), runner.Options{})
	if _, err := e.pool.Exec(ctx, "CREATE TABLE a (id int); CREATE TABLE b (id int)"); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Baseline(ctx, 2)
	if err != nil || versions(rep.Baselined) != "1,2" || *rep.Current != 2 {
		t.Fatalf("baseline: %v %+v", err, rep)
	}
	rep, err = r.Up(ctx, runner.UpOptions{})
	if err != nil || versions(rep.Applied) != "3" {
		t.Fatalf("up after baseline: %v, applied %s", err, versions(rep.Applied))
	}
	var he *runner.HistoryError
	if _, err := r.Baseline(ctx, 2); !errors.As(err, &he) || !errors.Is(err, runner.ErrValidation) {
		t.Fatalf("second baseline: %v, want HistoryError", err)
	}
	if _, err := r.Baseline(ctx, 9); !errors.Is(err, runner.ErrInvalidOption) {
		t.Fatalf("baseline of an unknown version: %v", err)
	}
}

func TestRedo(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := three()
	files["003_c.sql"] = mig("CREATE TABLE c (id int); INSERT INTO c VALUES (1);", "DROP TABLE c;")
	r := e.runner(files, runner.Options{})
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, "INSERT INTO c VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Redo(ctx)
	if err != nil || versions(rep.RolledBack) != "3" || versions(rep.Applied) != "3" {
		t.Fatalf("redo: %v %+v", err, rep)
	}
	var n int
	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM c").Scan(&n); err != nil || n != 1 {
		t.Fatalf("redo did not recreate c from scratch: %d rows, %v", n, err)
	}
}

func TestCustomTableAndStatusCreatesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.runner(three(), runner.Options{Table: "deploy.history"})
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != nil || len(st.Migrations) != 3 || st.Migrations[0].State != runner.Pending {
		t.Fatalf("status of a fresh database: %+v", st)
	}
	if e.exists("deploy.history") {
		t.Fatal("status created the tracking table")
	}
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if e.history("deploy.history") != "1,2,3" || e.exists("pgmig_migrations") {
		t.Fatal("custom table not used")
	}
	// An unqualified name lands in the current schema; a quoted one keeps
	// its case and spaces, an unquoted one folds to lower case.
	for _, tc := range []struct{ table, rel string }{
		{"other_history", "public.other_history"},
		{`"Deploy Log"."Hist"`, `"Deploy Log"."Hist"`},
		{"Deploy.Other", "deploy.other"},
	} {
		noop := fstest.MapFS{"001_noop.sql": mig("SELECT 1;", "")}
		if _, err := e.runner(noop, runner.Options{Table: tc.table}).Up(ctx, runner.UpOptions{}); err != nil {
			t.Fatalf("table %s: %v", tc.table, err)
		}
		if !e.exists(tc.rel) {
			t.Errorf("table %s: %s not created", tc.table, tc.rel)
		}
	}
}

// concurrentUps runs n ups of src at once, each with a pool of its own as
// separate processes would have, released together, and returns the
// versions each applied (vers); an error fails the test.
func (e *env) concurrentUps(n int, src source.Source) []string {
	e.t.Helper()
	ctx := context.Background()
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		applied = make(chan string, n)
		errs    = make(chan error, n)
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := pgxpool.New(ctx, e.url)
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			r, err := runner.New(pool, src, runner.Options{LockTimeout: time.Minute})
			if err != nil {
				errs <- err
				return
			}
			<-start
			rep, err := r.Up(ctx, runner.UpOptions{})
			applied <- vers(rep.Applied)
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	close(applied)
	for err := range errs {
		if err != nil {
			e.t.Error(err)
		}
	}
	var out []string
	for a := range applied {
		out = append(out, a)
	}
	return out
}

func TestConcurrentUpAppliesEachOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{}
	var seed strings.Builder
	seed.WriteString("CREATE TABLE counter (n int); INSERT INTO counter VALUES (0);")
	files["001_counter.sql"] = mig(seed.String(), "")
	for i := 2; i <= 20; i++ {
		files[fmt.Sprintf("%03d_m.sql", i)] = mig(fmt.Sprintf("CREATE TABLE t%d (id int); UPDATE counter SET n = n + 1;", i), "")
	}
	e.concurrentUps(8, source.FromFS(files))
	var n int
	if err := e.pool.QueryRow(ctx, "SELECT n FROM counter").Scan(&n); err != nil || n != 19 {
		t.Fatalf("counter %d (%v), want 19: some migration ran twice or not at all", n, err)
	}
}

func TestLockTimeout(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(e.url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "holder-test"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := lock.Acquire(ctx, conn, runner.DefaultTable, lock.Options{}); err != nil {
		t.Fatal(err)
	}
	var waited bool
	r := e.runner(three(), runner.Options{LockTimeout: 300 * time.Millisecond, OnEvent: func(ev runner.Event) {
		if ev.Kind == runner.LockWaiting && ev.Holder.ApplicationName == "holder-test" {
			waited = true
		}
	}})
	_, err = r.Up(ctx, runner.UpOptions{})
	var te *lock.TimeoutError
	if !errors.As(err, &te) || te.Holder == nil || te.Holder.ApplicationName != "holder-test" {
		t.Fatalf("up under a held lock: %v", err)
	}
	if !waited {
		t.Error("no LockWaiting event naming the holder")
	}
	if e.history("") != "<no table>" {
		t.Error("something was written without the lock")
	}
}

func TestEventsAndSessionSettingsDoNotLeak(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := three()
	files["001_a.sql"] = mig("SET search_path = nowhere, public; SET statement_timeout = '1h'; CREATE TABLE a (id int);", "DROP TABLE a;")
	var kinds []runner.EventKind
	r := e.runner(files, runner.Options{OnEvent: func(ev runner.Event) { kinds = append(kinds, ev.Kind) }})
	if _, err := r.Up(ctx, runner.UpOptions{To: 1}); err != nil {
		t.Fatal(err)
	}
	if len(kinds) != 2 || kinds[0] != runner.StepStarted || kinds[1] != runner.StepFinished {
		t.Errorf("events %v", kinds)
	}
	// The pool's connections never saw the migration's SET.
	for i := 0; i < 3; i++ {
		var to string
		if err := e.pool.QueryRow(ctx, "SHOW statement_timeout").Scan(&to); err != nil || to != "0" {
			t.Fatalf("statement_timeout %q leaked into the pool (%v)", to, err)
		}
	}
}

func TestTransactionControlRefused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, up string
		refused  bool
		line     int
		major    int // oldest server with the syntax
	}{
		{"commit", "CREATE TABLE a (id int);\nCOMMIT;", true, 3, 0},
		{"begin", "BEGIN;\nCREATE TABLE a (id int);", true, 2, 0},
		{"start transaction", "  start   transaction;", true, 2, 0},
		{"end", "CREATE TABLE a (id int);\n/* done */ END;", true, 3, 0},
		{"rollback", "ROLLBACK;", true, 2, 0},
		{"savepoints are fine", "SAVEPOINT s; CREATE TABLE a (id int); ROLLBACK TO SAVEPOINT s; RELEASE s; SAVEPOINT t; ROLLBACK WORK TO t;", false, 0, 0},
		{"function bodies are fine", "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;", false, 0, 0},
		{"begin atomic is fine", "CREATE TABLE a (id int); CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;", false, 0, 14},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.major > 0 {
				pgtest.RequireVersion(t, tc.major, "BEGIN ATOMIC")
			}
			e := newEnv(t)
			files := fstest.MapFS{"001_x.sql": mig(tc.up, "")}
			_, err := e.runner(files, runner.Options{}).Up(ctx, runner.UpOptions{})
			var tce *runner.TransactionControlError
			if got := errors.As(err, &tce); got != tc.refused || !tc.refused && err != nil {
				t.Fatalf("refused=%v (%v), want %v", got, err, tc.refused)
			}
			if tc.refused {
				if tce.Line != tc.line || !errors.Is(err, runner.ErrValidation) {
					t.Errorf("line %d, want %d (%v)", tce.Line, tc.line, err)
				}
				if e.history("") != "" {
					t.Error("something was applied")
				}
			}
		})
	}
}

// historyTracer closes read when a query naming the tracking table ends.
type historyTracer struct{ read chan struct{} }

func (h *historyTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, "pgmig_migrations") {
		return context.WithValue(ctx, h, true)
	}
	return ctx
}

func (h *historyTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if ctx.Value(h) != nil {
		select {
		case <-h.read:
		default:
			close(h.read)
		}
	}
}

// waitingSource returns its migrations once the history has been read.
type waitingSource struct {
	history <-chan struct{}
	ms      []source.Migration
}

func (w waitingSource) Migrations(ctx context.Context) ([]source.Migration, error) {
	select {
	case <-w.history:
		return w.ms, nil
	case <-time.After(30 * time.Second): // a deadlock breaker, not a timing bound
		return nil, errors.New("the history was not read while the files were")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestStatusReadsHistoryWhileFilesLoad: Status and Validate query the
// history while the files are still being read, rather than after.
func TestStatusReadsHistoryWhileFilesLoad(t *testing.T) {
	e := newEnv(t)
	files := fstest.MapFS{"001_a.sql": mig("CREATE TABLE a (id int);", "DROP TABLE a;")}
	if _, err := e.runner(files, runner.Options{}).Up(context.Background(), runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	ms, err := source.FromFS(files).Migrations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"Status", "Validate"} {
		cfg, err := pgxpool.ParseConfig(e.url)
		if err != nil {
			t.Fatal(err)
		}
		tr := &historyTracer{read: make(chan struct{})}
		cfg.ConnConfig.Tracer = tr
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		r, err := runner.New(pool, waitingSource{history: tr.read, ms: ms}, runner.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var st runner.Status
		if op == "Status" {
			st, err = r.Status(context.Background())
		} else {
			st, err = r.Validate(context.Background())
		}
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if len(st.Migrations) != 1 || st.Migrations[0].State != runner.Applied {
			t.Errorf("%s: %+v, want migration 1 applied", op, st.Migrations)
		}
	}
}

// TestStatusFilesErrorWins: when both the files and the history fail,
// Status reports the files' error, as it did when it read them first.
func TestStatusFilesErrorWins(t *testing.T) {
	e := newEnv(t)
	// A tracking table the history query cannot read.
	if _, err := e.pool.Exec(context.Background(), "CREATE TABLE pgmig_migrations (x int)"); err != nil {
		t.Fatal(err)
	}
	bad := fstest.MapFS{"001_a.sql": mig("SELECT 1;", ""), "001_b.sql": mig("SELECT 1;", "")}
	_, err := e.runner(bad, runner.Options{}).Status(context.Background())
	if !errors.Is(err, source.ErrInvalid) {
		t.Fatalf("Status: %v, want the files' error (source.ErrInvalid)", err)
	}
	if strings.Contains(err.Error(), `column "version" does not exist`) || strings.Contains(err.Error(), "SQLSTATE") {
		t.Errorf("Status: the history's error reached the caller: %v", err)
	}
	// The history's error alone is still reported.
	good := fstest.MapFS{"001_a.sql": mig("SELECT 1;", "")}
	if _, err := e.runner(good, runner.Options{}).Status(context.Background()); err == nil {
		t.Fatal("Status over an unreadable tracking table: no error")
	}
}
