package cli

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/pgtest"
)

var (
	jsonDurationRE  = regexp.MustCompile(`"duration_ms": [0-9.]+`)
	jsonAppliedAtRE = regexp.MustCompile(`"applied_at": "[^"]+"`)
	testDatabaseRE  = regexp.MustCompile(`pgmig_test_\d+_\d+_\d+`)
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
				golden(t, "cmd_"+st.name+"_"+format, goldenOutput(r, db))
			}
			// create writes into a directory of the test's own.
			dir := t.TempDir()
			r := inproc(t, "--source", dir, "--format", format, "create", "add_orders")
			wantCode(t, r, 0)
			golden(t, "cmd_create_"+format, strings.ReplaceAll(goldenOutput(r, db), filepath.Clean(dir), "DIR"))
		})
	}
}

// goldenOutput is what r printed, normalised for a golden file.
func goldenOutput(r result, db string) string {
	s := "--- stdout:\n" + r.stdout + "--- stderr:\n" + r.stderr
	s = jsonDurationRE.ReplaceAllString(s, `"duration_ms": X`)
	s = jsonAppliedAtRE.ReplaceAllString(s, `"applied_at": "T"`)
	s = strings.ReplaceAll(s, db, "DB")
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
