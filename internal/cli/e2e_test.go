package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/mattn/go-runewidth"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/lock"
	"github.com/pgmig/pgmig/source"
)

// coreUpChecksum computes, independently of the source package, the
// checksum the contract promises for a core migration: the SHA-256 of the
// text between its "-- pgmig:up" and "-- pgmig:down" lines.
func coreUpChecksum(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "source", "core", file))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	up := strings.Index(s, "-- pgmig:up\n")
	down := strings.Index(s, "-- pgmig:down")
	if up < 0 || down < up {
		t.Fatalf("%s: no up and down markers", file)
	}
	sum := sha256.Sum256([]byte(s[up+len("-- pgmig:up\n") : down]))
	return hex.EncodeToString(sum[:])
}

var coreFiles = []string{"001_create_users.sql", "002_create_user_security.sql", "003_create_audit_log.sql", "004_create_sessions.sql"}
var coreTables = []string{"users", "user_security", "audit_log", "user_sessions"}

func TestCoreSchemaFromBuiltin(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c := connect(t, db)

	r := exe(t, nil, on(db, "builtin", "up")...)
	wantCode(t, r, 0)
	golden(t, "up_builtin", r.stdout)

	// Text up: exactly one line per migration, then the summary.
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("want 4 migration lines and a summary, got %d lines:\n%s", len(lines), r.stdout)
	}
	for i, f := range coreFiles {
		name := strings.TrimSuffix(f[4:], ".sql")
		re := regexp.MustCompile(`^applied +` + f[:3] + ` ` + name + ` \(\d+(\.\d+)? (ms|s)\)$`)
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d = %q, want it to match %s", i+1, lines[i], re)
		}
	}
	if re := regexp.MustCompile(`^applied 4 migrations in \d+(\.\d+)? (ms|s); now at version 004$`); !re.MatchString(lines[4]) {
		t.Errorf("summary = %q, want it to match %s", lines[4], re)
	}
	// stderr names the target, before anything changes, and says nothing else.
	if re := regexp.MustCompile(`^target: database pgmig_test_\w+ on [^ ]+:\d+, table public\.pgmig_migrations\n$`); !re.MatchString(r.stderr) {
		t.Errorf("a successful up wrote to stderr more than its target:\n%s", r.stderr)
	}

	wantRelations(t, c, true, coreTables...)
	wantRelations(t, c, true,
		"users_pkey", "users_email_key", "users_username_key",
		"idx_users_email", "idx_users_username", "idx_users_status",
		"user_security_pkey", "audit_log_pkey", "idx_audit_user", "idx_audit_created",
		"user_sessions_pkey", "user_sessions_refresh_token_id_key",
		"idx_sessions_user", "idx_sessions_token", "idx_sessions_expires")
	// Constraints: kind and, for foreign keys, the ON DELETE action.
	type con struct{ table, kind, onDelete string }
	rows, err := c.Query(context.Background(), `SELECT conrelid::regclass::text, contype::text, confdeltype::text
FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text = ANY($1)
  AND contype <> 'n' -- PostgreSQL 18 records NOT NULL here too
ORDER BY 1, 2, 3`, coreTables)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (con, error) {
		var k con
		return k, r.Scan(&k.table, &k.kind, &k.onDelete)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []con{
		{"audit_log", "f", "n"}, {"audit_log", "p", " "},
		{"user_security", "f", "c"}, {"user_security", "p", " "},
		{"user_sessions", "f", "c"}, {"user_sessions", "p", " "}, {"user_sessions", "u", " "},
		{"users", "c", " "}, {"users", "c", " "}, {"users", "p", " "}, {"users", "u", " "}, {"users", "u", " "},
	}
	if fmt.Sprint(cons) != fmt.Sprint(want) {
		t.Errorf("constraints (table, type, on delete) =\n%v, want\n%v", cons, want)
	}

	hs := wantVersions(t, c, 1, 2, 3, 4)
	for i, h := range hs {
		if want := coreUpChecksum(t, coreFiles[i]); h.Checksum != want {
			t.Errorf("version %d checksum = %s, want sha256 of the up section %s", h.Version, h.Checksum, want)
		}
		if !h.Success {
			t.Errorf("version %d not marked successful", h.Version)
		}
	}
	if by := query[string](t, c, "SELECT string_agg(DISTINCT applied_by, ',') FROM pgmig_migrations"); by != "postgres" {
		t.Errorf("applied_by = %q, want the current user", by)
	}

	// A second up has nothing to do.
	r = exe(t, nil, on(db, "builtin", "up")...)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "nothing to do", "at version 004")
	wantVersions(t, c, 1, 2, 3, 4)
}

func TestUpAndRollbackBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		runs    [][]string
		want    []int64
		present []string
		absent  []string
	}{
		{"up --to 003", [][]string{{"up", "--to", "003"}}, []int64{1, 2, 3}, coreTables[:3], coreTables[3:]},
		{"up --to 3 (versions compare as integers)", [][]string{{"up", "--to", "3"}}, []int64{1, 2, 3}, coreTables[:3], coreTables[3:]},
		{"up --steps 2", [][]string{{"up", "--steps", "2"}}, []int64{1, 2}, coreTables[:2], coreTables[2:]},
		{"up --steps twice", [][]string{{"up", "--steps", "1"}, {"up", "--steps", "2"}}, []int64{1, 2, 3}, coreTables[:3], coreTables[3:]},
		{"rollback one step by default", [][]string{{"up"}, {"rollback"}}, []int64{1, 2, 3}, coreTables[:3], coreTables[3:]},
		{"down is rollback", [][]string{{"up"}, {"down"}}, []int64{1, 2, 3}, coreTables[:3], coreTables[3:]},
		{"rollback --steps 2", [][]string{{"up"}, {"rollback", "--steps", "2"}}, []int64{1, 2}, coreTables[:2], coreTables[2:]},
		{"rollback --to 002 leaves 002 applied", [][]string{{"up"}, {"rollback", "--to", "002"}}, []int64{1, 2}, coreTables[:2], coreTables[2:]},
		{"rollback --all", [][]string{{"up"}, {"rollback", "--all"}}, nil, nil, coreTables},
		{"rollback --all then up", [][]string{{"up"}, {"rollback", "--all"}, {"up"}}, []int64{1, 2, 3, 4}, coreTables, nil},
		{"rollback on an empty database", [][]string{{"rollback"}}, nil, nil, coreTables},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			for _, args := range tc.runs {
				wantCode(t, inproc(t, on(db, "builtin", args...)...), 0)
			}
			c := connect(t, db)
			wantVersions(t, c, tc.want...)
			wantRelations(t, c, true, tc.present...)
			wantRelations(t, c, false, tc.absent...)
		})
	}
}

func TestRedo(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c := connect(t, db)
	wantCode(t, inproc(t, on(db, "builtin", "up")...), 0)
	// A row in the newest migration's table shows that redo really ran
	// its down and up sections: the table comes back empty.
	if _, err := c.Exec(context.Background(), `INSERT INTO users (email, username, password_hash) VALUES ('a@b.c', 'a', 'x');
INSERT INTO user_sessions (user_id, refresh_token_id, expires_at) SELECT id, gen_random_uuid(), now() FROM users`); err != nil {
		t.Fatal(err)
	}
	r := exe(t, nil, on(db, "builtin", "redo")...)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "rolled back 004 create_sessions", "applied     004 create_sessions", "redid 004")
	wantVersions(t, c, 1, 2, 3, 4)
	if n := query[int64](t, c, "SELECT count(*) FROM user_sessions"); n != 0 {
		t.Errorf("user_sessions has %d rows after redo, want 0 (recreated)", n)
	}
	if n := query[int64](t, c, "SELECT count(*) FROM users"); n != 1 {
		t.Errorf("users has %d rows after redo, want 1 (untouched)", n)
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c := connect(t, db)

	r := exe(t, nil, on(db, "builtin", "up", "--dry-run")...)
	wantCode(t, r, 0)
	golden(t, "up_dry_run", r.stdout)
	for _, f := range coreFiles {
		wantContains(t, "stdout", r.stdout, "would apply       "+f[:3]+" "+strings.TrimSuffix(f[4:], ".sql"))
	}
	wantRelations(t, c, false, "public.pgmig_migrations")
	wantRelations(t, c, false, coreTables...)

	wantCode(t, inproc(t, on(db, "builtin", "up", "--to", "2")...), 0)
	r = exe(t, nil, on(db, "builtin", "--format", "json", "up", "--dry-run", "--steps", "1")...)
	wantCode(t, r, 0)
	var doc struct {
		Applied    []map[string]any `json:"applied"`
		RolledBack []map[string]any `json:"rolled_back"`
		Current    *int64           `json:"current"`
		DryRun     bool             `json:"dry_run"`
	}
	oneJSON(t, r.stdout, &doc)
	if len(doc.Applied) != 1 || doc.Applied[0]["version"] != 3.0 || doc.Applied[0]["state"] != "pending" || !doc.DryRun || doc.Current == nil || *doc.Current != 2 || doc.RolledBack == nil {
		t.Errorf("dry run JSON: want one pending step 3, current 2, dry_run, rolled_back [], got\n%s", r.stdout)
	}

	r = exe(t, nil, on(db, "builtin", "rollback", "--all", "--dry-run")...)
	wantCode(t, r, 0)
	golden(t, "rollback_dry_run", r.stdout)
	wantVersions(t, c, 1, 2)
	wantRelations(t, c, true, coreTables[:2]...)
	wantRelations(t, c, false, coreTables[2:]...)
}

func TestChecksumTampering(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c := connect(t, db)
	dir := copyFS(t, source.BuiltinFS())
	wantCode(t, inproc(t, on(db, dir, "up", "--to", "2")...), 0)

	// Editing what is outside the up section keeps the checksum.
	path := filepath.Join(dir, "001_create_users.sql")
	orig, _ := os.ReadFile(path)
	writeFile(t, path, "-- a comment before the markers is not part of the up section\n"+string(orig)+"-- nor is the down section\n")
	wantCode(t, inproc(t, on(db, dir, "validate")...), 0)

	writeFile(t, path, strings.Replace(string(orig), "CREATE INDEX idx_users_status", "-- tampered\nCREATE INDEX idx_users_status", 1))
	recorded := coreUpChecksum(t, "001_create_users.sql")
	mig, err := source.Dir(dir).Migrations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	now := mig[0].Checksum
	if now == recorded {
		t.Fatal("the edit did not change the checksum")
	}

	r := exe(t, nil, on(db, dir, "up")...)
	wantCode(t, r, 3)
	golden(t, "checksum_mismatch", r.stderr)
	wantContains(t, "stderr", r.stderr, "001_create_users.sql", "migration 1 create_users", "pgmig repair")
	if r.stdout != "" {
		t.Errorf("a failed up wrote to stdout: %q", r.stdout)
	}
	// Pending 003 and 004 were not applied.
	wantVersions(t, c, 1, 2)
	wantRelations(t, c, false, coreTables[2:]...)

	je := wantJSONError(t, exe(t, nil, on(db, dir, "--format", "json", "up")...), 3)
	wantContains(t, "JSON message", je.Error.Message, "001_create_users.sql")
	wantCode(t, exe(t, nil, on(db, dir, "validate")...), 3)
	wantCode(t, exe(t, nil, on(db, dir, "rollback", "--all")...), 3)
	wantVersions(t, c, 1, 2)

	r = exe(t, nil, on(db, dir, "status")...)
	wantCode(t, r, 0)
	if !regexp.MustCompile(`(?m)^│ 001 +│ create_users +│ changed `).MatchString(r.stdout) {
		t.Errorf("status does not show 001 as changed:\n%s", r.stdout)
	}

	r = exe(t, nil, on(db, dir, "repair")...)
	wantCode(t, r, 0)
	golden(t, "repair_checksum", r.stdout)
	wantContains(t, "repair stdout", r.stdout, "001 create_users", recorded, now)
	if hs := wantVersions(t, c, 1, 2); len(hs) == 2 && hs[0].Checksum != now {
		t.Errorf("checksum after repair = %s, want %s", hs[0].Checksum, now)
	}
	r = exe(t, nil, on(db, dir, "repair")...)
	wantCode(t, r, 0)
	wantContains(t, "second repair stdout", r.stdout, "nothing to repair")
	wantCode(t, exe(t, nil, on(db, dir, "up")...), 0)
	wantVersions(t, c, 1, 2, 3, 4)
}

// colOf is the 1-based column, in characters, of sub in line.
func colOf(t *testing.T, line, sub string) int {
	t.Helper()
	i := strings.Index(line, sub)
	if i < 0 {
		t.Fatalf("%q not in %q", sub, line)
	}
	return utf8.RuneCountInString(line[:i]) + 1
}

// midfileSource copies testdata/midfile, the long migration
// TestErrorInTheMiddleOfALongFile fails in, to a directory of the test's
// own with the BROKEN line of 002_long.sql replaced by statement: the cases
// differ in that line alone.
func midfileSource(t *testing.T, statement string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"001_base.sql", "002_long.sql"} {
		b, err := os.ReadFile(filepath.Join("testdata", "midfile", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "002_long.sql" {
			const marker = "-- BROKEN: the test puts each case's failing statement on this line."
			if strings.Count(string(b), marker) != 1 {
				t.Fatalf("testdata/midfile/%s should hold the line %q once", name, marker)
			}
			b = []byte(strings.Replace(string(b), marker, statement, 1))
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestErrorInTheMiddleOfALongFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture   string // the golden file's name
		statement string // line 23 of testdata/midfile/002_long.sql, the one that fails
		token     string // where the error is; "" for the statement's start
		sqlstate  string
		message   string
	}{
		{"midfile_syntax", "UPDATE mid_a SET label = 'été 日本' WHERE id = 1 ANDD id > 0;",
			"ANDD", "42601", `syntax error at or near "ANDD"`},
		{"midfile_runtime", "UPDATE mid_a SET label = 'été 日本' WHERE id = 1 AND nosuch_column > 0;",
			"nosuch_column", "42703", `column "nosuch_column" does not exist`},
		// A unique violation has no error position: the statement's line.
		{"midfile_nopos", "INSERT INTO mid_b (id, note) VALUES (1, 'dupliqué 日本');",
			"", "23505", `duplicate key value violates unique constraint "mid_b_pkey"`},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			src := midfileSource(t, tc.statement)
			b, err := os.ReadFile(filepath.Join(src, "002_long.sql"))
			if err != nil {
				t.Fatal(err)
			}
			fileLines := strings.Split(string(b), "\n")
			if len(fileLines) != 41 || !strings.ContainsAny(fileLines[2]+fileLines[22], "é日") {
				t.Fatalf("fixture %s/002_long.sql should have 40 lines and multi-byte text before the error", tc.fixture)
			}
			line := fileLines[22]
			col := 1
			if tc.token != "" {
				col = colOf(t, line, tc.token)
			}
			loc := fmt.Sprintf("002_long.sql:23:%d", col)

			db := newDB(t)
			c := connect(t, db)
			r := exe(t, nil, on(db, src, "up")...)
			wantCode(t, r, 1)
			golden(t, tc.fixture, r.stderr)
			wantContains(t, "stderr", r.stderr, loc, tc.message, "SQLSTATE "+tc.sqlstate)
			// The offending line, then a caret under the column, counting
			// wide characters as two cells as a terminal does.
			errLines := strings.Split(r.stderr, "\n")
			caret := -1
			for i, l := range errLines {
				if l == "23 | "+line && i+1 < len(errLines) {
					caret = i + 1
				}
			}
			if caret < 0 {
				t.Fatalf("stderr does not show line 23 as %q:\n%s", "23 | "+line, r.stderr)
			}
			pad, ok := strings.CutPrefix(errLines[caret], "   | ")
			if !ok || !strings.HasSuffix(pad, "^") || strings.TrimSpace(pad) != "^" {
				t.Fatalf("no caret line under line 23: %q", errLines[caret])
			}
			prefix := string([]rune(line)[:col-1])
			if got, want := runewidth.StringWidth(strings.TrimSuffix(pad, "^")), runewidth.StringWidth(prefix); got != want {
				t.Errorf("caret at display column %d, want %d (under %q)", got+1, want+1, string([]rune(line)[col-1:]))
			}

			// The failed migration left nothing; 001, applied by the same
			// run, stays.
			hs := wantVersions(t, c, 1)
			if len(hs) == 1 && hs[0].Name != "base" {
				t.Errorf("history row %+v", hs[0])
			}
			wantRelations(t, c, true, "base")
			wantRelations(t, c, false, "mid_a", "mid_b", "mid_c", "mid_b_note")

			je := wantJSONError(t, exe(t, nil, on(db, src, "--format", "json", "up")...), 1)
			if je.Error.SQLState != tc.sqlstate || je.Error.File != "002_long.sql" || je.Error.Line != 23 || je.Error.Column != col {
				t.Errorf("JSON error = %+v, want sqlstate %s, file 002_long.sql, line 23, column %d", *je.Error, tc.sqlstate, col)
			}
			wantVersions(t, c, 1)
		})
	}
}

func TestOutOfOrder(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c := connect(t, db)
	dir := fixture(t, "gap", "002_second.sql")
	wantCode(t, inproc(t, on(db, dir, "up")...), 0)
	wantVersions(t, c, 1, 3)

	b, _ := os.ReadFile(filepath.Join("testdata", "gap", "002_second.sql"))
	writeFile(t, filepath.Join(dir, "002_second.sql"), string(b))
	r := exe(t, nil, on(db, dir, "up")...)
	wantCode(t, r, 3)
	wantContains(t, "stderr", r.stderr, "migration 2 second", "3 is already applied", "--allow-out-of-order")
	wantRelations(t, c, false, "gap_second")
	wantVersions(t, c, 1, 3)
	wantCode(t, exe(t, nil, on(db, dir, "validate")...), 3)
	wantJSONError(t, exe(t, nil, on(db, dir, "--format", "json", "up")...), 3)

	r = exe(t, nil, on(db, dir, "up", "--allow-out-of-order")...)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "applied     002 second")
	wantRelations(t, c, true, "gap_second")
	wantVersions(t, c, 1, 2, 3)
	wantCode(t, exe(t, nil, on(db, dir, "validate")...), 0)
}

func TestInvalidFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files []string // files the message must name
	}{
		{"duplicate", []string{"1_a.sql", "001_b.sql", "version 1"}},
		{"badname", []string{"create_things.sql", "002-dash.sql"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			c := connect(t, db)
			src := filepath.Join("testdata", tc.name)
			for _, cmd := range [][]string{{"up"}, {"validate"}, {"status"}, {"rollback"}} {
				r := inproc(t, on(db, src, cmd...)...)
				wantCode(t, r, 3)
				wantContains(t, "stderr of "+cmd[0], r.stderr, tc.files...)
				je := wantJSONError(t, inproc(t, on(db, src, append([]string{"--format", "json"}, cmd...)...)...), 3)
				wantContains(t, "JSON message", je.Error.Message, tc.files...)
			}
			if strings.Contains(inproc(t, on(db, src, "validate")...).stderr, "README.md") {
				t.Error("a file that is not .sql was reported")
			}
			wantRelations(t, c, false, "public.pgmig_migrations", "dup_a", "dup_b", "dup_c", "bad_ok")
		})
	}
}

func TestRollbackChecksEveryDownFirst(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c := connect(t, db)
	src := filepath.Join("testdata", "nodown")
	wantCode(t, inproc(t, on(db, src, "up")...), 0)

	// 003 has a down section, 002 has none: nothing may be undone.
	r := exe(t, nil, on(db, src, "rollback", "--steps", "2")...)
	wantCode(t, r, 3)
	wantContains(t, "stderr", r.stderr, "migration 2 b", "002_b.sql", "no down section")
	wantVersions(t, c, 1, 2, 3)
	wantRelations(t, c, true, "nd_a", "nd_b", "nd_c")
	wantCode(t, exe(t, nil, on(db, src, "rollback", "--all")...), 3)
	wantCode(t, exe(t, nil, on(db, src, "rollback", "--to", "1")...), 3)
	wantVersions(t, c, 1, 2, 3)

	wantCode(t, exe(t, nil, on(db, src, "rollback")...), 0)
	wantVersions(t, c, 1, 2)
	wantRelations(t, c, false, "nd_c")
	wantJSONError(t, exe(t, nil, on(db, src, "--format", "json", "rollback")...), 3)
	wantVersions(t, c, 1, 2)
}

func TestNoTransaction(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c := connect(t, db)
	src := filepath.Join("testdata", "notx")
	r := exe(t, nil, on(db, src, "up")...)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "applied     002 index")
	hs := wantVersions(t, c, 1, 2)
	for _, h := range hs {
		if !h.Success || h.Error != "" || h.FailedStatement != 0 {
			t.Errorf("history row %+v, want a clean success", h)
		}
	}
	if n := query[int64](t, c, "SELECT count(*) FROM pg_index WHERE indrelid = 'items'::regclass AND indisvalid AND indexrelid::regclass::text IN ('items_sku', 'items_price')"); n != 2 {
		t.Errorf("%d valid concurrent indexes, want 2", n)
	}
	wantCode(t, exe(t, nil, on(db, src, "rollback")...), 0)
	wantRelations(t, c, false, "items_sku", "items_price")
	wantVersions(t, c, 1)
}

func TestNoTransactionFailure(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c := connect(t, db)
	dir := fixture(t, "notx_fail")
	b, _ := os.ReadFile(filepath.Join(dir, "002_index.sql"))
	failing := strings.Split(string(b), "\n")[4]

	r := exe(t, nil, on(db, dir, "up")...)
	wantCode(t, r, 1)
	golden(t, "notx_fail", r.stderr)
	wantContains(t, "stderr", r.stderr, fmt.Sprintf("002_index.sql:5:%d (statement 2)", colOf(t, failing, "no_such_column")), "5 | "+failing, "pgmig repair")
	if strings.Contains(r.stderr, "nothing of this migration was kept") {
		t.Errorf("stderr claims nothing was kept, but statement 1 ran outside a transaction:\n%s", r.stderr)
	}
	hs := history(t, c, "public.pgmig_migrations")
	if len(hs) != 2 || hs[1].Version != 2 || hs[1].Success || hs[1].FailedStatement != 2 || !strings.Contains(hs[1].Error, "no_such_column") {
		t.Fatalf("history = %+v, want 001 and a failed 002 naming statement 2 and its error", hs)
	}
	wantRelations(t, c, true, "items_sku")
	wantRelations(t, c, false, "items_expr", "items_price", "after_failed")

	for _, cmd := range [][]string{{"up"}, {"validate"}, {"rollback"}, {"redo"}} {
		r = exe(t, nil, on(db, dir, cmd...)...)
		wantCode(t, r, 3)
		wantContains(t, cmd[0]+" stderr", r.stderr, "migration 2 index failed part-way", "statement 2", "pgmig repair")
	}
	wantRelations(t, c, false, "after_failed")

	r = exe(t, nil, on(db, dir, "status")...)
	wantCode(t, r, 0)
	if !regexp.MustCompile(`(?m)^│ 002 +│ index +│ failed `).MatchString(r.stdout) {
		t.Errorf("status does not show 002 as failed:\n%s", r.stdout)
	}
	var st struct {
		Current    *int64 `json:"current"`
		Migrations []struct {
			Version int64  `json:"version"`
			State   string `json:"state"`
			Error   string `json:"error"`
		} `json:"migrations"`
	}
	r = exe(t, nil, on(db, dir, "status", "--format", "json")...)
	wantCode(t, r, 0)
	oneJSON(t, r.stdout, &st)
	if st.Current == nil || *st.Current != 1 || len(st.Migrations) != 3 || st.Migrations[1].State != "failed" || !strings.Contains(st.Migrations[1].Error, "no_such_column") {
		t.Errorf("status JSON: want current 1 and 002 failed with its error, got\n%s", r.stdout)
	}

	// Fix the database and the file by hand, then repair and go on.
	if _, err := c.Exec(context.Background(), "DROP INDEX items_sku"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "002_index.sql"), strings.Replace(string(b), "no_such_column", "id", 1))
	r = exe(t, nil, on(db, dir, "repair")...)
	wantCode(t, r, 0)
	wantContains(t, "repair stdout", r.stdout, "removed failed row 002 index", "no_such_column")
	wantVersions(t, c, 1)
	wantCode(t, exe(t, nil, on(db, dir, "up")...), 0)
	wantVersions(t, c, 1, 2, 3)
	wantRelations(t, c, true, "items_sku", "items_expr", "items_price", "after_failed")
}

func TestBaseline(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c := connect(t, db)
	// The database already has the schema of 001 and 002, made by hand.
	for _, f := range coreFiles[:2] {
		b, _ := os.ReadFile(filepath.Join("..", "..", "source", "core", f))
		up := strings.Split(string(b), "-- pgmig:down")[0]
		if _, err := c.Exec(context.Background(), up); err != nil {
			t.Fatal(err)
		}
	}

	wantCode(t, exe(t, nil, on(db, "builtin", "baseline")...), 2)
	wantCode(t, exe(t, nil, on(db, "builtin", "baseline", "--version", "9")...), 2)
	wantCode(t, exe(t, nil, on(db, "builtin", "baseline", "--version", "two")...), 2)
	wantRelations(t, c, false, "public.pgmig_migrations")

	r := exe(t, nil, on(db, "builtin", "baseline", "--version", "2")...)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "baselined   001 create_users", "baselined   002 create_user_security", "baselined 2 migrations")
	hs := wantVersions(t, c, 1, 2)
	for i, h := range hs {
		if h.Checksum != coreUpChecksum(t, coreFiles[i]) || !h.Success {
			t.Errorf("baselined row %+v, want the file's checksum and success", h)
		}
	}
	wantRelations(t, c, false, "audit_log")

	r = exe(t, nil, on(db, "builtin", "baseline", "--version", "2")...)
	wantCode(t, r, 3)
	wantContains(t, "stderr", r.stderr, "baseline refused")
	wantJSONError(t, exe(t, nil, on(db, "builtin", "--format", "json", "baseline", "--version", "1")...), 3)
	wantVersions(t, c, 1, 2)

	wantCode(t, exe(t, nil, on(db, "builtin", "up")...), 0)
	wantVersions(t, c, 1, 2, 3, 4)
	wantRelations(t, c, true, coreTables...)
}

func TestConcurrentUp(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c := connect(t, db)
	src := filepath.Join("testdata", "concurrent")
	const procs = 10
	results := make([]result, procs)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Go(func() { results[i] = exe(t, nil, on(db, src, "up", "--lock-timeout", "1m")...) })
	}
	wg.Wait()
	appliedLines := 0
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("process %d: %s", i, r)
		}
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(l, "applied     ") {
				appliedLines++
			}
		}
	}
	if appliedLines != 6 {
		t.Errorf("the processes reported %d applied migrations in all, want 6", appliedLines)
	}
	wantVersions(t, c, 1, 2, 3, 4, 5, 6)
	if n := query[int32](t, c, "SELECT n FROM counter"); n != 6 {
		t.Errorf("counter = %d, want 6: each migration once", n)
	}
}

func TestKilledMidMigration(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c := connect(t, db)
	src := filepath.Join("testdata", "killed")
	cmd := exec.Command(pgtest.Binary(t), on(db, src, "up")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })

	dbname := query[string](t, c, "SELECT current_database()")
	sleeping := func() bool {
		return query[bool](t, c, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()
  AND state = 'active' AND query LIKE '%pg_sleep(3)%')`, dbname)
	}
	poll(t, 20*time.Second, "the slow migration to run", sleeping)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-done

	// The server notices the dead client once the sleep ends.
	poll(t, 20*time.Second, "the killed session to end", func() bool { return !sleeping() })
	poll(t, 10*time.Second, "the advisory lock to be released", func() bool {
		return query[int64](t, c, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = $1)`, dbname) == 0
	})
	wantRelations(t, c, true, "killed_first")
	wantRelations(t, c, false, "killed_slow")
	wantVersions(t, c, 1)

	r := exe(t, nil, on(db, src, "up")...)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "applied     002 slow")
	wantRelations(t, c, true, "killed_slow")
	wantVersions(t, c, 1, 2)
}

func TestLockTimeout(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	cfg, err := pgx.ParseConfig(db)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "holder-test"
	ctx := context.Background()
	holder, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	l, err := lock.Acquire(ctx, holder, "public.pgmig_migrations", lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pid := query[int32](t, holder, "SELECT pg_backend_pid()")

	r := exe(t, nil, on(db, "builtin", "up", "--lock-timeout", "500ms")...)
	wantCode(t, r, 4)
	wantContains(t, "stderr", r.stderr, "pid "+strconv.Itoa(int(pid)), `"postgres"`, `"holder-test"`)
	if r.elapsed > 10*time.Second {
		t.Errorf("up waited %s for a 500ms lock timeout", r.elapsed)
	}
	je := wantJSONError(t, exe(t, nil, on(db, "builtin", "--format", "json", "--lock-timeout", "500ms", "up")...), 4)
	wantContains(t, "JSON message", je.Error.Message, strconv.Itoa(int(pid)), "holder-test")
	wantCode(t, exe(t, []string{"PGMIG_LOCK_TIMEOUT=300ms"}, on(db, "builtin", "rollback")...), 4)
	c := connect(t, db)
	wantRelations(t, c, false, "users")

	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	wantCode(t, exe(t, nil, on(db, "builtin", "up", "--lock-timeout", "500ms")...), 0)
	wantVersions(t, c, 1, 2, 3, 4)
}

func TestConnectionFailures(t *testing.T) {
	t.Parallel()
	const secret = "s3cretpw"
	tests := []struct {
		name string
		url  string
		args []string
		code int
		max  time.Duration // it fails within
		min  time.Duration // and not before (retrying)
		says []string
	}{
		{"unreachable", "postgres://u:" + secret + "@127.0.0.1:1/db", []string{"--connect-timeout", "1s"}, 1, 8 * time.Second, 900 * time.Millisecond, []string{"127.0.0.1:1", "connection refused", "gave up after 1s"}},
		{"unreachable keyword/value", "host=127.0.0.1 port=1 user=u password=" + secret + " dbname=db connect_timeout=1", []string{"--connect-timeout", "1s"}, 1, 8 * time.Second, 900 * time.Millisecond, []string{"connection refused"}},
		{"role does not exist", "postgres://pgmig_no_such_role:" + secret + "@127.0.0.1:5432/postgres?sslmode=disable", []string{"--connect-timeout", "20s"}, 1, 5 * time.Second, 0, []string{"pgmig_no_such_role", "28000"}},
		{"database does not exist", "postgres://postgres:" + secret + "@127.0.0.1:5432/pgmig_no_such_db?sslmode=disable", []string{"--connect-timeout", "20s"}, 1, 5 * time.Second, 0, []string{"pgmig_no_such_db", "3D000"}},
		{"malformed URL", "postgres://u:" + secret + "@[bad", []string{"--connect-timeout", "20s"}, 2, 5 * time.Second, 0, []string{"--database-url", "cannot parse"}},
	}
	for _, tc := range tests {
		for _, cmd := range []string{"health", "up", "status"} {
			t.Run(tc.name+"/"+cmd, func(t *testing.T) {
				t.Parallel()
				for _, format := range []string{"text", "json"} {
					args := append(on(tc.url, "builtin", "--format", format, cmd), tc.args...)
					r := exe(t, nil, args...)
					switch {
					case format == "json" && cmd == "health" && tc.code == 1:
						// Health's own document: unhealthy, naming the cause.
						var h struct {
							Healthy *bool  `json:"healthy"`
							Error   string `json:"error"`
						}
						wantCode(t, r, 1)
						oneJSON(t, r.stdout, &h)
						if h.Healthy == nil || *h.Healthy {
							t.Errorf("want {\"healthy\": false}, got:\n%s", r.stdout)
						}
						wantContains(t, "error", h.Error, tc.says...)
					case format == "json":
						wantJSONError(t, r, tc.code)
					default:
						wantCode(t, r, tc.code)
						wantContains(t, "stderr", r.stderr, tc.says...)
					}
					if strings.Contains(r.stdout+r.stderr, secret) {
						t.Errorf("the password is printed:\n%s", r)
					}
					if r.elapsed > tc.max || r.elapsed < tc.min {
						t.Errorf("failed after %s, want between %s and %s", r.elapsed, tc.min, tc.max)
					}
				}
			})
		}
	}
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	unreachable := "postgres://u:pw@127.0.0.1:1/db"
	tests := []struct {
		name  string
		env   func(db string) []string
		args  []string
		table string
		json  bool
	}{
		{"PGMIG_DATABASE_URL and PGMIG_SOURCE", func(db string) []string {
			return []string{"PGMIG_DATABASE_URL=" + db, "PGMIG_SOURCE=builtin"}
		}, nil, "public.pgmig_migrations", false},
		{"DATABASE_URL fallback", func(db string) []string {
			return []string{"DATABASE_URL=" + db, "PGMIG_SOURCE=builtin"}
		}, nil, "public.pgmig_migrations", false},
		{"PGMIG_DATABASE_URL before DATABASE_URL", func(db string) []string {
			return []string{"PGMIG_DATABASE_URL=" + db, "DATABASE_URL=" + unreachable, "PGMIG_SOURCE=builtin", "PGMIG_CONNECT_TIMEOUT=1s"}
		}, nil, "public.pgmig_migrations", false},
		{"flag before env", func(db string) []string {
			return []string{"PGMIG_DATABASE_URL=" + unreachable, "PGMIG_SOURCE=/nonexistent", "PGMIG_CONNECT_TIMEOUT=1s"}
		}, []string{"--source", "builtin"}, "public.pgmig_migrations", false},
		{"PGMIG_TABLE in a new schema", func(db string) []string {
			return []string{"PGMIG_DATABASE_URL=" + db, "PGMIG_SOURCE=builtin", "PGMIG_TABLE=myschema.history"}
		}, nil, "myschema.history", false},
		{"PGMIG_FORMAT", func(db string) []string {
			return []string{"PGMIG_DATABASE_URL=" + db, "PGMIG_SOURCE=builtin", "PGMIG_FORMAT=json"}
		}, nil, "public.pgmig_migrations", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			args := tc.args
			if tc.name == "flag before env" {
				args = append(args, "--database-url", db)
			}
			r := exe(t, tc.env(db), append(args, "up")...)
			wantCode(t, r, 0)
			if tc.json {
				var doc struct{ Applied []any }
				oneJSON(t, r.stdout, &doc)
				if len(doc.Applied) != 4 {
					t.Errorf("JSON applied %d, want 4", len(doc.Applied))
				}
			} else {
				wantContains(t, "stdout", r.stdout, "applied 4 migrations")
			}
			c := connect(t, db)
			if got := versions(history(t, c, tc.table)); fmt.Sprint(got) != "[1 2 3 4]" {
				t.Errorf("%s versions = %v", tc.table, got)
			}
			if tc.table != "public.pgmig_migrations" {
				wantRelations(t, c, false, "public.pgmig_migrations")
				// The custom table is the one read back.
				r = exe(t, tc.env(db), "status", "--format", "json")
				var st struct{ Current *int64 }
				oneJSON(t, r.stdout, &st)
				if st.Current == nil || *st.Current != 4 {
					t.Errorf("status with %s: current %v, want 4", tc.table, st.Current)
				}
			}
		})
	}
	t.Run("PGMIG_FORMAT overridden by --format", func(t *testing.T) {
		t.Parallel()
		r := exe(t, []string{"PGMIG_FORMAT=json"}, "version", "--format", "text")
		wantCode(t, r, 0)
		wantContains(t, "stdout", r.stdout, "pgmig ")
		if strings.HasPrefix(r.stdout, "{") {
			t.Errorf("--format text printed JSON: %s", r.stdout)
		}
	})
}

func TestHealth(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c := connect(t, db)
	server := query[string](t, c, "SHOW server_version")

	r := exe(t, nil, "--database-url", db, "health")
	wantCode(t, r, 0)
	if !regexp.MustCompile(`^healthy: PostgreSQL ` + regexp.QuoteMeta(server) + `, round trip \d+(\.\d+)? (ms|s)\n$`).MatchString(r.stdout) {
		t.Errorf("health stdout = %q", r.stdout)
	}
	r = exe(t, nil, "--database-url", db, "health", "--format", "json")
	wantCode(t, r, 0)
	var h struct {
		Healthy       bool     `json:"healthy"`
		ServerVersion string   `json:"server_version"`
		LatencyMS     *float64 `json:"latency_ms"`
	}
	oneJSON(t, r.stdout, &h)
	if !h.Healthy || h.ServerVersion != server || h.LatencyMS == nil {
		t.Errorf("health JSON = %s", r.stdout)
	}
}
