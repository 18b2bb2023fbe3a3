package cli

import (
	"os"
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
