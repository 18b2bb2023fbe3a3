package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// goose's Go migrations: the CLI refuses a set holding them, naming each
// file, whatever the command; adopting a goose history accepts their
// versions (it runs nothing).
func TestGooseGoMigrationsCLI(t *testing.T) {
	t.Parallel()
	// The fixture is the source package's, at the root of the module.
	db, dir := newDB(t), copyFS(t, os.DirFS("../../testdata/tools/goose_go"))
	r := inproc(t, on(db, dir, "up")...)
	wantCode(t, r, 3)
	wantContains(t, "stderr", r.stderr, "00002_backfill_emails.go: goose migrations written in Go")

	c := connect(t, db)
	if _, err := c.Exec(t.Context(), `CREATE TABLE accounts (id bigint PRIMARY KEY, email text);
CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true);`); err != nil {
		t.Fatal(err)
	}
	r = inproc(t, on(db, dir, "baseline", "--from", "goose")...)
	wantCode(t, r, 0)
	wantVersions(t, c, 1, 2)
	// The Go migration is recorded; the files still hold one pgmig cannot
	// run, so up refuses, as before, and applies nothing.
	r = inproc(t, on(db, dir, "up")...)
	wantCode(t, r, 3)
	wantVersions(t, c, 1, 2)
}

// A statement that cannot run in a transaction, in a section of pgmig's own
// format that runs in one, is found before anything runs: validate and up
// both refuse with file:line and the fix, and the database is left as it
// was.
func TestNoTxPgmigRefusedCLI(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"validate", "up"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			r := inproc(t, on(db, toolFixture(t, "notx_pgmig"), cmd)...)
			wantCode(t, r, 3)
			wantContains(t, "stderr", r.stderr,
				`002_items_sku.sql:3: CREATE INDEX CONCURRENTLY cannot run inside a transaction block`,
				`begin the section with the line "-- pgmig:no-transaction"`)
			c := connect(t, db)
			if n := query[int64](t, c, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')`); n != 0 {
				t.Errorf("%s left %d tables in the database", cmd, n)
			}
		})
	}
}

// Files that Flyway or golang-migrate run outside a transaction are run so
// by pgmig too: the concurrent index build really happens on the server and
// leaves a valid index.
func TestNoTxByTheFilesToolCLI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, fixture string
		skip          []string
	}{
		{"flyway", "notx_flyway", nil},
		// 4_reindex mixes a REINDEX CONCURRENTLY with another statement,
		// which golang-migrate cannot run either; pgmig refuses it.
		{"golang-migrate", "notx_gm", []string{"4_reindex.up.sql"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			dir := toolFixture(t, tc.fixture, tc.skip...)
			r := inproc(t, on(db, dir, "up")...)
			wantCode(t, r, 0)
			c := connect(t, db)
			valid := query[*bool](t, c, `SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass('public.items_sku')`)
			if valid == nil || !*valid {
				t.Errorf("index items_sku valid = %v, want an index that is valid", valid)
			}
		})
	}
}

// toolFixture copies testdata/tools/name, at the root of the module (the
// source package's fixtures), as fixture does.
func toolFixture(t *testing.T, name string, skip ...string) string {
	t.Helper()
	return copyFS(t, os.DirFS(filepath.Join("..", "..", "testdata", "tools", name)), skip...)
}

// Each migration starts from the session as pgmig opened it: the
// search_path, settings and role the first migration of
// testdata/tools/session sets are reset before the second one runs, which
// records what it finds.
func TestSessionResetCLI(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c := connect(t, db)
	ctx := t.Context()
	// The role is the cluster's; it may be there from an earlier run. It
	// can write the tracking row the first migration ends with.
	if _, err := c.Exec(ctx, `DO $$ BEGIN
  CREATE ROLE pgmig_session_probe NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
GRANT USAGE ON SCHEMA public TO pgmig_session_probe;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO pgmig_session_probe;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO pgmig_session_probe;`); err != nil {
		// Default privileges, not pg_write_all_data: that role is
		// PostgreSQL 14's, and the matrix runs 13.
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// It owns nothing: the first migration creates its table before
		// SET ROLE. DROP OWNED takes back this database's grants to it.
		if _, err := c.Exec(context.Background(), "DROP OWNED BY pgmig_session_probe; DROP ROLE IF EXISTS pgmig_session_probe"); err != nil {
			t.Log(err)
		}
	})
	// A fresh session's values, which the second migration must see.
	var want [5]string
	if err := c.QueryRow(ctx, `SELECT current_setting('search_path'), current_setting('work_mem'),
current_setting('statement_timeout'), current_user, session_user`).Scan(&want[0], &want[1], &want[2], &want[3], &want[4]); err != nil {
		t.Fatal(err)
	}

	r := inproc(t, on(db, toolFixture(t, "session"), "up")...)
	wantCode(t, r, 0)
	var got [5]string
	if err := c.QueryRow(ctx, `SELECT search_path, work_mem, statement_timeout, current_role_name, session_role_name
FROM public.session_seen`).Scan(&got[0], &got[1], &got[2], &got[3], &got[4]); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("the second migration saw (search_path, work_mem, statement_timeout, current_user, session_user) = %q, want a fresh session's %q", got, want)
	}
	if got[1] == "7MB" || got[2] == "1234s" || got[3] == "pgmig_session_probe" {
		t.Errorf("the first migration's settings reached the second: %q", got)
	}
}
