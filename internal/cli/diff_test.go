package cli

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgmig/pgmig/diff"
	"github.com/pgmig/pgmig/runner"
)

// TestDiffWritesProvenMigrations: diff writes the migrations that turn the
// source's schema into the desired one (the index on an existing table in
// a no-transaction file of its own), up applies them, and a second diff
// finds nothing to change; --dry-run writes nothing; a dropped column is
// refused (exit 3) without --allow-destructive, naming it.
func TestDiffWritesProvenMigrations(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "migrations")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "001_orders.sql"), "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, old text);\n")
	desired := filepath.Join(dir, "schema.sql")
	writeFile(t, desired, "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, old text, note text);\nCREATE INDEX orders_user_id_idx ON orders (user_id);\n")

	r := inproc(t, on(db, src, "diff", "--desired", desired, "--dry-run", "--format", "json")...)
	wantCode(t, r, 0)
	var dry struct {
		SQL     string `json:"sql"`
		Changes []struct{ Object, Action string }
	}
	oneJSON(t, r.stdout, &dry)
	if !strings.Contains(dry.SQL, "CREATE INDEX CONCURRENTLY") || len(dry.Changes) != 2 {
		t.Fatalf("dry run: %+v", dry)
	}
	if entries, _ := os.ReadDir(src); len(entries) != 1 {
		t.Fatalf("--dry-run wrote files: %v", entries)
	}

	r = inproc(t, on(db, src, "diff", "--desired", desired, "--name", "orders_note")...)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "created ", "002_orders_note.sql", "003_orders_note_concurrently.sql", "proven up and down")
	wantCode(t, inproc(t, on(db, src, "up")...), 0)
	r = inproc(t, on(db, src, "diff", "--desired", desired)...)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "nothing to change")

	writeFile(t, desired, "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, note text);\nCREATE INDEX orders_user_id_idx ON orders (user_id);\n")
	r = inproc(t, on(db, src, "diff", "--desired", desired)...)
	wantCode(t, r, 3)
	wantContains(t, "stderr", r.stderr, "public.orders.old", "--allow-destructive")
	if entries, _ := os.ReadDir(src); len(entries) != 3 {
		t.Fatalf("a refused diff wrote files: %v", entries)
	}
	wantCode(t, inproc(t, on(db, src, "diff", "--desired", filepath.Join(dir, "nope.sql"))...), 2)
}

// TestDiffRenameHints: where diff refuses a drop with an add in its place
// (a dropped column, destructive: exit 3; one that reads as a new column
// before the existing ones: exit 1), it names the --rename that would make
// it a rename, with the real names, and that --rename is accepted as
// written: the diff then renames.
func TestDiffRenameHints(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, migration, desired string
		extra                    []string
		code                     int
		hint, rename             string
	}{
		{"dropped and added column", "CREATE TABLE users (id bigint, email text, name text);", "CREATE TABLE users (id bigint, email text, full_name text);",
			nil, 3, "public.users.name=full_name", "RENAME COLUMN name TO full_name"},
		{"renamed column read as a new one before others", "CREATE TABLE t (a int, b int, c int);", "CREATE TABLE t (a int, x int, c int);",
			[]string{"--allow-destructive"}, 1, "public.t.b=x", "RENAME COLUMN b TO x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, src, desired := diffCase(t, tc.migration, tc.desired)
			args := append(on(db, src, "diff", "--desired", desired, "--dry-run"), tc.extra...)
			r := inproc(t, args...)
			wantCode(t, r, tc.code)
			old, nw, _ := strings.Cut(tc.hint, "=")
			tbl := old[:strings.LastIndex(old, ".")]
			wantContains(t, "stderr", r.stderr, "column "+old+" dropped and "+tbl+"."+nw+" added: if it is a rename, pass --rename "+tc.hint)
			if strings.Contains(r.stderr, "Options.Renames") {
				t.Errorf("stderr names the Go option, not the flag:\n%s", r.stderr)
			}
			r = inproc(t, append(args, "--rename", tc.hint)...)
			wantCode(t, r, 0)
			wantContains(t, "stdout", r.stdout, tc.rename)
		})
	}
}

// TestDiffFailedProofWritesNothing: where the generated migration does not
// do what it should on the scratch database, the pgmig binary exits 1,
// names what differs and writes no file. A partition whose columns are in
// an order of their own (created apart, then attached) is created
// PARTITION OF its parent, in the parent's order: the schema after the up
// differs from the desired one, a *diff.ProofError. A time column made
// timestamp, which has no cast, is refused before anything is applied.
func TestDiffFailedProofWritesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, migration, desired string
		want                     []string
	}{
		{"the schema after the up differs", "CREATE TABLE ev (at int, v int) PARTITION BY RANGE (at);",
			"CREATE TABLE ev (at int, v int) PARTITION BY RANGE (at); CREATE TABLE p1 (v int, at int); ALTER TABLE ev ATTACH PARTITION p1 FOR VALUES FROM (0) TO (10);",
			[]string{"after the generated up, the schema differs from the desired one in table public.p1", "+table public.p1 (v, at)"}},
		{"a type change with no cast", "CREATE TABLE t (id int, at time);", "CREATE TABLE t (id int, at timestamp);",
			[]string{"column public.t.at: changing the type from time without time zone to timestamp without time zone: PostgreSQL has no cast", "write this migration by hand"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, src, desired := diffCase(t, tc.migration, tc.desired)
			r := exe(t, nil, on(db, src, "diff", "--desired", desired, "--allow-destructive")...)
			wantCode(t, r, 1)
			wantContains(t, "stderr", r.stderr, tc.want...)
			if strings.Contains(r.stderr, "earlier migrations of this run stay applied") {
				t.Errorf("stderr speaks of a run of the user's migrations:\n%s", r.stderr)
			}
			entries, err := os.ReadDir(src)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != "001_init.sql" {
				t.Errorf("a failed proof changed the migrations directory: %v", entries)
			}
		})
	}
}

// A --desired that is, or holds, a FIFO or a device is a usage error
// naming it, with nothing read: a FIFO hung diff, /dev/zero filled its
// memory.
func TestDiffDesiredNotRegular(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := mkfifo(t, filepath.Join(dir, "schema.fifo"))
	schemaDir := filepath.Join(dir, "schema")
	if err := os.Mkdir(schemaDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(schemaDir, "a.sql"), "CREATE TABLE a (id int);\n")
	linkZero(t, filepath.Join(schemaDir, "b.sql"))
	src := filepath.Join(dir, "migrations")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ desired, want string }{
		{fifo, fifo + ": is a named pipe (FIFO), not a regular file: read nothing from it"},
		{"/dev/zero", "/dev/zero: is a character device, not a regular file"},
		{schemaDir, filepath.Join(schemaDir, "b.sql") + ": is a character device, not a regular file"},
	} {
		r := exe(t, nil, on("postgres://127.0.0.1:1/none", src, "diff", "--desired", tc.desired)...)
		wantCode(t, r, 2)
		wantContains(t, "stderr", r.stderr, tc.want)
	}
}

// diffCase makes a database and a directory holding the migration
// 001_init.sql and the desired schema schema.sql beside it.
func diffCase(t *testing.T, migration, desired string) (db, src, desiredFile string) {
	t.Helper()
	dir := t.TempDir()
	src = filepath.Join(dir, "migrations")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "001_init.sql"), migration+"\n")
	desiredFile = filepath.Join(dir, "schema.sql")
	writeFile(t, desiredFile, desired+"\n")
	return newDB(t), src, desiredFile
}

// A generated statement that failed on diff's scratch database is shown
// as the statement it was, with its caret, and said to have touched no
// database of the user's; a migration's own failure still says what of
// the run was kept.
func TestDiffApplyErrorRendering(t *testing.T) {
	t.Parallel()
	me := &runner.MigrationError{Version: 2, Name: "diff", Direction: runner.Up, File: "002_diff.sql", Line: 3, Column: 8, Statement: 1,
		SourceLine: "SELECT x::timestamp;", Err: errors.New("cannot cast")}
	for _, tc := range []struct {
		err       error
		want, not string
	}{
		{&diff.ApplyError{Step: "up", Err: me}, "this ran on diff's scratch database only: no file was written", "earlier migrations of this run stay applied"},
		{me, "earlier migrations of this run stay applied", "scratch database"},
	} {
		var stderr strings.Builder
		newPrinter(io.Discard, &stderr, false, false, false).error(tc.err, 1)
		wantContains(t, "stderr", stderr.String(), "002_diff.sql:3:8 (statement 1)", tc.want)
		if strings.Contains(stderr.String(), tc.not) {
			t.Errorf("stderr says %q:\n%s", tc.not, stderr.String())
		}
	}
}
