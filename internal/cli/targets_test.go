package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/lock"
	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/runner"
)

// fleetResult is one element of the --format json array.
type fleetResult struct {
	Target     string          `json:"target"`
	Outcome    string          `json:"outcome"`
	Code       int             `json:"code"`
	Canary     bool            `json:"canary"`
	LockBusy   int             `json:"lock_busy"`
	Current    *int64          `json:"current"`
	Applied    []jsonMigration `json:"applied"`
	Migrations []jsonMigration `json:"migrations"`
	Error      *errorDoc       `json:"error"`
}

func TestTargetsFile(t *testing.T) {
	t.Parallel()
	a, b, c := newDB(t), newDB(t), newDB(t)
	missing := pgtest.WithDatabase(pgtest.AdminURL(), "pgmig_no_such_db")
	withPassword := strings.Replace(b, "postgres@", "postgres:hunter2@", 1)
	file := filepath.Join(t.TempDir(), "targets")
	writeFile(t, file, fmt.Sprintf("# tenants\n%s\n\n%s\n  %s  \n# gone:\n%s\n", a, withPassword, missing, c))

	r := inproc(t, "--source", "builtin", "up", "--targets", file, "--parallel", "3", "--format", "json")
	wantCode(t, r, 1)
	if strings.Contains(r.stdout+r.stderr, "hunter2") {
		t.Fatalf("a password was printed:\n%s", r)
	}
	var rs []fleetResult
	oneJSON(t, r.stdout, &rs)
	if len(rs) != 4 {
		t.Fatalf("%d results, want 4:\n%s", len(rs), r)
	}
	for i, want := range []string{"ok", "ok", "failed", "ok"} {
		if rs[i].Outcome != want {
			t.Errorf("target %d (%s): %s, want %s", i, rs[i].Target, rs[i].Outcome, want)
		}
	}
	if rs[1].Target != strings.Replace(b, "postgres@", "postgres:xxxxx@", 1) {
		t.Errorf("target named %q, want the redacted URL", rs[1].Target)
	}
	if rs[2].Code != 1 || rs[2].Error == nil || !strings.Contains(rs[2].Error.Message, "pgmig_no_such_db") {
		t.Errorf("failed target: %+v", rs[2])
	}
	for _, db := range []string{a, b, c} {
		conn := connect(t, db)
		wantVersions(t, conn, 1, 2, 3, 4)
	}
	if rs[0].Current == nil || *rs[0].Current != 4 || len(rs[0].Applied) != 4 {
		t.Errorf("first target: %+v", rs[0])
	}

	// status over the same targets, as text: a table and a summary line.
	r = inproc(t, "--source", "builtin", "status", "--targets", file)
	wantCode(t, r, 1)
	wantContains(t, "status stdout", r.stdout, "TARGET", "4 targets: 3 ok, 1 failed")
	wantContains(t, "status stderr", r.stderr, "pgmig_no_such_db")
}

func TestRepeatedDatabaseURLAndWorstCode(t *testing.T) {
	t.Parallel()
	a, b := newDB(t), newDB(t)
	// Another run holds b's lock: b times out (exit 4), a succeeds; the
	// process exits with the worst code.
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "other-deploy"
	holder, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	if _, err := lock.Acquire(ctx, holder, runner.DefaultTable, lock.Options{}); err != nil {
		t.Fatal(err)
	}
	r := inproc(t, "-d", a, "--database-url", b, "--source", "builtin", "--lock-timeout", "300ms", "up", "--format", "json")
	wantCode(t, r, 4)
	var rs []fleetResult
	oneJSON(t, r.stdout, &rs)
	if len(rs) != 2 || rs[0].Outcome != "ok" || rs[1].Outcome != "failed" || rs[1].Code != 4 {
		t.Fatalf("results %+v", rs)
	}
	if !strings.Contains(rs[1].Error.Message, "other-deploy") {
		t.Errorf("lock timeout does not name the holder: %s", rs[1].Error.Message)
	}
	wantVersions(t, connect(t, a), 1, 2, 3, 4)
}

func TestCanaryAndFailFast(t *testing.T) {
	t.Parallel()
	good1, good2 := newDB(t), newDB(t)
	bad := pgtest.WithDatabase(pgtest.AdminURL(), "pgmig_canary_missing")
	file := filepath.Join(t.TempDir(), "targets")
	writeFile(t, file, bad+"\n"+good1+"\n"+good2+"\n")

	r := inproc(t, "--source", "builtin", "up", "--targets", file, "--canary", "1", "--parallel", "2", "--format", "json")
	wantCode(t, r, 1)
	var rs []fleetResult
	oneJSON(t, r.stdout, &rs)
	if rs[0].Outcome != "failed" || !rs[0].Canary || rs[1].Outcome != "skipped" || rs[2].Outcome != "skipped" {
		t.Fatalf("a failed canary must stop the rest: %+v", rs)
	}
	if exists(t, connect(t, good1), "users") {
		t.Fatal("a target after the failed canary was migrated")
	}

	// --fail-fast, one at a time: the failure stops what comes after it.
	writeFile(t, file, good1+"\n"+bad+"\n"+good2+"\n")
	r = inproc(t, "--source", "builtin", "up", "--targets", file, "--fail-fast", "--format", "json")
	wantCode(t, r, 1)
	oneJSON(t, r.stdout, &rs)
	if rs[0].Outcome != "ok" || rs[1].Outcome != "failed" || rs[2].Outcome != "skipped" {
		t.Fatalf("fail-fast: %+v", rs)
	}
}

func TestSchemasQuery(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	conn := connect(t, db)
	if _, err := conn.Exec(context.Background(), `CREATE SCHEMA tenant_a; CREATE SCHEMA tenant_b; CREATE SCHEMA "Tenant C"; CREATE SCHEMA other`); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "001_items.sql"), "-- pgmig:up\nCREATE TABLE items (id bigint);\n-- pgmig:down\nDROP TABLE items;\n")
	q := `SELECT nspname FROM pg_namespace WHERE nspname ILIKE 'tenant%' ORDER BY 1`
	r := inproc(t, "--database-url", db, "--source", src, "up", "--schemas-query", q, "--parallel", "3", "--format", "json")
	wantCode(t, r, 0)
	var rs []fleetResult
	oneJSON(t, r.stdout, &rs)
	if len(rs) != 3 || rs[0].Target != "Tenant C" || rs[1].Target != "tenant_a" {
		t.Fatalf("results %+v", rs)
	}
	for _, schema := range []string{`"Tenant C"`, "tenant_a", "tenant_b"} {
		for _, rel := range []string{schema + ".items", schema + ".pgmig_migrations"} {
			if !exists(t, conn, rel) {
				t.Errorf("%s missing: each schema gets its tables and its own tracking table", rel)
			}
		}
	}
	if exists(t, conn, "public.items") || exists(t, conn, "other.items") || exists(t, conn, "public.pgmig_migrations") {
		t.Error("a migration landed outside the target schemas")
	}
	// A second run finds each schema up to date.
	r = inproc(t, "--database-url", db, "--source", src, "status", "--schemas-query", q)
	wantCode(t, r, 0)
	wantContains(t, "status", r.stdout, "3 targets: 3 ok")
}

func TestTargetFlagsUsage(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "targets")
	if err := os.WriteFile(file, []byte("# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"up", "--parallel", "4"},                                  // without targets
		{"up", "--targets", file},                                  // empty list
		{"up", "--targets", "/no/such/file"},                       // unreadable
		{"rollback", "--targets", file},                            // not for rollback
		{"up", "--targets", file, "--schemas-query", "SELECT 1"},   // two kinds of targets
		{"-d", "postgres://a/x", "-d", "postgres://b/y", "repair"}, // repeated URL outside up/status/validate
	} {
		r := inproc(t, args...)
		if r.code != 2 {
			t.Errorf("pgmig %s: want exit 2, got %s", strings.Join(args, " "), r)
		}
	}
}

var _ = time.Second

// With --skip-locked a target whose lock another session holds is put
// aside and tried again until it is free; its report counts the tries
// that found it locked, and the others' count none.
func TestSkipLockedCountsBusyTries(t *testing.T) {
	t.Parallel()
	free, held := newDB(t), newDB(t)
	file := filepath.Join(t.TempDir(), "targets")
	writeFile(t, file, free+"\n"+held+"\n")
	c := connect(t, held)
	key := lock.Key(runner.DefaultTable)
	if _, err := c.Exec(context.Background(), "SELECT pg_advisory_lock($1)", key); err != nil {
		t.Fatal(err)
	}
	go func() {
		// Free it after the first tries: the run waits for it, then migrates it.
		time.Sleep(time.Second)
		c.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", key)
	}()
	r := inproc(t, "--source", "builtin", "up", "--targets", file, "--skip-locked", "--lock-timeout", "30s", "--format", "json")
	wantCode(t, r, 0)
	var rs []fleetResult
	oneJSON(t, r.stdout, &rs)
	if len(rs) != 2 {
		t.Fatalf("results %+v", rs)
	}
	for _, res := range rs {
		busy := res.Target == pgdb.Redact(held)
		if res.Outcome != "ok" || len(res.Applied) != 4 || (res.LockBusy > 0) != busy {
			t.Errorf("%s: %s, %d applied, lock_busy %d (held: %v)", res.Target, res.Outcome, len(res.Applied), res.LockBusy, busy)
		}
	}
	if !strings.Contains(r.stdout, `"lock_busy"`) {
		t.Errorf("no lock_busy in the JSON:\n%s", r.stdout)
	}
}

// mkfifo makes a FIFO at path, which nobody will write to.
func mkfifo(t *testing.T, path string) string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// linkZero makes path a symbolic link to /dev/zero, a file without end.
func linkZero(t *testing.T, path string) string {
	t.Helper()
	if err := os.Symlink("/dev/zero", path); err != nil {
		t.Fatal(err)
	}
	return path
}

// A targets file that is a FIFO, a device or a directory is refused as
// not a regular file, naming it, with nothing read from it: opening a
// FIFO used to block pgmig where no signal reached it, and /dev/zero
// would be read without end.
func TestTargetsFileNotRegular(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo, zero := mkfifo(t, filepath.Join(dir, "targets.fifo")), linkZero(t, filepath.Join(dir, "targets.zero"))
	for _, tc := range []struct{ file, kind string }{
		{fifo, "a named pipe (FIFO)"},
		{zero, "a character device"},
		{dir, "a directory"},
	} {
		r := exe(t, nil, "--database-url", "postgres://127.0.0.1:1/none", "up", "--targets", tc.file)
		wantCode(t, r, 2)
		wantContains(t, "stderr", r.stderr, tc.file+": is "+tc.kind+", not a regular file: read nothing from it")
	}
}

func TestTargetsUpLint(t *testing.T) {
	t.Parallel()
	fresh, migrated := newDB(t), newDB(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "001_t.sql"), "-- pgmig:up\nCREATE TABLE t (id bigint);\n")
	// An index built without CONCURRENTLY on a table an earlier file made:
	// a lint error wherever it is still pending.
	writeFile(t, filepath.Join(src, "002_idx.sql"), "-- pgmig:up\nCREATE INDEX t_id ON t (id);\n")
	wantCode(t, inproc(t, on(migrated, src, "up")...), 0)

	r := inproc(t, "--source", src, "-d", fresh, "-d", migrated, "up", "--lint", "--format", "json")
	wantCode(t, r, 3)
	var rs []fleetResult
	oneJSON(t, r.stdout, &rs)
	if len(rs) != 2 || rs[0].Outcome != "failed" || rs[0].Code != 3 || rs[1].Outcome != "ok" {
		t.Fatalf("results %+v", rs)
	}
	if !strings.Contains(rs[0].Error.Message, "index-not-concurrent") {
		t.Errorf("the lint failure does not name the rule: %s", rs[0].Error.Message)
	}
	if exists(t, connect(t, fresh), "t") {
		t.Error("a target with lint errors was migrated")
	}
}

// TestShardsSplitTheTargets: the shards of a list, run one after another
// as matrix jobs would, migrate every target once between them; a shard
// flag without several targets, or malformed, is a usage error.
func TestShardsSplitTheTargets(t *testing.T) {
	t.Parallel()
	dbs := []string{newDB(t), newDB(t), newDB(t), newDB(t), newDB(t)}
	file := filepath.Join(t.TempDir(), "targets")
	writeFile(t, file, strings.Join(dbs, "\n")+"\n")
	seen := map[string]int{}
	for i := range 3 {
		r := inproc(t, "--source", "builtin", "up", "--targets", file, "--shard", fmt.Sprintf("%d/3", i), "--skip-locked", "--format", "json")
		wantCode(t, r, 0)
		var rs []fleetResult
		oneJSON(t, r.stdout, &rs)
		for _, res := range rs {
			seen[res.Target]++
			if res.Outcome != "ok" || len(res.Applied) != 4 {
				t.Errorf("shard %d, %s: %s with %d applied", i, res.Target, res.Outcome, len(res.Applied))
			}
		}
	}
	if len(seen) != len(dbs) {
		t.Fatalf("the shards ran %d of %d targets: %v", len(seen), len(dbs), seen)
	}
	for target, n := range seen {
		if n != 1 {
			t.Errorf("%s ran in %d shards", target, n)
		}
	}
	for _, db := range dbs {
		wantVersions(t, connect(t, db), 1, 2, 3, 4)
	}
	wantCode(t, inproc(t, "--source", "builtin", "up", "--targets", file, "--shard", "3/3"), 2)
	wantCode(t, inproc(t, "--source", "builtin", "up", "-d", dbs[0], "--shard", "0/2"), 2)
}
