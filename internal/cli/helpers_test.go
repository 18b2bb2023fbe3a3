package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/pgtest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// clearEnv unsets every variable pgmig reads (PGMIG_*, DATABASE_URL), so
// that the developer's shell cannot change what the tests see. The test
// suites' own settings, PGMIG_TEST_*, stay.
func clearEnv() {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PGMIG_") && !strings.HasPrefix(k, "PGMIG_TEST_") || k == "DATABASE_URL" {
			os.Unsetenv(k)
		}
	}
}

func TestMain(m *testing.M) {
	clearEnv()
	os.Setenv("NO_COLOR", "1")
	os.Exit(pgtest.RunTests(m))
}

// result is what one pgmig run printed and returned.
type result struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %s\n--- stdout:\n%s--- stderr:\n%s", r.code, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// exe runs the built binary with args and extra environment variables.
func exe(t *testing.T, env []string, args ...string) result {
	t.Helper()
	bin := pgtest.Binary(t) // built on the first call: before the clock starts
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run pgmig %s: %v\n%s", strings.Join(args, " "), err, r)
	}
	return r
}

// inproc runs the CLI in-process through run, as main does.
func inproc(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	start := time.Now()
	code := Run(ctx, append([]string{"pgmig"}, args...), &out, &errb)
	return result{stdout: out.String(), stderr: errb.String(), code: code, elapsed: time.Since(start)}
}

// on prefixes args with the database and source flags.
func on(db, src string, args ...string) []string {
	return append([]string{"--database-url", db, "--source", src}, args...)
}

func wantCode(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got %s", code, r)
	}
}

func wantContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}

// connect opens a connection of the test's own to db.
func connect(t *testing.T, db string) *pgx.Conn {
	t.Helper()
	return pgtest.Connect(t, db)
}

func query[T any](t *testing.T, c *pgx.Conn, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := c.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func exists(t *testing.T, c *pgx.Conn, relation string) bool {
	t.Helper()
	return query[*string](t, c, "SELECT to_regclass($1)::text", relation) != nil
}

func wantRelations(t *testing.T, c *pgx.Conn, present bool, relations ...string) {
	t.Helper()
	for _, r := range relations {
		if got := exists(t, c, r); got != present {
			t.Errorf("relation %s exists = %v, want %v", r, got, present)
		}
	}
}

type histRow struct {
	Version         int64
	Name            string
	Checksum        string
	Success         bool
	Error           string
	FailedStatement int32
}

// history reads the tracking table; nil when it does not exist.
func history(t *testing.T, c *pgx.Conn, table string) []histRow {
	t.Helper()
	if !exists(t, c, table) {
		return nil
	}
	rows, err := c.Query(context.Background(), `SELECT version, name, checksum, success, coalesce(error, ''), coalesce(failed_statement, 0) FROM `+table+` ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[histRow])
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

func versions(hs []histRow) []int64 {
	vs := []int64{}
	for _, h := range hs {
		vs = append(vs, h.Version)
	}
	return vs
}

func wantVersions(t *testing.T, c *pgx.Conn, want ...int64) []histRow {
	t.Helper()
	hs := history(t, c, "public.pgmig_migrations")
	if want == nil {
		want = []int64{}
	}
	if got := versions(hs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("history versions = %v, want %v", got, want)
	}
	return hs
}

// fixture copies testdata/name into a fresh directory, leaving out the
// files named in skip, so a test may change it.
func fixture(t *testing.T, name string, skip ...string) string {
	t.Helper()
	return copyFS(t, os.DirFS(filepath.Join("testdata", name)), skip...)
}

func copyFS(t *testing.T, fsys fs.FS, skip ...string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
outer:
	for _, e := range entries {
		for _, s := range skip {
			if e.Name() == s {
				continue outer
			}
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// oneJSON decodes s, which must hold exactly one JSON document, into v.
func oneJSON(t *testing.T, s string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not a JSON document: %v\n%s", err, s)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("stdout holds more than one JSON document:\n%s", s)
	}
}

// jsonError is the contract's failure document.
type jsonError struct {
	Error *struct {
		Message  string `json:"message"`
		Code     *int   `json:"code"`
		SQLState string `json:"sqlstate"`
		File     string `json:"file"`
		Line     int    `json:"line"`
		Column   int    `json:"column"`
	} `json:"error"`
}

// wantJSONError checks that r failed with code, printing the contract's
// error document on stdout, and returns it.
func wantJSONError(t *testing.T, r result, code int) jsonError {
	t.Helper()
	wantCode(t, r, code)
	var je jsonError
	oneJSON(t, r.stdout, &je)
	if je.Error == nil || je.Error.Code == nil || je.Error.Message == "" {
		t.Fatalf("want {\"error\": {\"message\", \"code\"}}, got:\n%s", r.stdout)
	}
	if *je.Error.Code != code {
		t.Errorf("error.code = %d, want the exit code %d", *je.Error.Code, code)
	}
	return je
}

var (
	durationRE  = regexp.MustCompile(`\b\d+(\.\d+)? (ms|s)\b|\b(\d+m)?\d+(\.\d+)?s\b`)
	timestampRE = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)
	borderRE    = regexp.MustCompile(`^[┌├└][─┬┼┴]+[┐┤┘]$`)
)

// normalize makes output comparable across runs: durations become X ms and
// timestamps a placeholder; table cells are trimmed, since column widths
// follow the durations.
func normalize(s string) string {
	s = normalizeTarget(testDatabaseRE.ReplaceAllString(s, "DB"))
	s = timestampRE.ReplaceAllString(s, "YYYY-MM-DD hh:mm:ss")
	s = durationRE.ReplaceAllString(s, "X ms")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		switch {
		case borderRE.MatchString(l):
			lines[i] = "+---"
		case strings.HasPrefix(l, "│"):
			cells := strings.Split(strings.Trim(l, "│"), "│")
			for j := range cells {
				cells[j] = strings.TrimSpace(cells[j])
			}
			lines[i] = "| " + strings.Join(cells, " | ") + " |"
		}
	}
	return strings.Join(lines, "\n")
}

// golden compares got, normalised, with testdata/golden/name.golden, or
// rewrites that file when the tests run with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = normalize(got)
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./internal/cli -update` to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run `go test ./internal/cli -update` if the change is intended)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// poll calls cond until it is true or the deadline passes.
func poll(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for wait := 10 * time.Millisecond; !cond(); wait = min(wait*2, 200*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(wait)
	}
}

func newDB(t *testing.T) string {
	t.Helper()
	return pgtest.NewDB(t)
}
