package runner_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgmig/pgmig/runner"
)

// commandRE matches a CLI command in a message: pgmig and one of its
// commands, or anything in backquotes, the CLI's way of quoting one.
var commandRE = regexp.MustCompile("`|\\bpgmig (up|rollback|redo|repair|baseline|adopt|status|validate|verify|drift|lint|create|diff|health|completion|man|version)\\b")

// TestEngineMessagesNameNoCommand: the errors that advise a remedy name
// the Runner method, not a CLI command (a program built on the engine has
// none), and Text renders the methods as the caller names them. The errors
// come from real runs: a changed file, a failed no-transaction section, an
// INVALID index; the history row of the last names no command either.
func TestEngineMessagesNameNoCommand(t *testing.T) {
	ctx := context.Background()
	// texter is what the remedy-advising errors share.
	type texter interface {
		error
		Text(func(method string) string) string
	}
	tests := []struct {
		name    string
		run     func(t *testing.T, e *env) error
		methods []string // the methods the message advises, in order
	}{
		{"changed file", func(t *testing.T, e *env) error {
			files := three()
			r := e.runner(files, runner.Options{})
			if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
				t.Fatal(err)
			}
			files["002_b.sql"] = mig("CREATE TABLE b (id bigint);", "DROP TABLE b;")
			_, err := r.Up(ctx, runner.UpOptions{})
			if !errors.As(err, new(*runner.ChecksumMismatchError)) {
				t.Fatalf("up after a change: %v, want a *ChecksumMismatchError", err)
			}
			return err
		}, []string{runner.MethodRepair}},
		{"failed row", func(t *testing.T, e *env) error {
			files := fstest.MapFS{
				"001_t.sql":   mig("CREATE TABLE t (id int);", ""),
				"002_idx.sql": mig("-- pgmig:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\nCREATE INDEX CONCURRENTLY t_x ON t (nope);", ""),
			}
			r := e.runner(files, runner.Options{})
			if _, err := r.Up(ctx, runner.UpOptions{}); !errors.As(err, new(*runner.MigrationError)) {
				t.Fatalf("up: %v, want a *MigrationError", err)
			}
			_, err := r.Up(ctx, runner.UpOptions{})
			if !errors.As(err, new(*runner.DirtyError)) {
				t.Fatalf("up over the failed row: %v, want a *DirtyError", err)
			}
			return err
		}, []string{runner.MethodRepair}},
		{"invalid index", func(t *testing.T, e *env) error {
			err := e.upOverInvalidIndex()
			if !errors.As(err, new(*runner.InvalidIndexError)) {
				t.Fatalf("up over an invalid index: %v, want an *InvalidIndexError", err)
			}
			var recorded string
			if err := e.pool.QueryRow(ctx, "SELECT error FROM pgmig_migrations WHERE version = 1").Scan(&recorded); err != nil {
				t.Fatal(err)
			}
			if commandRE.MatchString(recorded) || strings.Contains(recorded, "Runner.") || !strings.Contains(recorded, "DROP INDEX CONCURRENTLY public.t_id;") {
				t.Errorf("the failed row records %q, want what was left and its DROP, with no remedy", recorded)
			}
			return err
		}, []string{runner.MethodRepair, runner.MethodUp}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			err := tc.run(t, e)
			if m := commandRE.FindString(err.Error()); m != "" {
				t.Errorf("the message names a CLI command (%q): %v", m, err)
			}
			var te texter
			var cm *runner.ChecksumMismatchError
			var de *runner.DirtyError
			var ie *runner.InvalidIndexError
			switch {
			case errors.As(err, &cm):
				te = cm
			case errors.As(err, &de):
				te = de
			case errors.As(err, &ie):
				te = ie
			}
			if te == nil {
				t.Fatalf("%v: no error in the chain has Text", err)
			}
			var asked []string
			cmd := te.Text(func(method string) string {
				asked = append(asked, method)
				return "<" + method + ">"
			})
			if strings.Join(asked, " ") != strings.Join(tc.methods, " ") {
				t.Errorf("Text named methods %q, want %q", asked, tc.methods)
			}
			if te.Text(func(m string) string { return m }) != te.Error() {
				t.Errorf("Text naming methods as Go does is not Error:\n%s\n%s", te.Text(func(m string) string { return m }), te.Error())
			}
			for _, m := range tc.methods {
				if !strings.Contains(te.Error(), m) || !strings.Contains(cmd, "<"+m+">") {
					t.Errorf("the message does not name %s where Text renders it: %q, %q", m, te.Error(), cmd)
				}
			}
		})
	}
}
