package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/pgtest"
)

// TestDatabaseURLResolution: an empty variable counts as unset (what a
// missing CI secret looks like), an empty --database-url is a usage error,
// and a bad connection string is named by where it came from.
func TestDatabaseURLResolution(t *testing.T) {
	t.Parallel()
	// The libpq defaults lead nowhere, so landing on them shows.
	nowhere := []string{"PGHOST=127.0.0.1", "PGPORT=1", "PGMIG_CONNECT_TIMEOUT=200ms"}
	tests := []struct {
		name    string
		env     []string
		args    []string
		code    int
		applied bool     // up reached the test's database
		want    []string // in stderr (or the JSON document)
	}{
		{name: "empty PGMIG_DATABASE_URL falls through to DATABASE_URL", env: []string{"PGMIG_DATABASE_URL=", "DATABASE_URL=TESTDB"}, code: 0, applied: true},
		{name: "PGMIG_DATABASE_URL wins over DATABASE_URL", env: []string{"PGMIG_DATABASE_URL=TESTDB", "DATABASE_URL=postgres://u@127.0.0.1:1/x"}, code: 0, applied: true},
		{name: "both empty mean the libpq defaults", env: []string{"PGMIG_DATABASE_URL=", "DATABASE_URL="}, code: 1, want: []string{"no --database-url, PGMIG_DATABASE_URL or DATABASE_URL", "127.0.0.1"}},
		{name: "empty flag is a usage error", env: []string{"DATABASE_URL=TESTDB"}, args: []string{"-d", ""}, code: 2, want: []string{"--database-url is empty"}},
		{name: "empty inline flag is a usage error", env: []string{"PGMIG_DATABASE_URL=TESTDB"}, args: []string{"--database-url="}, code: 2, want: []string{"--database-url is empty"}},
		{name: "bad flag value named", args: []string{"-d", "mysql://u:hunter2@h/db"}, code: 2, want: []string{"--database-url: cannot parse"}},
		{name: "bad PGMIG_DATABASE_URL named", env: []string{"PGMIG_DATABASE_URL=Postgres://u:hunter2@h/db"}, code: 2, want: []string{"PGMIG_DATABASE_URL: cannot parse"}},
		{name: "bad DATABASE_URL named", env: []string{"PGMIG_DATABASE_URL=", "DATABASE_URL=mysql2://app:hunter2@db/app"}, code: 2, want: []string{"DATABASE_URL: cannot parse", "mysql2://app:xxxxx@db/app"}},
		{name: "bad DATABASE_URL in JSON", env: []string{"DATABASE_URL=postgres://app:hunter2@t/kEy9@db/shop"}, args: []string{"--format", "json"}, code: 2, want: []string{`"message": "DATABASE_URL: cannot parse`, `"code": 2`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			env := append([]string{}, nowhere...)
			for _, kv := range tc.env {
				env = append(env, strings.Replace(kv, "TESTDB", db, 1))
			}
			r := exe(t, env, append(append([]string{}, tc.args...), "up", "--source", "builtin")...)
			wantCode(t, r, tc.code)
			wantContains(t, "output", r.stdout+r.stderr, tc.want...)
			if strings.Contains(r.stdout+r.stderr, "hunter2") {
				t.Errorf("the password is printed:\n%s", r)
			}
			c := connect(t, db)
			wantRelations(t, c, tc.applied, "public.pgmig_migrations", "users")
		})
	}
}

// TestTargetNamed: every command that connects names its database (host,
// port, database, table; never the password) before its first change, in
// text, and as "target" in JSON.
func TestTargetNamed(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	cfg, err := pgx.ParseConfig(db)
	if err != nil {
		t.Fatal(err)
	}
	// Trust authentication ignores the password; it must not show.
	withPassword := fmt.Sprintf("postgres://%s:Sekr3tPw@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	want := fmt.Sprintf("target: database %s on %s:%d, table app.history\n", cfg.Database, cfg.Host, cfg.Port)
	for _, cmd := range [][]string{{"status"}, {"validate"}, {"up", "--to", "2"}, {"rollback"}, {"redo"}, {"baseline", "--version", "2"}, {"repair"}} {
		var both bytes.Buffer
		code := Run(context.Background(), append([]string{"pgmig", "-d", withPassword, "-s", "builtin", "--table", "app.history"}, cmd...), &both, &both)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", cmd, code, both.String())
		}
		out := both.String()
		if !strings.HasPrefix(out, want) {
			t.Errorf("%s does not begin by naming its target %q:\n%s", cmd, want, out)
		}
		// The same again in JSON (baseline then refuses: its error
		// document names the target too).
		r := inproc(t, append([]string{"-d", withPassword, "-s", "builtin", "--table", "app.history", "--format", "json"}, cmd...)...)
		var doc struct {
			Target *jsonTarget `json:"target"`
		}
		oneJSON(t, r.stdout, &doc)
		wantTarget := jsonTarget{Host: cfg.Host, Port: cfg.Port, Database: cfg.Database, Table: "app.history"}
		if doc.Target == nil || *doc.Target != wantTarget {
			t.Errorf("%s: JSON target %+v, want %+v", cmd, doc.Target, wantTarget)
		}
		if strings.Contains(out+r.stdout+r.stderr, "Sekr3tPw") {
			t.Errorf("%s printed the password", cmd)
		}
	}
}

// TestTargetNamedByCheckingCommands: health, drift, verify and diff
// connect too, so they name their database like the commands that change
// one (CONTRACT.md, "Connection and target"), in text and in JSON.
func TestTargetNamedByCheckingCommands(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	cfg, err := pgx.ParseConfig(db)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	desired := filepath.Join(t.TempDir(), "desired.sql")
	writeFile(t, desired, "CREATE TABLE wanted (id bigint PRIMARY KEY);\n")
	want := fmt.Sprintf("target: database %s on %s:%d, table public.pgmig_migrations\n", cfg.Database, cfg.Host, cfg.Port)
	wantTarget := jsonTarget{Host: cfg.Host, Port: cfg.Port, Database: cfg.Database, Table: "public.pgmig_migrations"}
	for _, cmd := range [][]string{
		{"health"},
		{"-s", "builtin", "drift"},
		{"-s", "builtin", "verify"},
		{"-s", dir, "diff", "--desired", desired, "--dry-run"},
	} {
		r := inproc(t, append([]string{"-d", db}, cmd...)...)
		wantCode(t, r, 0)
		if !strings.HasPrefix(r.stderr, want) {
			t.Errorf("%s: stderr does not begin by naming the target %q:\n%s", cmd, want, r.stderr)
		}
		r = inproc(t, append([]string{"-d", db, "--format", "json"}, cmd...)...)
		wantCode(t, r, 0)
		var doc struct {
			Target *jsonTarget `json:"target"`
		}
		oneJSON(t, r.stdout, &doc)
		if doc.Target == nil || *doc.Target != wantTarget {
			t.Errorf("%s: JSON target %+v, want %+v", cmd, doc.Target, wantTarget)
		}
	}
}

// TestUnreachableServer: pgmig gives up with one error naming host:port
// and the last cause; on a terminal it shows the wait meanwhile.
func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	t.Run("not a terminal", func(t *testing.T) {
		t.Parallel()
		r := exe(t, nil, "status", "--source", "builtin", "-d", "postgres://u:Sekr3tPw@127.0.0.1:1/db", "--connect-timeout", "1s")
		wantCode(t, r, 1)
		want := "error: cannot connect to 127.0.0.1:1 (database db, user u): connection refused; gave up after 1s\n"
		if r.stderr != want {
			t.Errorf("stderr %q, want exactly %q", r.stderr, want)
		}
	})
	t.Run("role that does not exist", func(t *testing.T) {
		t.Parallel()
		cfg, err := pgx.ParseConfig(newDB(t))
		if err != nil {
			t.Fatal(err)
		}
		// sslmode=prefer: pgx tries TLS, then plain; only the server's
		// answer is the cause.
		url := fmt.Sprintf("postgres://pgmig_no_such_role:Sekr3tPw@%s:%d/%s?sslmode=prefer", cfg.Host, cfg.Port, cfg.Database)
		r := exe(t, nil, "status", "--source", "builtin", "-d", url)
		wantCode(t, r, 1)
		if n := strings.Count(r.stderr, "error:"); n != 1 {
			t.Errorf("%d error lines, want 1:\n%s", n, r.stderr)
		}
		wantContains(t, "stderr", r.stderr, fmt.Sprintf("cannot connect to %s:%d", cfg.Host, cfg.Port), `role "pgmig_no_such_role" does not exist (SQLSTATE 28000)`)
		if strings.Contains(r.stderr, "tls") || strings.Contains(r.stderr, "Sekr3tPw") {
			t.Errorf("stderr holds a TLS line or the password:\n%s", r.stderr)
		}
	})
	// JSON says what the text says: the one summary, not pgx's attempts
	// (a deadline, each address dialled, TLS then plain text) as problems.
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		cfg, err := pgx.ParseConfig(newDB(t))
		if err != nil {
			t.Fatal(err)
		}
		for name, tc := range map[string]struct{ url, want string }{
			"refused":      {"postgres://u:Sekr3tPw@127.0.0.1:1/db", "cannot connect to 127.0.0.1:1 (database db, user u): connection refused; gave up after 1s"},
			"no such role": {fmt.Sprintf("postgres://pgmig_no_such_role:Sekr3tPw@%s:%d/%s?sslmode=prefer", cfg.Host, cfg.Port, cfg.Database), `role "pgmig_no_such_role" does not exist (SQLSTATE 28000)`},
		} {
			r := exe(t, nil, "status", "--source", "builtin", "--format", "json", "-d", tc.url, "--connect-timeout", "1s")
			wantCode(t, r, 1)
			var doc struct {
				Error struct {
					Message  string            `json:"message"`
					Problems []json.RawMessage `json:"problems"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("%s: stdout is not JSON: %v\n%s", name, err, r.stdout)
			}
			if !strings.Contains(doc.Error.Message, tc.want) || len(doc.Error.Problems) != 0 || strings.Contains(r.stdout, "Sekr3tPw") {
				t.Errorf("%s: JSON error %s\nwant the message to hold %q, and no problems or password", name, r.stdout, tc.want)
			}
		}
	})
	t.Run("terminal", func(t *testing.T) {
		t.Parallel()
		scriptBin, err := exec.LookPath("script")
		if err != nil {
			t.Fatal("script (util-linux) is needed to run pgmig on a pseudo-terminal")
		}
		// script runs the command on a pseudo-terminal: stderr is a TTY.
		cmd := exec.Command(scriptBin, "-qec", pgtest.Binary(t)+" status --source builtin -d postgres://u@127.0.0.1:1/db --connect-timeout 3500ms", "/dev/null")
		out, _ := cmd.CombinedOutput()
		s := string(out)
		wantContains(t, "terminal", s, "\rwaiting for 127.0.0.1:1 … 0s", "waiting for 127.0.0.1:1 … 1s", "waiting for 127.0.0.1:1 … 2s", "waiting for 127.0.0.1:1 … 3s", "cannot connect to 127.0.0.1:1 (database db, user u): connection refused; gave up after 3.5s")
		if n := strings.Count(s, "error:"); n != 1 {
			t.Errorf("%d error lines, want 1:\n%q", n, s)
		}
	})
}
