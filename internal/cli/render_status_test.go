package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgmig/pgmig/runner"
)

// The status document written a migration at a time is byte for byte the
// one writeJSON writes, escaping and nulls included.
func TestWriteStatusJSONMatchesEncoder(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 3, 11, 0, 0, 123456000, time.UTC)
	cur := int64(3)
	docs := map[string]runner.Status{
		"empty": {},
		"several": {Current: &cur, Migrations: []runner.MigrationStatus{
			{Version: 1, Name: "a <b> & \"c\"", State: runner.Applied, AppliedAt: &at, Duration: 1500 * time.Microsecond, Checksum: "ab", File: "001_a.up.sql"},
			{Version: 3, Name: "ünï", State: runner.Changed, AppliedAt: &at, File: "003_u.sql", Error: "line\nbreak"},
			{Version: 4, Name: "p", State: runner.Pending, File: "004_p.sql"},
		}},
	}
	for name, st := range docs {
		for _, target := range []*jsonTarget{nil, {Host: "db<1>", Port: 5432, Database: "app", Table: "public.pgmig_migrations"}} {
			var want, got bytes.Buffer
			pw, pg := newPrinter(&want, nil, true, false, false), newPrinter(&got, nil, true, false, false)
			pw.target, pg.target = target, target
			pw.writeJSON(statusJSON(st))
			pg.writeStatusJSON(statusJSON(st))
			if got.String() != want.String() {
				t.Errorf("%s, target %v: writeStatusJSON wrote\n%s\nwant\n%s", name, target, got.String(), want.String())
			}
		}
	}
}

// TestReadCommandsBadFiles: status and validate read the history while
// the files are still being read; files that do not make a migration set
// are still the one error, with exit 3 and no target line, in text and in
// JSON, as when the files were read before anything else.
func TestReadCommandsBadFiles(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	dir := t.TempDir()
	for name, body := range map[string]string{
		"001_a.sql": "-- pgmig:up\nSELECT 1;\n",
		"001_b.sql": "-- pgmig:up\nSELECT 1;\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const want = "error: version 1 is claimed by more than one file: 001_a.sql, 001_b.sql"
	for _, cmd := range []string{"status", "validate"} {
		r := inproc(t, on(db, dir, cmd)...)
		wantCode(t, r, 3)
		if !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%s: stderr %q, want the one line %q…", cmd, r.stderr, want)
		}
		if r.stdout != "" {
			t.Errorf("%s: stdout %q, want nothing", cmd, r.stdout)
		}
		r = inproc(t, on(db, dir, cmd, "--format", "json")...)
		wantCode(t, r, 3)
		var doc map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("%s --format json: %v\n%s", cmd, err, r)
		}
		if _, ok := doc["target"]; ok {
			t.Errorf("%s --format json: the error document names a target:\n%s", cmd, r.stdout)
		}
		if _, ok := doc["error"]; !ok {
			t.Errorf("%s --format json: no error:\n%s", cmd, r.stdout)
		}
	}
}

// TestFmtDurationMillis: below a second the duration is "%.1f ms", written
// without fmt (status writes one a row).
func TestFmtDurationMillis(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{0, 1, 49_999, 50_000, 150_000, 250_000, 1_234_567, 999_949_999, 999_950_000, 999_999_999} {
		if got, want := fmtDuration(d), fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)); got != want {
			t.Errorf("fmtDuration(%d) = %q, want %q", d, got, want)
		}
	}
}

// TestFmtVersion: a version is "%03d", written without fmt.
func TestFmtVersion(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{0, 1, 9, 10, 99, 100, 999, 1000, 20261203145600, -1, -10, -100, 1<<63 - 1} {
		if got, want := fmtVersion(v), fmt.Sprintf("%03d", v); got != want {
			t.Errorf("fmtVersion(%d) = %q, want %q", v, got, want)
		}
	}
}

// The files' error wrapped by the runner, as a lazy session meets it when
// it connected before the files were read, is said as the files' own.
func TestLoadedCauseUnwrapsTheRunnersWrap(t *testing.T) {
	t.Parallel()
	ferr := errors.New("version 1 is claimed by more than one file")
	l := &loaded{done: make(chan struct{}), err: ferr}
	wrapped := fmt.Errorf("load migrations: %w", ferr)
	if got := l.cause(wrapped); got != wrapped {
		t.Errorf("before the files are read: cause = %v, want the error as given", got)
	}
	close(l.done)
	if got := l.cause(wrapped); got != ferr {
		t.Errorf("cause = %v, want the files' own error", got)
	}
	other := errors.New("connection refused")
	if got := l.cause(other); got != other {
		t.Errorf("cause of another error = %v, want it as given", got)
	}
}
