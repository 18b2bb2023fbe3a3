package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pgmig/pgmig/lock"
	"github.com/pgmig/pgmig/runner"
)

// TestUsageHelp: a mistyped command or flag gets the nearest one, a flag is
// echoed as it was typed, `help COMMAND` works, and a duration without its
// unit says which form is wanted.
func TestUsageHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		code    int
		want    []string // in stderr, or stdout for help and JSON
		notWant []string
	}{
		{name: "command typo", args: []string{"stauts"}, code: 2, want: []string{`unknown command "stauts"; did you mean status?`}},
		{name: "command typo in JSON", args: []string{"--format", "json", "rollbak"}, code: 2, want: []string{`did you mean rollback?`, `"code": 2`}},
		{name: "no near command", args: []string{"frobnicate"}, code: 2, want: []string{`unknown command "frobnicate"; run`}, notWant: []string{"did you mean"}},
		{name: "flag typo", args: []string{"--formt", "json", "status"}, code: 2, want: []string{"unknown flag --formt; did you mean --format?"}, notWant: []string{" -formt"}},
		{name: "flag typo after the command", args: []string{"status", "--formt=json"}, code: 2, want: []string{"unknown flag --formt; did you mean --format?"}},
		{name: "command flag typo", args: []string{"up", "--dry-rn"}, code: 2, want: []string{"unknown flag --dry-rn; did you mean --dry-run?"}},
		{name: "single-dash flag echoed as typed", args: []string{"-formt", "json", "status"}, code: 2, want: []string{"unknown flag -formt;"}},
		{name: "help COMMAND", args: []string{"help", "rollback"}, code: 0, want: []string{"pgmig rollback", "--steps"}},
		{name: "help alone", args: []string{"help"}, code: 0, want: []string{"COMMANDS", "rollback"}},
		{name: "help of a typo", args: []string{"help", "rolback"}, code: 2, want: []string{"did you mean rollback?"}},
		{name: "duration without unit", args: []string{"status", "--lock-timeout", "5"}, code: 2, want: []string{`--lock-timeout "5": want a duration with its unit, such as 5s`}, notWant: []string{"parse error"}},
		{name: "number that is not one", args: []string{"up", "--steps", "two"}, code: 2, want: []string{`--steps "two": want a whole number`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := inproc(t, tc.args...)
			wantCode(t, r, tc.code)
			wantContains(t, "output", r.stdout+r.stderr, tc.want...)
			for _, w := range tc.notWant {
				if strings.Contains(r.stdout+r.stderr, w) {
					t.Errorf("output holds %q:\n%s", w, r)
				}
			}
		})
	}
}

// TestEngineNamesNoFlags: the engine's errors name no CLI flag; the CLI
// adds the flag that helps after matching the error's type.
func TestEngineNamesNoFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		hint string
	}{
		{&runner.OutOfOrderError{Version: 2, Name: "b", Latest: 3}, "--allow-out-of-order"},
		{&lock.PoolerError{Name: "public.pgmig_migrations", Reason: "two statements ran on different backends"}, "--lock-mode table"},
	}
	for _, tc := range tests {
		if msg := tc.err.Error(); strings.Contains(msg, "--") {
			t.Errorf("%T names a flag: %s", tc.err, msg)
		}
		if msg := withHint(tc.err).Error(); !strings.Contains(msg, tc.hint) {
			t.Errorf("the CLI's message for %T lacks %s: %s", tc.err, tc.hint, msg)
		}
	}
}

// TestCLINamesTheCommandsEngineErrorsAdvise: the engine's errors advise
// Runner methods; the CLI shows the commands instead, in the words pgmig
// always printed, in its text, its JSON message and each JSON problem.
func TestCLINamesTheCommandsEngineErrorsAdvise(t *testing.T) {
	t.Parallel()
	cm := &runner.ChecksumMismatchError{Version: 1, Name: "a", File: "001_a.sql", Recorded: "0123456789abcdef", Current: "fedcba9876543210"}
	de := &runner.DirtyError{Version: 2, Name: "b", Statement: 3, Message: "statement 3 failed: boom (SQLSTATE 42P01)"}
	ie := &runner.InvalidIndexError{Version: 3, Name: "c", Indexes: []string{"public.c_id"}}
	want := []string{
		"migration 1 a: 001_a.sql changed since it was applied (checksum recorded 0123456789ab, file now fedcba987654); restore the file, or run `pgmig repair` if the change is intended",
		"migration 2 b failed part-way and may be half-applied (statement 3): statement 3 failed: boom (SQLSTATE 42P01); fix the database by hand, then run `pgmig repair`",
		"migration 3 c left INVALID index public.c_id; drop it (DROP INDEX CONCURRENTLY public.c_id;), run `pgmig repair`, then `pgmig up` to build it again",
	}
	for i, e := range []error{cm, de, ie} {
		if m := e.Error(); strings.Contains(m, "pgmig") || strings.Contains(m, "`") {
			t.Errorf("%T names a command: %s", e, m)
		}
		if got := cliText(fmt.Errorf("up: %w", e)); got != "up: "+want[i] {
			t.Errorf("the CLI shows %T as\n%s\nwant\n%s", e, got, "up: "+want[i])
		}
	}

	joined := exit(withHint(fmt.Errorf("validate: %w", errors.Join(cm, de, ie))))
	d := newErrorDoc(joined, exitCode(joined))
	if d.Message != "validate: "+strings.Join(want, "\n") {
		t.Errorf("JSON message:\n%s\nwant\n%s", d.Message, "validate: "+strings.Join(want, "\n"))
	}
	if len(d.Problems) != len(want) {
		t.Fatalf("%d problems, want %d: %+v", len(d.Problems), len(want), d.Problems)
	}
	for i, p := range d.Problems {
		if p.Message != want[i] {
			t.Errorf("problem %d:\n%s\nwant\n%s", i, p.Message, want[i])
		}
	}

	var stderr strings.Builder
	newPrinter(&strings.Builder{}, &stderr, false, false, false).error(joined, 3)
	if wantText := "error: validate: " + want[0] + "\nerror: " + want[1] + "\nerror: " + want[2] + "\n"; stderr.String() != wantText {
		t.Errorf("text:\n%s\nwant\n%s", stderr.String(), wantText)
	}
}
