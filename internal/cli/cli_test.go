package cli

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	tests := []struct {
		name string
		args []string
		says string
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag after the command", []string{"up", "--frob"}, "frob"},
		{"unknown flag before the command", []string{"--frob", "status"}, "frob"},
		{"bad --format", []string{"--format", "yaml", "status"}, "yaml"},
		{"bad --format after the command", []string{"status", "--format=xml"}, "xml"},
		{"bad duration", []string{"--lock-timeout", "5x", "up"}, "5x"},
		{"bad connect timeout", []string{"up", "--connect-timeout", "soon"}, "soon"},
		{"up --to abc", []string{"up", "--to", "abc"}, `--to "abc"`},
		{"up --to a version no file has", []string{"up", "--to", "42"}, "42"},
		{"up --steps x", []string{"up", "--steps", "x"}, "x"},
		{"up --steps negative", []string{"up", "--steps", "-1"}, "negative"},
		{"rollback --to abc", []string{"rollback", "--to", "abc"}, `--to "abc"`},
		{"rollback --steps with --all", []string{"rollback", "--steps", "1", "--all"}, "--all"},
		{"baseline without --version", []string{"baseline"}, "version"},
		{"create without a name", []string{"create"}, "create takes one argument"},
		{"create in builtin", []string{"create", "x"}, "builtin"},
		{"remote source", []string{"--source", "ftp://example.com/m", "up"}, "ftp://"},
		{"bad table name", []string{"--table", "a.b.c", "up"}, "a.b.c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := on(db, "builtin", tc.args...)
			r := inproc(t, args...)
			wantCode(t, r, 2)
			wantContains(t, "stderr", r.stderr, tc.says, "pgmig --help")
			if r.stdout != "" {
				t.Errorf("a usage error wrote to stdout:\n%s", r.stdout)
			}
			if strings.Contains(tc.name, "--format") {
				return // the bad --format wins over a --format json
			}
			je := wantJSONError(t, inproc(t, append([]string{"--format=json"}, args...)...), 2)
			wantContains(t, "JSON message", je.Error.Message, tc.says)
		})
	}
	r := inproc(t, "frobnicate")
	golden(t, "usage_unknown_command", r.stderr)
	// Nothing was written by any of them.
	wantRelations(t, connect(t, db), false, "public.pgmig_migrations", "users")
}

func TestGlobalFlagsAnywhere(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	wantCode(t, inproc(t, on(db, "builtin", "up", "--to", "1")...), 0)
	for _, args := range [][]string{
		{"--format", "json", "--database-url", db, "--source", "builtin", "status"},
		{"status", "--format", "json", "--database-url", db, "--source", "builtin"},
		{"status", "--format=json", "-d", db, "-s", "builtin"},
		{"-d", db, "status", "-s=builtin", "--format", "json"},
		{"--quiet", "status", "--no-color", "--format", "json", "-d", db, "-s", "builtin", "--verbose"},
	} {
		r := inproc(t, args...)
		wantCode(t, r, 0)
		var st struct{ Current *int64 }
		oneJSON(t, r.stdout, &st)
		if st.Current == nil || *st.Current != 1 {
			t.Errorf("%q: current = %v, want 1", args, st.Current)
		}
	}
	// Command flags and global flags mixed after the command.
	r := inproc(t, "up", "--steps", "1", "-d", db, "--quiet", "-s", "builtin", "--dry-run")
	wantCode(t, r, 0)
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("quiet dry run printed:\n%s", r)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c := connect(t, db)
	r := inproc(t, on(db, "builtin", "status")...)
	wantCode(t, r, 0)
	golden(t, "status_fresh", r.stdout)
	for _, cmd := range [][]string{{"status"}, {"validate"}, {"up", "--dry-run"}, {"rollback", "--dry-run"}, {"status", "--format", "json"}} {
		wantCode(t, inproc(t, on(db, "builtin", cmd...)...), 0)
	}
	wantRelations(t, c, false, "public.pgmig_migrations")

	wantCode(t, inproc(t, on(db, "builtin", "up", "--to", "003")...), 0)
	r = inproc(t, on(db, "builtin", "status")...)
	wantCode(t, r, 0)
	golden(t, "status_003", r.stdout)
	wantContains(t, "stdout", r.stdout, "current version: 003 (3 applied, 1 pending)")
}

func TestQuiet(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	for _, args := range [][]string{
		{"--quiet", "up"},
		{"status", "-q"}, // status is asked for: it still prints
		{"validate", "--quiet"},
		{"--quiet", "rollback", "--all"},
		{"-q", "up", "--to", "2"},
		{"-q", "redo"},
		{"-q", "repair"},
	} {
		r := inproc(t, on(db, "builtin", args...)...)
		wantCode(t, r, 0)
		if args[0] == "status" {
			continue
		}
		if r.stdout != "" || r.stderr != "" {
			t.Errorf("%q printed on success:\n%s", args, r)
		}
	}
	wantVersions(t, connect(t, db), 1, 2)
	// Errors are still reported.
	r := inproc(t, on(db, "builtin", "-q", "baseline", "--version", "1")...)
	wantCode(t, r, 3)
	wantContains(t, "stderr", r.stderr, "baseline refused")
}

func TestCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files []string
		arg   string
		want  string
		again string // the file a second create writes
	}{
		{"empty directory", nil, "add_orders", "001_add_orders.sql", "002_again.sql"},
		{"missing directory", nil, "add_orders", "001_add_orders.sql", "002_again.sql"},
		{"three digits", []string{"001_a.sql", "002_b.sql"}, "c", "003_c.sql", "004_again.sql"},
		{"four digits", []string{"0001_a.sql", "0009_b.sql"}, "next", "0010_next.sql", "0011_again.sql"},
		{"no padding", []string{"1_a.sql", "9_b.sql"}, "c", "10_c.sql", "11_again.sql"},
		{"spaces become one underscore", []string{"041_a.sql"}, "  add  orders ", "042_add_orders.sql", "043_again.sql"},
		{"other files ignored", []string{"001_a.sql", "notes.txt", "README.md"}, "b", "002_b.sql", "003_again.sql"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tc.name == "missing directory" {
				dir = filepath.Join(dir, "db", "migrations")
			}
			for _, f := range tc.files {
				writeFile(t, filepath.Join(dir, f), "SELECT 1;\n")
			}
			r := inproc(t, "create", tc.arg, "--source", dir)
			wantCode(t, r, 0)
			path := filepath.Join(dir, tc.want)
			if r.stdout != "created "+path+"\n" {
				t.Errorf("stdout = %q, want %q", r.stdout, "created "+path+"\n")
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "-- pgmig:up") || !strings.Contains(string(b), "-- pgmig:down") {
				t.Errorf("new file has no up and down sections:\n%s", b)
			}
			// The new file is a valid migration, and the next one follows it.
			r = inproc(t, "create", "again", "--source", "file://"+dir, "--format", "json")
			wantCode(t, r, 0)
			var doc struct {
				Created string   `json:"created"`
				Files   []string `json:"files"`
			}
			oneJSON(t, r.stdout, &doc)
			next := filepath.Join(dir, tc.again)
			if doc.Created != next || len(doc.Files) != 1 || doc.Files[0] != next {
				t.Errorf("JSON = %+v, want {\"created\": %q, \"files\": [%[2]q]}", doc, next)
			}
		})
	}
	t.Run("bad name", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		r := inproc(t, "create", "add orders!", "--source", dir)
		if r.code == 0 {
			t.Fatalf("want failure, got %s", r)
		}
		wantContains(t, "stderr", r.stderr, "!")
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("files written: %v", entries)
		}
	})
}

// TestJSONEveryCommand runs each command with --format json and checks
// that stdout holds exactly one document of the contract's shape.
func TestJSONEveryCommand(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	rfc3339 := func(t *testing.T, s any) {
		t.Helper()
		str, _ := s.(string)
		if _, err := time.Parse(time.RFC3339, str); err != nil {
			t.Errorf("applied_at %v is not RFC 3339", s)
		}
	}
	checksumRE := regexp.MustCompile(`^[0-9a-f]{64}$`)
	migrationFields := func(t *testing.T, m map[string]any, applied bool) {
		t.Helper()
		for _, k := range []string{"version", "name", "state", "applied_at", "duration_ms", "checksum"} {
			if _, ok := m[k]; !ok {
				t.Errorf("migration %v has no %q", m, k)
			}
		}
		if s, _ := m["checksum"].(string); !checksumRE.MatchString(s) {
			t.Errorf("checksum %v", m["checksum"])
		}
		if applied {
			rfc3339(t, m["applied_at"])
			if _, ok := m["duration_ms"].(float64); !ok {
				t.Errorf("duration_ms %v is not a number", m["duration_ms"])
			}
		} else if m["applied_at"] != nil {
			t.Errorf("applied_at %v, want null", m["applied_at"])
		}
	}
	type report struct {
		Applied    []map[string]any `json:"applied"`
		RolledBack []map[string]any `json:"rolled_back"`
		Current    *int64           `json:"current"`
	}
	type status struct {
		Current    *int64           `json:"current"`
		Migrations []map[string]any `json:"migrations"`
	}
	j := func(t *testing.T, v any, args ...string) string {
		t.Helper()
		r := inproc(t, on(db, "builtin", append([]string{"--format", "json"}, args...)...)...)
		wantCode(t, r, 0)
		oneJSON(t, r.stdout, v)
		// The raw document, to check that arrays are [] and not null.
		return r.stdout
	}
	keysOf := func(t *testing.T, raw string) map[string]json.RawMessage {
		t.Helper()
		var m map[string]json.RawMessage
		oneJSON(t, raw, &m)
		return m
	}
	current := func(t *testing.T, got *int64, want int64) {
		t.Helper()
		if want == 0 && got != nil || want != 0 && (got == nil || *got != want) {
			t.Errorf("current = %v, want %d (0: null)", got, want)
		}
	}

	var st status
	raw := j(t, &st, "status")
	if string(keysOf(t, raw)["current"]) != "null" || len(st.Migrations) != 4 {
		t.Errorf("status on an empty database: want current null and 4 migrations, got\n%s", raw)
	}
	for _, m := range st.Migrations {
		migrationFields(t, m, false)
		if m["state"] != "pending" {
			t.Errorf("state %v, want pending", m["state"])
		}
	}

	var rep report
	raw = j(t, &rep, "up")
	if string(keysOf(t, raw)["rolled_back"]) != "[]" || len(rep.Applied) != 4 {
		t.Errorf("up: want 4 applied and rolled_back [], got\n%s", raw)
	}
	for i, m := range rep.Applied {
		migrationFields(t, m, true)
		if m["version"] != float64(i+1) || m["state"] != "applied" {
			t.Errorf("applied[%d] = %v", i, m)
		}
	}
	current(t, rep.Current, 4)

	raw = j(t, &st, "status")
	current(t, st.Current, 4)
	for _, m := range st.Migrations {
		migrationFields(t, m, true)
		if m["state"] != "applied" {
			t.Errorf("state %v, want applied", m["state"])
		}
	}
	if names := []any{st.Migrations[0]["name"], st.Migrations[3]["name"]}; names[0] != "create_users" || names[1] != "create_sessions" {
		t.Errorf("names %v", names)
	}

	rep = report{}
	raw = j(t, &rep, "rollback")
	if string(keysOf(t, raw)["applied"]) != "[]" || len(rep.RolledBack) != 1 || rep.RolledBack[0]["version"] != 4.0 {
		t.Errorf("rollback: want rolled_back [4] and applied [], got\n%s", raw)
	}
	current(t, rep.Current, 3)

	rep = report{}
	j(t, &rep, "up")
	rep = report{}
	raw = j(t, &rep, "redo")
	if len(rep.Applied) != 1 || len(rep.RolledBack) != 1 || rep.Applied[0]["version"] != 4.0 {
		t.Errorf("redo: got\n%s", raw)
	}
	current(t, rep.Current, 4)

	var v struct {
		Valid      bool             `json:"valid"`
		Migrations []map[string]any `json:"migrations"`
	}
	j(t, &v, "validate")
	if !v.Valid || len(v.Migrations) != 4 {
		t.Errorf("validate: %+v", v)
	}

	var changes struct {
		Changes []any `json:"changes"`
	}
	raw = j(t, &changes, "repair")
	if string(keysOf(t, raw)["changes"]) != "[]" {
		t.Errorf("repair with nothing to do: want changes [], got\n%s", raw)
	}

	rep = report{}
	raw = j(t, &rep, "rollback", "--all")
	if len(rep.RolledBack) != 4 || string(keysOf(t, raw)["current"]) != "null" {
		t.Errorf("rollback --all: want 4 rolled back and current null, got\n%s", raw)
	}
	raw = j(t, &st, "status")
	if string(keysOf(t, raw)["current"]) != "null" {
		t.Errorf("status after rollback --all: want current null, got\n%s", raw)
	}

	var bl struct {
		Baselined []map[string]any `json:"baselined"`
		Current   *int64           `json:"current"`
	}
	j(t, &bl, "baseline", "--version", "2")
	if len(bl.Baselined) != 2 {
		t.Errorf("baseline: %+v", bl)
	}
	current(t, bl.Current, 2)

	var h map[string]any
	j(t, &h, "health")
	if h["healthy"] != true || h["server_version"] == "" {
		t.Errorf("health: %v", h)
	}
	var ver map[string]string
	j(t, &ver, "version")
	if ver["version"] == "" || ver["commit"] == "" || ver["date"] == "" {
		t.Errorf("version: %v", ver)
	}
	r := inproc(t, "--version", "--format", "json")
	wantCode(t, r, 0)
	oneJSON(t, r.stdout, &ver)

	// Failures: one error document, code equal to the exit code.
	wantJSONError(t, inproc(t, on(db, "builtin", "--format", "json", "baseline", "--version", "2")...), 3)
	wantJSONError(t, inproc(t, on(db, "builtin", "--format", "json", "nope")...), 2)
	wantJSONError(t, inproc(t, on(db, "/nonexistent/dir", "--format", "json", "status")...), 1)
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := inproc(t, args...)
		wantCode(t, r, 0)
		if !regexp.MustCompile(`^pgmig \S+ \(commit \S+, built \S+\)\n$`).MatchString(r.stdout) {
			t.Errorf("%q: stdout = %q", args, r.stdout)
		}
	}
	// Stamped at release through -ldflags.
	r := exe(t, nil, "version")
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "pgmig ")
}

// TestEveryGlobalFlagAfterTheCommand: each global flag, in each spelling,
// written after the command is moved before it, its value with it; none is
// listed by hand, so a new flag needs no list kept in step.
func TestEveryGlobalFlagAfterTheCommand(t *testing.T) {
	t.Parallel()
	app := newApp(&cliApp{out: newPrinter(io.Discard, io.Discard, false, false, false)})
	for _, f := range app.Flags {
		if n := f.Names()[0]; n == "help" || n == "version" {
			continue
		}
		takesValue := f.(cli.DocGenerationFlag).TakesValue()
		for _, n := range f.Names() {
			flag := "--" + n
			if len(n) == 1 {
				flag = "-" + n
			}
			args := []string{"pgmig", "status", flag}
			want := []string{"pgmig", flag}
			if takesValue {
				args = append(args, "VALUE")
				want = append(want, "VALUE")
			}
			args = append(args, "rest")
			want = append(want, "status", "rest")
			if got := hoistGlobalFlags(app.Flags, args); !slices.Equal(got, want) {
				t.Errorf("hoist %q = %q, want %q", args, got, want)
			}
		}
	}
	// A command's own --version (baseline's) stays with the command.
	args := []string{"pgmig", "baseline", "--version", "3"}
	if got := hoistGlobalFlags(app.Flags, args); !slices.Equal(got, args) {
		t.Errorf("hoist %q = %q", args, got)
	}
}
