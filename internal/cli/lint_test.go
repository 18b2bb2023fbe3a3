package cli

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgmig/pgmig/internal/pgtest"
)

// lintDir writes files into a new directory and returns it.
func lintDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		writeFile(t, filepath.Join(dir, name), body)
	}
	return dir
}

// lintUnsafe is a project whose second migration builds an index on a
// table the first created, without CONCURRENTLY, and drops a column
// with a justified ignore.
var lintUnsafe = map[string]string{
	"001_users.sql": "-- pgmig:up\nCREATE TABLE users (id bigint PRIMARY KEY, email text, legacy text);\n-- pgmig:down\nDROP TABLE users;\n",
	"002_email.sql": "-- pgmig:up\n-- pgmig:lock-timeout 2s\n-- pgmig:lint-ignore drop-column unused since v3\nALTER TABLE users DROP COLUMN legacy;\n\nCREATE INDEX users_email ON users (email);\n-- pgmig:down\nDROP INDEX users_email;\n",
}

func TestLintText(t *testing.T) {
	t.Parallel()
	r := inproc(t, "lint", "--source", lintDir(t, lintUnsafe))
	wantCode(t, r, 3)
	want := `002_email.sql:6:1: error[index-not-concurrent]: CREATE INDEX on existing table "users" blocks writes for the whole build
  help: CREATE INDEX CONCURRENTLY (or DROP INDEX / REINDEX … CONCURRENTLY) in a -- pgmig:no-transaction section
002_email.sql:4: ignored[drop-column]: unused since v3
lint: 2 migrations checked: 1 error, 0 warnings, 1 ignored
`
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestLintCleanAndWarnings(t *testing.T) {
	t.Parallel()
	r := inproc(t, "lint", "--source", "builtin")
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "lint: 4 migrations checked: 0 errors, 0 warnings, 0 ignored")

	// Warnings alone exit 0.
	dir := lintDir(t, map[string]string{"001_a.sql": "CREATE TABLE t (id serial PRIMARY KEY, at timestamp);\n"})
	r = inproc(t, "lint", "-s", dir)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "001_a.sql:1:1: warning[int-key]", "001_a.sql:1:1: warning[timestamp-without-time-zone]", "0 errors, 2 warnings")
}

func TestLintJSON(t *testing.T) {
	t.Parallel()
	r := inproc(t, "lint", "--format", "json", "--source", lintDir(t, lintUnsafe))
	wantCode(t, r, 3)
	var doc struct {
		Findings []struct {
			Rule, Level, File, Message, Help string
			Line, Column                     int
		} `json:"findings"`
		Ignored []struct {
			Rule, File, Reason string
			Line               int
		} `json:"ignored"`
		Errors   *int `json:"errors"`
		Warnings *int `json:"warnings"`
	}
	oneJSON(t, r.stdout, &doc)
	if doc.Errors == nil || *doc.Errors != 1 || doc.Warnings == nil || *doc.Warnings != 0 {
		t.Fatalf("errors/warnings: %s", r.stdout)
	}
	f := doc.Findings[0]
	if len(doc.Findings) != 1 || f.Rule != "index-not-concurrent" || f.Level != "error" || f.File != "002_email.sql" || f.Line != 6 || f.Column != 1 || f.Help == "" {
		t.Errorf("findings: %+v", doc.Findings)
	}
	if len(doc.Ignored) != 1 || doc.Ignored[0].Rule != "drop-column" || doc.Ignored[0].Line != 4 || doc.Ignored[0].Reason != "unused since v3" {
		t.Errorf("ignored: %+v", doc.Ignored)
	}

	r = inproc(t, "lint", "--format", "json", "--source", "builtin")
	wantCode(t, r, 0)
	if strings.TrimSpace(normalizeSpace(r.stdout)) != `{ "findings": [], "ignored": [], "errors": 0, "warnings": 0 }` {
		t.Errorf("clean JSON: %s", r.stdout)
	}
}

func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestLintParseErrorAndOptions(t *testing.T) {
	t.Parallel()
	dir := lintDir(t, map[string]string{
		"001_a.sql": "-- pgmig:up\nALTER TABLE users ADD COLUMN n int;\n-- pgmig:down\nALTER TABLE users DROP COLUMNN n;\n",
	})
	r := inproc(t, "lint", "-s", dir)
	wantCode(t, r, 3)
	wantContains(t, "stdout", r.stdout, `001_a.sql:4:32: error[parse-error]: syntax error at or near "n"`, "warning[no-lock-timeout]")

	// --ddl-lock-timeout is what pgmig will set: the warning goes.
	r = inproc(t, "lint", "-s", dir, "--ddl-lock-timeout", "3s")
	if strings.Contains(r.stdout, "no-lock-timeout") {
		t.Errorf("--ddl-lock-timeout should satisfy no-lock-timeout:\n%s", r.stdout)
	}

	wantCode(t, inproc(t, "lint", "extra"), 2)
	// Bad files are a validation failure, as for every other command.
	bad := lintDir(t, map[string]string{"001_a.sql": "-- pgmig:up\n-- pgmig:lint-ignore\nSELECT 1;\n"})
	wantCode(t, inproc(t, "lint", "-s", bad), 3)
}

// TestUpLint shows up --lint refusing pending migrations with an error and
// applying nothing, then judging only what is pending.
func TestUpLint(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	dir := lintDir(t, lintUnsafe)
	r := inproc(t, on(db, dir, "up", "--lint")...)
	wantCode(t, r, 3)
	wantContains(t, "stderr", r.stderr, "002_email.sql:6:1: error[index-not-concurrent]", "lint found 1 error in pending migrations; nothing applied")
	c := connect(t, db)
	if exists(t, c, "users") || exists(t, c, "public.pgmig_migrations") {
		t.Fatal("up --lint refused but changed the database")
	}

	// In JSON the findings are objects, one per error-level finding, with
	// no summary line among them.
	r = inproc(t, on(db, dir, "up", "--lint", "--format", "json")...)
	wantJSONError(t, r, 3)
	var doc struct {
		Error struct {
			Problems []map[string]any `json:"problems"`
		} `json:"error"`
	}
	oneJSON(t, r.stdout, &doc)
	want := map[string]any{"file": "002_email.sql", "line": 6.0, "column": 1.0, "version": 2.0, "level": "error", "rule": "index-not-concurrent",
		"message": `CREATE INDEX on existing table "users" blocks writes for the whole build`}
	if ps := doc.Error.Problems; len(ps) != 1 || !maps.Equal(ps[0], want) {
		t.Errorf("problems %v, want [%v]", ps, want)
	}

	// Warnings alone never refuse: they are shown on stderr, and up applies.
	warned := newDB(t)
	r = inproc(t, on(warned, lintDir(t, map[string]string{"001_a.sql": "CREATE TABLE t (id serial PRIMARY KEY, at timestamp);\n"}), "up", "--lint")...)
	wantCode(t, r, 0)
	wantContains(t, "stderr", r.stderr, "001_a.sql:1:1: warning[int-key]")
	wantRelations(t, connect(t, warned), true, "public.t")

	// Once 002 is applied (without --lint), its findings no longer block.
	wantCode(t, inproc(t, on(db, dir, "up")...), 0)
	writeFile(t, filepath.Join(dir, "003_ok.sql"), "-- pgmig:up\nCREATE TABLE t (id bigint PRIMARY KEY);\n")
	r = inproc(t, on(db, dir, "up", "--lint")...)
	wantCode(t, r, 0)
	if !exists(t, c, "t") {
		t.Errorf("up --lint did not apply a clean pending migration:\n%s", r)
	}
}
