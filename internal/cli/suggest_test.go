package cli

import (
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
