package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/source"
)

var (
	jsonDurationRE  = regexp.MustCompile(`"duration_ms": [0-9.]+`)
	jsonAppliedAtRE = regexp.MustCompile(`"applied_at": "[^"]+"`)
	testDatabaseRE  = regexp.MustCompile(`pgmig_test_\d+_\d+_\d+`)
	toastRE         = regexp.MustCompile(`pg_toast_\d+`) // named after the table's OID
	// health's figures are the server's and the moment's: its version,
	// the round trip and the pool's counters.
	healthTextRE = regexp.MustCompile(`PostgreSQL .*, round trip [0-9.]+ ms`)
	healthJSONRE = regexp.MustCompile(`"(latency_ms|server_version_num|[a-z_]+_conns|[a-z_]+_count|acquire_duration_ms)": [0-9.]+`)
	serverVerRE  = regexp.MustCompile(`"server_version": "[^"]*"`)
)

// TestGoldenCommands runs each command, in text and in JSON, through one
// life of a database and compares what it prints on stdout and stderr with
// testdata/golden/cmd_<step>_<format>.golden: the output users and scripts
// read is reviewed whenever it changes. Durations, timestamps, temporary
// paths and database names are normalised first.
func TestGoldenCommands(t *testing.T) {
	t.Parallel()
	steps := []struct {
		name string
		args []string // after --database-url DB --source builtin
		code int
	}{
		{"status_fresh", []string{"status"}, 0},
		{"validate", []string{"validate"}, 0},
		{"up_dry_run", []string{"up", "--dry-run"}, 0},
		{"up_rehearse", []string{"up", "--rehearse"}, 0},
		{"up_to_2", []string{"up", "--to", "2"}, 0},
		{"up", []string{"up"}, 0},
		{"up_nothing", []string{"up"}, 0},
		{"status", []string{"status"}, 0},
		{"drift", []string{"drift"}, 0},
		{"redo", []string{"redo"}, 0},
		{"rollback", []string{"rollback"}, 0},
		{"rollback_all", []string{"rollback", "--all"}, 0},
		{"baseline", []string{"baseline", "--version", "2"}, 0},
		{"repair", []string{"repair"}, 0},
		{"lint", []string{"lint"}, 0},
		{"verify", []string{"verify"}, 0},
		{"health", []string{"health"}, 0},
		{"version", []string{"version"}, 0},
		{"unknown_command", []string{"nope"}, 2},
		{"bad_version", []string{"up", "--to", "x"}, 2},
	}
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			for _, st := range steps {
				r := inproc(t, append([]string{"--database-url", db, "--source", "builtin", "--format", format}, st.args...)...)
				if r.code != st.code {
					t.Fatalf("%s: want exit %d, got %s", st.name, st.code, r)
				}
				golden(t, "cmd_"+st.name+"_"+format, goldenOutput(t, r, db))
			}
			// create writes into a directory of the test's own.
			dir := t.TempDir()
			r := inproc(t, "--source", dir, "--format", format, "create", "add_orders")
			wantCode(t, r, 0)
			golden(t, "cmd_create_"+format, strings.ReplaceAll(goldenOutput(t, r, db), filepath.Clean(dir), "DIR"))
			// diff writes into a directory too; --dry-run prints both files
			// (the index on an existing table goes in a no-transaction one
			// of its own), each with its own hazards, and writes neither.
			dir = t.TempDir()
			writeFile(t, filepath.Join(dir, "001_orders.sql"), "CREATE TABLE orders (id int PRIMARY KEY, note text);\n")
			desired := filepath.Join(t.TempDir(), "schema.sql")
			writeFile(t, desired, "CREATE TABLE orders (id bigint PRIMARY KEY, note text, total numeric(10,2) NOT NULL DEFAULT 0);\nCREATE INDEX orders_total ON orders (total);\n")
			r = inproc(t, "--database-url", db, "--source", dir, "--format", format, "diff", "--desired", desired, "--dry-run")
			wantCode(t, r, 0)
			golden(t, "cmd_diff_dry_run_"+format, strings.ReplaceAll(goldenOutput(t, r, db), filepath.Clean(dir), "DIR"))
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("diff --dry-run wrote files: %v", entries)
			}
			// health's own answer when no server listens: exit 1 and a
			// document, not the generic error.
			r = inproc(t, "--database-url", "postgres://pgmig:secret@127.0.0.1:1/app", "--connect-timeout", "1s", "--format", format, "health")
			wantCode(t, r, 1)
			golden(t, "cmd_health_unreachable_"+format, goldenOutput(t, r, db))
		})
	}
}

// goldenOutput is what r printed, normalised for a golden file. JSON
// escapes nothing that reads as itself: SQL's <, > and & stay as they are.
func goldenOutput(t *testing.T, r result, db string) string {
	t.Helper()
	if strings.Contains(r.stdout, `\u003c`) || strings.Contains(r.stdout, `\u003e`) || strings.Contains(r.stdout, `\u0026`) {
		t.Errorf("JSON escapes <, > or & in:\n%s", r.stdout)
	}
	s := "--- stdout:\n" + r.stdout + "--- stderr:\n" + r.stderr
	s = jsonDurationRE.ReplaceAllString(s, `"duration_ms": X`)
	s = jsonAppliedAtRE.ReplaceAllString(s, `"applied_at": "T"`)
	s = strings.ReplaceAll(s, db, "DB")
	s = toastRE.ReplaceAllString(s, "pg_toast_OID")
	s = healthTextRE.ReplaceAllString(s, "PostgreSQL VERSION, round trip X ms")
	s = healthJSONRE.ReplaceAllString(s, `"$1": X`)
	s = serverVerRE.ReplaceAllString(s, `"server_version": "VERSION"`)
	return normalizeTarget(testDatabaseRE.ReplaceAllString(s, "DB"))
}

// normalizeTarget replaces the test server's host and port where pgmig
// names its target, so the golden files do not depend on the server.
func normalizeTarget(s string) string {
	cfg, err := pgx.ParseConfig(pgtest.AdminURL())
	if err != nil {
		return s
	}
	s = strings.ReplaceAll(s, fmt.Sprintf(" on %s:%d,", cfg.Host, cfg.Port), " on HOST:PORT,")
	s = strings.ReplaceAll(s, fmt.Sprintf(`"host": %q,`, cfg.Host), `"host": "HOST",`)
	return strings.ReplaceAll(s, fmt.Sprintf(`"port": %d,`, cfg.Port), `"port": PORT,`)
}

// TestGoldenVerdicts: the commands that judge the migrations, on projects
// that fail the judgement, print the same text and JSON as
// testdata/golden/verdict_<case>_<format>.golden, and exit 3. What the
// checks find is check's and lint's to test; these are the outside.
func TestGoldenVerdicts(t *testing.T) {
	t.Parallel()
	forgottenIndex := map[string]string{"005_add_login_index.sql": `-- pgmig:up
CREATE INDEX idx_users_last_login ON users (last_login);
CREATE TABLE login_events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL);

-- pgmig:down
DROP TABLE login_events;
`}
	failingDown := map[string]string{"005_login_events.sql": "-- pgmig:up\nCREATE TABLE login_events (id bigint);\n\n-- pgmig:down\nDROP TABLE login_event;\n"}
	cases := []struct {
		name  string
		files map[string]string // over the builtin migrations
		setup func(t *testing.T, db, dir string)
		args  []string
	}{
		{"verify_down_differs", forgottenIndex, nil, []string{"verify"}},
		{"verify_down_fails", failingDown, nil, []string{"verify"}},
		{"drift_out_of_band", nil, func(t *testing.T, db, dir string) {
			wantCode(t, inproc(t, on(db, dir, "up")...), 0)
			execSQL(t, db, `ALTER TABLE users ADD COLUMN x int; CREATE INDEX users_x ON users (x); DROP INDEX idx_audit_user`)
		}, []string{"drift"}},
		{"drift_changed_file", nil, func(t *testing.T, db, dir string) {
			wantCode(t, inproc(t, on(db, dir, "up")...), 0)
			writeFile(t, filepath.Join(dir, "004_create_sessions.sql"), "-- pgmig:up\nCREATE TABLE sessions (id bigint);\n-- pgmig:down\nDROP TABLE sessions;\n")
		}, []string{"drift"}},
		{"up_lint_refused", map[string]string{"005_email.sql": "-- pgmig:up\nCREATE INDEX users_email ON users (email);\n-- pgmig:down\nDROP INDEX users_email;\n"},
			func(t *testing.T, db, dir string) {
				wantCode(t, inproc(t, on(db, dir, "up", "--to", "4")...), 0)
			}, []string{"up", "--lint"}},
	}
	for _, tc := range cases {
		for _, format := range []string{"text", "json"} {
			t.Run(tc.name+"_"+format, func(t *testing.T) {
				t.Parallel()
				db, dir := newDB(t), copyFS(t, source.BuiltinFS())
				for name, body := range tc.files {
					writeFile(t, filepath.Join(dir, name), body)
				}
				if tc.setup != nil {
					tc.setup(t, db, dir)
				}
				r := inproc(t, append(on(db, dir, "--format", format), tc.args...)...)
				wantCode(t, r, 3)
				golden(t, "verdict_"+tc.name+"_"+format, strings.ReplaceAll(goldenOutput(t, r, db), filepath.Clean(dir), "DIR"))
			})
		}
	}
}

func execSQL(t *testing.T, db, sql string) {
	t.Helper()
	if _, err := connect(t, db).Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
