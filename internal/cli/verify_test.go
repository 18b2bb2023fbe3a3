package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/source"
)

var scratchRE = regexp.MustCompile(`name=(pgmig_(?:verify|drift)_[0-9a-f]+)`)

// scratchName finds the scratch database a --verbose run logged creating.
func scratchName(t *testing.T, r result) string {
	t.Helper()
	m := scratchRE.FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no scratch database in the log:\n%s", r)
	}
	return m[1]
}

// wantDropped checks that the database name no longer exists.
func wantDropped(t *testing.T, name string) {
	t.Helper()
	admin := connect(t, pgtest.AdminURL())
	if query[bool](t, admin, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name) {
		t.Errorf("scratch database %s is still there", name)
		admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
}

// withMigration copies the builtin migrations and adds file with sql.
func withMigration(t *testing.T, file, sql string) string {
	t.Helper()
	dir := copyFS(t, source.BuiltinFS())
	writeFile(t, filepath.Join(dir, file), sql)
	return dir
}

type verifyDoc struct {
	Verified []struct {
		Version int64  `json:"version"`
		Name    string `json:"name"`
	} `json:"verified"`
	OK         *bool `json:"ok"`
	Difference *struct {
		Version int64    `json:"version"`
		Name    string   `json:"name"`
		Step    string   `json:"step"`
		Objects []string `json:"objects"`
		Diff    string   `json:"diff"`
	} `json:"difference"`
	Error *struct {
		Message  string `json:"message"`
		Code     int    `json:"code"`
		SQLState string `json:"sqlstate"`
		File     string `json:"file"`
		Line     int    `json:"line"`
	} `json:"error"`
}

func TestVerifyBuiltin(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	r := inproc(t, on(db, "builtin", "verify", "--verbose")...)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout,
		"verified 001 create_users (up, down, up)\n",
		"verified 002 create_user_security (up, down, up)\n",
		"verified 003 create_audit_log (up, down, up)\n",
		"verified 004 create_sessions (up, down, up)\n",
		"verified 4 migrations in ")
	wantDropped(t, scratchName(t, r))
	// The database of --database-url only hosts the scratch one.
	wantRelations(t, connect(t, db), false, "public.users", "public.pgmig_migrations")

	r = inproc(t, on(db, "builtin", "verify", "--format", "json", "--verbose")...)
	wantCode(t, r, 0)
	var doc verifyDoc
	oneJSON(t, r.stdout, &doc)
	if doc.OK == nil || !*doc.OK || len(doc.Verified) != 4 || doc.Difference != nil || doc.Verified[3].Name != "create_sessions" {
		t.Errorf("JSON:\n%s", r.stdout)
	}
	wantDropped(t, scratchName(t, r))
}

// TestVerifyForgottenIndex: a down that drops the table it made but not
// the index it added to another table.
func TestVerifyForgottenIndex(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	dir := withMigration(t, "005_add_login_index.sql", `-- pgmig:up
CREATE INDEX idx_users_last_login ON users (last_login);
CREATE TABLE login_events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL);

-- pgmig:down
DROP TABLE login_events;
`)
	r := inproc(t, on(db, dir, "verify", "--verbose")...)
	wantCode(t, r, 3)
	wantContains(t, "stdout", r.stdout, "verified 004 create_sessions (up, down, up)\n")
	if strings.Contains(r.stdout, "verified 005") {
		t.Errorf("005 reported verified:\n%s", r)
	}
	wantContains(t, "stderr", r.stderr,
		"error: rolling back 005 add_login_index does not restore the schema before it\n",
		"  differs: index public.idx_users_last_login\n",
		"--- before 005 add_login_index\n+++ after rolling back 005 add_login_index\n",
		"\n+index public.idx_users_last_login CREATE INDEX idx_users_last_login ON public.users USING btree (last_login)\n")
	wantDropped(t, scratchName(t, r))

	r = inproc(t, on(db, dir, "verify", "--format", "json", "--verbose")...)
	wantCode(t, r, 3)
	var doc verifyDoc
	oneJSON(t, r.stdout, &doc)
	d := doc.Difference
	if doc.OK == nil || *doc.OK || len(doc.Verified) != 4 || d == nil || d.Version != 5 || d.Name != "add_login_index" || d.Step != "down" ||
		!slices.Equal(d.Objects, []string{"index public.idx_users_last_login"}) || !strings.Contains(d.Diff, "+index public.idx_users_last_login ") {
		t.Errorf("JSON:\n%s", r.stdout)
	}
	wantDropped(t, scratchName(t, r))
}

func TestVerifyFailingDown(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	dir := withMigration(t, "005_login_events.sql", `-- pgmig:up
CREATE TABLE login_events (id bigint);

-- pgmig:down
DROP TABLE login_event;
`)
	r := inproc(t, on(db, dir, "verify", "--verbose")...)
	wantCode(t, r, 3)
	wantContains(t, "stdout", r.stdout, "verified 004 create_sessions (up, down, up)\n")
	wantContains(t, "stderr", r.stderr,
		`error: rolling back 005 login_events: table "login_event" does not exist (SQLSTATE 42P01)`,
		"--> 005_login_events.sql:5:1",
		"5 | DROP TABLE login_event;")
	wantDropped(t, scratchName(t, r))

	r = inproc(t, on(db, dir, "verify", "--format", "json", "--verbose")...)
	wantCode(t, r, 3)
	var doc verifyDoc
	oneJSON(t, r.stdout, &doc)
	if doc.OK == nil || *doc.OK || len(doc.Verified) != 4 || doc.Error == nil || doc.Error.SQLState != "42P01" ||
		doc.Error.Code != 3 || doc.Error.File != "005_login_events.sql" || doc.Error.Line != 5 {
		t.Errorf("JSON:\n%s", r.stdout)
	}
	wantDropped(t, scratchName(t, r))
}

func TestVerifyFailingUp(t *testing.T) {
	t.Parallel()
	dir := withMigration(t, "005_bad.sql", "-- pgmig:up\nCREATE TABLE t (id nosuchtype);\n-- pgmig:down\nDROP TABLE t;\n")
	r := inproc(t, on(pgtest.NewDB(t), dir, "verify", "--verbose")...)
	wantCode(t, r, 3)
	wantContains(t, "stderr", r.stderr, `error: applying 005 bad: type "nosuchtype" does not exist`)
	wantDropped(t, scratchName(t, r))
}

func TestVerifyMissingDown(t *testing.T) {
	t.Parallel()
	dir := withMigration(t, "005_no_down.sql", "CREATE TABLE t (id int);\n")
	r := inproc(t, on(pgtest.NewDB(t), dir, "verify", "--verbose")...)
	wantCode(t, r, 3)
	wantContains(t, "stdout", r.stdout, "verified 004 create_sessions (up, down, up)\n")
	wantContains(t, "stderr", r.stderr, "cannot verify 005 no_down: migration 5 no_down has no down section")
	wantDropped(t, scratchName(t, r))
}

// TestVerifyUpNotRepeatable: an up whose second run after its down gives
// another schema (here, a name drawn at random).
func TestVerifyUpNotRepeatable(t *testing.T) {
	t.Parallel()
	dir := withMigration(t, "005_random.sql", `-- pgmig:up
DO $$ BEGIN EXECUTE format('CREATE TABLE t_%s (id int)', floor(random() * 1e9)::bigint); END $$;

-- pgmig:down
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT relname FROM pg_class WHERE relname LIKE 't\_%' AND relkind = 'r' AND relnamespace = 'public'::regnamespace LOOP
    EXECUTE format('DROP TABLE %I', r.relname);
  END LOOP;
END $$;
`)
	r := inproc(t, on(pgtest.NewDB(t), dir, "verify")...)
	wantCode(t, r, 3)
	wantContains(t, "stderr", r.stderr, "error: applying 005 random again after its down gives another schema than the first time")
}

// TestVerifyCustomTable: a tracking table in a schema of its own, which the
// runner creates with the table, is not a difference.
func TestVerifyCustomTable(t *testing.T) {
	t.Parallel()
	r := inproc(t, on(pgtest.NewDB(t), "builtin", "verify", "--table", "ops.history")...)
	wantCode(t, r, 0)
}

func TestVerifyDevURL(t *testing.T) {
	t.Parallel()
	dev := pgtest.NewDB(t)
	c := connect(t, dev)
	// No --database-url: the dev database is all it needs.
	r := inproc(t, "--source", "builtin", "--table", "ops.history", "verify", "--dev-url", dev)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "verified 004 create_sessions (up, down, up)\n")
	// Left as it was: empty, without the tracking table or its schema.
	wantRelations(t, c, false, "public.users", "ops.history")
	if query[bool](t, c, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'ops')") {
		t.Error("schema ops left behind in the dev database")
	}

	// A database with a table in it is refused, and left alone.
	if _, err := c.Exec(context.Background(), "CREATE TABLE keep (id int); INSERT INTO keep VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	r = inproc(t, "--source", "builtin", "verify", "--dev-url", dev)
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "--dev-url: the database is not empty (it holds table public.keep)")
	wantRelations(t, c, false, "public.users", "public.pgmig_migrations")
	wantRelations(t, c, true, "public.keep")
}

// TestVerifyWithoutCreateDB: a role that may not create databases is told
// so, and pointed at --dev-url.
func TestVerifyWithoutCreateDB(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	admin := connect(t, pgtest.AdminURL())
	var rnd [4]byte
	rand.Read(rnd[:])
	role := "pgmig_nocreatedb_" + hex.EncodeToString(rnd[:])
	if _, err := admin.Exec(context.Background(), "CREATE ROLE "+role+" LOGIN NOCREATEDB"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), pgtest.AdminURL())
		if err == nil {
			c.Exec(context.Background(), "DROP ROLE IF EXISTS "+role)
			c.Close(context.Background())
		}
	})
	u := strings.Replace(db, "postgres@", role+"@", 1)
	if u == db {
		t.Skipf("cannot put another role into the test URL %s", db)
	}
	r := inproc(t, on(u, "builtin", "verify")...)
	wantCode(t, r, 1)
	wantContains(t, "stderr", r.stderr, "permission denied to create database", "ALTER ROLE "+role+" CREATEDB", "--dev-url")
}

// TestVerifyCancelled: Ctrl-C in the middle of a migration still drops the
// scratch database.
func TestVerifyCancelled(t *testing.T) {
	t.Parallel()
	var rnd [4]byte
	rand.Read(rnd[:])
	marker := "verify_cancel_" + hex.EncodeToString(rnd[:])
	dir := withMigration(t, "005_slow.sql", "-- pgmig:up\nSELECT pg_sleep(60) /* "+marker+" */;\n-- pgmig:down\nSELECT 1;\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"pgmig"}, on(pgtest.NewDB(t), dir, "verify")...), io.Discard, io.Discard)
	}()
	admin := connect(t, pgtest.AdminURL())
	var scratch string
	deadline := time.Now().Add(30 * time.Second)
	for scratch == "" && time.Now().Before(deadline) {
		admin.QueryRow(context.Background(), "SELECT datname FROM pg_stat_activity WHERE query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()", marker).Scan(&scratch)
		time.Sleep(50 * time.Millisecond)
	}
	if scratch == "" {
		t.Fatal("the slow migration never started")
	}
	cancel()
	select {
	case code := <-done:
		if code != 1 {
			t.Errorf("exit %d after cancellation, want 1", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("verify did not return after cancellation")
	}
	if !strings.HasPrefix(scratch, "pgmig_verify_") {
		t.Fatalf("the migration ran in %s", scratch)
	}
	wantDropped(t, scratch)
}
