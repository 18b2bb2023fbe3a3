package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The output items of issue 11: each test here failed before its fix.

// TestUpJSONAppliedAtIsStored: applied_at in up's JSON is what the
// tracking table holds (the server's clock), so a script comparing it with
// status or the table finds the same instant.
func TestUpJSONAppliedAtIsStored(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	r := inproc(t, on(db, "builtin", "up", "--format", "json")...)
	wantCode(t, r, 0)
	var doc struct {
		Applied []struct {
			Version   int64  `json:"version"`
			AppliedAt string `json:"applied_at"`
		} `json:"applied"`
	}
	oneJSON(t, r.stdout, &doc)
	c := connect(t, db)
	if len(doc.Applied) != 4 {
		t.Fatalf("applied %d, want 4:\n%s", len(doc.Applied), r.stdout)
	}
	for _, a := range doc.Applied {
		got, err := time.Parse(time.RFC3339Nano, a.AppliedAt)
		if err != nil {
			t.Fatalf("applied_at %q: %v", a.AppliedAt, err)
		}
		stored := query[time.Time](t, c, "SELECT applied_at FROM public.pgmig_migrations WHERE version = $1", a.Version)
		if !got.Equal(stored) {
			t.Errorf("version %d: applied_at %s in JSON, %s in the table", a.Version, got, stored)
		}
	}
}

// TestRehearseJSONSkipped: every rehearsed migration has the documented
// "skipped": null when it was rehearsed, the reason when it could not be.
func TestRehearseJSONSkipped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "001_t.sql"), "CREATE TABLE t (id int);\n")
	writeFile(t, filepath.Join(dir, "002_idx.sql"), "-- pgmig:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\n")
	r := inproc(t, on(newDB(t), dir, "up", "--rehearse", "--format", "json")...)
	wantCode(t, r, 0)
	var doc struct {
		Rehearsed []map[string]any `json:"rehearsed"`
	}
	oneJSON(t, r.stdout, &doc)
	if len(doc.Rehearsed) != 2 {
		t.Fatalf("rehearsed:\n%s", r.stdout)
	}
	if s, ok := doc.Rehearsed[0]["skipped"]; !ok || s != nil {
		t.Errorf("001: skipped = %v (present %v), want null", s, ok)
	}
	if s, _ := doc.Rehearsed[1]["skipped"].(string); !strings.Contains(s, "no-transaction") {
		t.Errorf("002: skipped = %v, want the reason", doc.Rehearsed[1]["skipped"])
	}
}

// TestHealthDownJSON: a server that does not answer gets health's own
// document, unhealthy, exit 1; not the generic error document.
func TestHealthDownJSON(t *testing.T) {
	t.Parallel()
	r := inproc(t, "--database-url", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable", "--connect-timeout", "200ms", "health", "--format", "json")
	wantCode(t, r, 1)
	var doc map[string]any
	oneJSON(t, r.stdout, &doc)
	if doc["healthy"] != false || doc["status"] != "unavailable" || doc["error"] == nil || doc["error"] == "" {
		t.Errorf("want {\"healthy\": false, \"status\": \"unavailable\", \"error\": …}, got:\n%s", r.stdout)
	}
	if _, generic := doc["error"].(map[string]any); generic {
		t.Errorf("the generic error document:\n%s", r.stdout)
	}
}

// TestFailedRowJSON: the refusal to go on past a failed no-transaction row
// names, in JSON, the migration and the statement to look at.
func TestFailedRowJSON(t *testing.T) {
	t.Parallel()
	db, dir := newDB(t), fixture(t, "notx_fail")
	wantCode(t, inproc(t, on(db, dir, "up")...), 1)
	r := inproc(t, on(db, dir, "up", "--format", "json")...)
	wantCode(t, r, 3)
	var doc struct {
		Error map[string]any `json:"error"`
	}
	oneJSON(t, r.stdout, &doc)
	if doc.Error["version"] != 2.0 || doc.Error["statement"] != 2.0 {
		t.Errorf("want version 2 and statement 2 in the error, got:\n%s", r.stdout)
	}
}

// TestStatusQuiet: -q leaves the answer and drops the table.
func TestStatusQuiet(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	wantCode(t, inproc(t, on(db, "builtin", "up", "--to", "3")...), 0)
	r := inproc(t, on(db, "builtin", "status", "-q")...)
	wantCode(t, r, 0)
	if want := "current version: 003 (3 applied, 1 pending)\n"; r.stdout != want || r.stderr != "" {
		t.Errorf("status -q printed:\n%s\nwant only %q", r, want)
	}
}

func TestColourOn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		terminal bool
		noColor  bool
		env      map[string]string
		want     bool
	}{
		{"terminal", true, false, map[string]string{"TERM": "xterm-256color"}, true},
		{"not a terminal", false, false, nil, false},
		{"--no-color", true, true, nil, false},
		{"NO_COLOR", true, false, map[string]string{"NO_COLOR": "1"}, false},
		{"NO_COLOR empty", true, false, map[string]string{"NO_COLOR": ""}, true},
		{"TERM=dumb", true, false, map[string]string{"TERM": "dumb"}, false},
	} {
		if got := colourOn(tc.terminal, tc.noColor, func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("%s: colour %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestFleetStatusAppliedCount: status over several databases counts what
// each has applied, not what this run applied (nothing).
func TestFleetStatusAppliedCount(t *testing.T) {
	t.Parallel()
	a, b := newDB(t), newDB(t)
	wantCode(t, inproc(t, on(a, "builtin", "up")...), 0)
	wantCode(t, inproc(t, on(b, "builtin", "up", "--to", "1")...), 0)
	r := inproc(t, "--source", "builtin", "-d", a, "-d", b, "status")
	wantCode(t, r, 0)
	rows := regexp.MustCompile(`(?m)^\| [^|]+ \| ok \| (\d+) \| (\d+) \|`).FindAllStringSubmatch(normalize(r.stdout), -1)
	var got []string
	for _, m := range rows {
		got = append(got, m[1]+"/"+m[2])
	}
	if want := []string{"4/0", "1/3"}; !slices.Equal(got, want) {
		t.Errorf("APPLIED/PENDING %q, want %q:\n%s", got, want, r.stdout)
	}
}

// TestUpEmptySourceSaysWhere: nothing to do because nothing was found
// names the place it looked.
func TestUpEmptySourceSaysWhere(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := inproc(t, on(newDB(t), dir, "up")...)
	wantCode(t, r, 0)
	wantContains(t, "stderr", r.stderr, "no migrations in "+dir)
}

// TestCreateFollowsTheDirectory: the contract's create rules, end to end.
func TestCreateFollowsTheDirectory(t *testing.T) {
	t.Parallel()
	utc := time.Now().UTC()
	for _, tc := range []struct {
		name  string
		files []string
		flags []string
		want  []*regexp.Regexp
	}{
		{"pairs", []string{"001_a.up.sql", "001_a.down.sql"}, nil, []*regexp.Regexp{regexp.MustCompile(`^002_x\.up\.sql$`), regexp.MustCompile(`^002_x\.down\.sql$`)}},
		{"timestamps", []string{"20240101120000_a.sql"}, nil, []*regexp.Regexp{regexp.MustCompile(`^` + utc.Format("20060102") + `\d{6}_x\.sql$`)}},
		{"Flyway", []string{"V1__a.sql", "V2__b.sql"}, nil, []*regexp.Regexp{regexp.MustCompile(`^V3__x\.sql$`)}},
		{"--timestamp", []string{"001_a.sql"}, []string{"--timestamp"}, []*regexp.Regexp{regexp.MustCompile(`^` + utc.Format("20060102") + `\d{6}_x\.sql$`)}},
		{"--sequential", []string{"20240101120000_a.sql"}, []string{"--sequential"}, []*regexp.Regexp{regexp.MustCompile(`^20240101120001_x\.sql$`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, f := range tc.files {
				writeFile(t, filepath.Join(dir, f), "SELECT 1;\n")
			}
			r := inproc(t, append(append([]string{"--source", dir, "create"}, tc.flags...), "x")...)
			wantCode(t, r, 0)
			entries, _ := os.ReadDir(dir)
			var made []string
			for _, e := range entries {
				if !slices.Contains(tc.files, e.Name()) {
					made = append(made, e.Name())
				}
			}
			if len(made) != len(tc.want) {
				t.Fatalf("made %q, want %d files", made, len(tc.want))
			}
			for _, re := range tc.want {
				if !slices.ContainsFunc(made, re.MatchString) {
					t.Errorf("made %q, none matches %s", made, re)
				}
			}
		})
	}
	r := inproc(t, "--source", t.TempDir(), "create", "--timestamp", "--sequential", "x")
	wantCode(t, r, 2)
}

// TestEmptyUpWarnsInOneVoice: the loader's warning about an empty up
// section is a pgmig warning line naming file and line, not a slog record,
// and lint counts it as the finding it is.
func TestEmptyUpWarnsInOneVoice(t *testing.T) {
	t.Parallel()
	dir := fixture(t, "emptyup")
	want := "warning: " + filepath.Join(dir, "001_empty.sql") + ":2: the up section is empty: applying the migration changes nothing but the history\n"
	r := inproc(t, on(newDB(t), dir, "status")...)
	wantCode(t, r, 0)
	if !strings.HasPrefix(r.stderr, want) || strings.Contains(r.stderr, "level=") {
		t.Errorf("stderr %q, want it to begin with %q", r.stderr, want)
	}
	r = inproc(t, "lint", "--source", dir)
	wantCode(t, r, 0)
	wantContains(t, "lint", r.stdout, "001_empty.sql:2:1: warning[empty-up]: the up section holds no statement", "0 errors, 1 warning")
}
