package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/source"
)

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
	r := inproc(t, on(db, "builtin", "verify")...)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout,
		"verified 001 create_users (up, down, up)\n",
		"verified 002 create_user_security (up, down, up)\n",
		"verified 003 create_audit_log (up, down, up)\n",
		"verified 004 create_sessions (up, down, up)\n",
		"verified 4 migrations in ")
	// The database of --database-url only hosts the scratch one.
	wantRelations(t, connect(t, db), false, "public.users", "public.pgmig_migrations")

	r = inproc(t, on(db, "builtin", "verify", "--format", "json")...)
	wantCode(t, r, 0)
	var doc verifyDoc
	oneJSON(t, r.stdout, &doc)
	if doc.OK == nil || !*doc.OK || len(doc.Verified) != 4 || doc.Difference != nil || doc.Verified[3].Name != "create_sessions" {
		t.Errorf("JSON:\n%s", r.stdout)
	}
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
	r := inproc(t, on(db, dir, "verify")...)
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

	r = inproc(t, on(db, dir, "verify", "--format", "json")...)
	wantCode(t, r, 3)
	var doc verifyDoc
	oneJSON(t, r.stdout, &doc)
	d := doc.Difference
	if doc.OK == nil || *doc.OK || len(doc.Verified) != 4 || d == nil || d.Version != 5 || d.Name != "add_login_index" || d.Step != "down" ||
		!slices.Equal(d.Objects, []string{"index public.idx_users_last_login"}) || !strings.Contains(d.Diff, "+index public.idx_users_last_login ") {
		t.Errorf("JSON:\n%s", r.stdout)
	}
}

func TestVerifyFailingDown(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	dir := withMigration(t, "005_login_events.sql", `-- pgmig:up
CREATE TABLE login_events (id bigint);

-- pgmig:down
DROP TABLE login_event;
`)
	r := inproc(t, on(db, dir, "verify")...)
	wantCode(t, r, 3)
	wantContains(t, "stdout", r.stdout, "verified 004 create_sessions (up, down, up)\n")
	wantContains(t, "stderr", r.stderr,
		`error: rolling back 005 login_events: table "login_event" does not exist (SQLSTATE 42P01)`,
		"--> 005_login_events.sql:5:1",
		"5 | DROP TABLE login_event;")

	r = inproc(t, on(db, dir, "verify", "--format", "json")...)
	wantCode(t, r, 3)
	var doc verifyDoc
	oneJSON(t, r.stdout, &doc)
	if doc.OK == nil || *doc.OK || len(doc.Verified) != 4 || doc.Error == nil || doc.Error.SQLState != "42P01" ||
		doc.Error.Code != 3 || doc.Error.File != "005_login_events.sql" || doc.Error.Line != 5 {
		t.Errorf("JSON:\n%s", r.stdout)
	}
}

func TestVerifyDevURL(t *testing.T) {
	t.Parallel()
	dev := pgtest.NewDB(t)
	c := connect(t, dev)
	// No --database-url: the dev database is all it needs.
	r := inproc(t, "--source", "builtin", "--table", "ops.history", "verify", "--dev-url", dev)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "verified 004 create_sessions (up, down, up)\n")

	// A database with a table in it is a bad --dev-url (check's tests see
	// that it is left alone).
	if _, err := c.Exec(context.Background(), "CREATE TABLE keep (id int); INSERT INTO keep VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	r = inproc(t, "--source", "builtin", "verify", "--dev-url", dev)
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "--dev-url: the database is not empty (it holds table public.keep)")
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
