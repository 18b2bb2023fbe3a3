package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pgmig/pgmig/internal/pgtest"
)

// runCLI runs pgmig in-process and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), append([]string{"pgmig"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCompletionScripts(t *testing.T) {
	tests := []struct {
		shell string
		want  []string // besides "pgmig"
	}{
		{shell: "bash", want: []string{"complete ", "__complete"}},
		{shell: "zsh", want: []string{"#compdef pgmig", "compdef _pgmig pgmig", "__complete"}},
		{shell: "fish", want: []string{"complete -c pgmig", "validate", "rollback"}},
	}
	for _, tc := range tests {
		t.Run(tc.shell, func(t *testing.T) {
			code, out, errOut := runCLI(t, "completion", tc.shell)
			if code != 0 {
				t.Fatalf("exit %d, stderr: %s", code, errOut)
			}
			if strings.TrimSpace(out) == "" {
				t.Fatal("empty script")
			}
			for _, w := range append([]string{"pgmig"}, tc.want...) {
				if !strings.Contains(out, w) {
					t.Errorf("script does not contain %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestCompletionUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{name: "unknown shell", args: []string{"completion", "tcsh"}},
		{name: "no shell", args: []string{"completion"}},
		{name: "two shells", args: []string{"completion", "bash", "zsh"}},
		{name: "man with an argument", args: []string{"man", "up"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (usage); stdout: %s stderr: %s", code, out, errOut)
			}
			if out != "" {
				t.Errorf("stdout not empty: %q", out)
			}
		})
	}
}

// TestCompletionCandidates checks what the bash and zsh scripts ask the
// binary for: `pgmig __complete WORD… CURRENT`, the words it suggests.
func TestCompletionCandidates(t *testing.T) {
	tests := []struct {
		name    string
		words   []string
		want    []string
		notWant []string
		none    bool // nothing: the shell completes a file name
	}{
		{name: "commands", words: []string{""}, want: []string{"up", "status", "rollback", "down", "validate", "completion", "help"}, notWant: []string{"man"}},
		{name: "global flags", words: []string{"-"}, want: []string{"--database-url", "-d", "--source", "--format", "--lock-timeout"}, notWant: []string{"--lock-ttl", "--dry-run"}},
		{name: "command flags", words: []string{"up", "--dr"}, want: []string{"--dry-run"}},
		{name: "flags after a value", words: []string{"--source", "builtin", "rollback", "--a"}, want: []string{"--all", "--allow-out-of-order"}},
		{name: "shells", words: []string{"completion", ""}, want: []string{"bash", "zsh", "fish"}},
		{name: "help topics", words: []string{"help", "ro"}, want: []string{"rollback"}},
		{name: "after --", words: []string{"up", "--", ""}, none: true},
		{name: "dashes after --", words: []string{"up", "--", "--"}, none: true},
		{name: "flag value", words: []string{"up", "--table", ""}, none: true},
		{name: "short flag value", words: []string{"-s", ""}, none: true},
		{name: "unknown command", words: []string{"stauts", ""}, none: true},
		// A script from an earlier pgmig: `pgmig up --` Tab, the cursor
		// on "--", gets up's flags instead of running up.
		{name: "old script after --", words: []string{"up", "--", "--generate-bash-completion"}, want: []string{"--dry-run"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append([]string{"__complete"}, tc.words...)...)
			if tc.name == "old script after --" {
				code, out, errOut = runCLI(t, tc.words...)
			}
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr: %s", code, errOut)
			}
			got := map[string]bool{}
			for _, w := range strings.Fields(out) {
				got[w] = true
			}
			if tc.none && len(got) > 0 {
				t.Errorf("completing %q offered %q, want nothing", tc.words, out)
			}
			for _, w := range tc.want {
				if !got[w] {
					t.Errorf("%q not suggested; got:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if got[w] {
					t.Errorf("%q suggested; got:\n%s", w, out)
				}
			}
		})
	}
}

// TestCompletionBash loads the bash script into a real bash and completes
// with a freshly built pgmig, as a user's shell would.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	dir := t.TempDir()
	bin := buildPgmig(t, dir, "pgmig-real")
	// The word the user typed is a wrapper that logs each call, so a test
	// can tell whether completing ran pgmig at all.
	calls := filepath.Join(dir, "calls")
	wrapper := filepath.Join(dir, "pgmig")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\necho \"$*\" >> '"+calls+"'\nexec '"+bin+"' \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, script, _ := runCLI(t, "completion", "bash")
	scriptPath := filepath.Join(dir, "pgmig.bash")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}

	// Set COMP_WORDS as bash would for the words given and print the
	// candidates one a line.
	harness := `source "$1" || exit 1
complete -p pgmig >/dev/null || exit 1
shift
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
_pgmig_complete
printf '%s\n' "${COMPREPLY[@]}"
`
	tests := []struct {
		name  string
		words []string // after the program name; the last is the one being completed
		want  []string // every one of these, in any order
		exact bool     // and nothing else
	}{
		{name: "commands", words: []string{""}, want: []string{"up", "status", "rollback", "validate", "completion"}},
		{name: "prefix", words: []string{"re"}, want: []string{"redo", "repair"}, exact: true},
		{name: "global flag", words: []string{"--tab"}, want: []string{"--table"}, exact: true},
		{name: "command flag", words: []string{"--source", "builtin", "up", "--dr"}, want: []string{"--dry-run"}, exact: true},
		{name: "shell", words: []string{"completion", "f"}, want: []string{"fish"}, exact: true},
		// The value of --table must not be completed by running
		// `pgmig up --table --generate-bash-completion`: that is `up`
		// with a table named --generate-bash-completion.
		{name: "flag value", words: []string{"up", "--table", ""}, exact: true},
		{name: "whole value flag", words: []string{"up", "--table"}, want: []string{"--table"}, exact: true},
		{name: "short value flag", words: []string{"-s", ""}, exact: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(calls)
			args := append([]string{"--norc", "--noprofile", "-c", harness, "harness", scriptPath, wrapper}, tc.words...)
			cmd := exec.Command(bash, args...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			got := strings.Fields(string(out))
			have := map[string]bool{}
			for _, w := range got {
				have[w] = true
			}
			for _, w := range tc.want {
				if !have[w] {
					t.Errorf("completing %q: %q not offered; got %q", tc.words, w, got)
				}
			}
			if tc.exact && len(got) != len(tc.want) {
				t.Errorf("completing %q: got %q, want exactly %q", tc.words, got, tc.want)
			}
			logged, _ := os.ReadFile(calls)
			if !strings.HasPrefix(string(logged), "__complete ") && string(logged) != "__complete\n" {
				t.Errorf("completing %q did not ask pgmig for candidates; calls: %q", tc.words, logged)
			}
		})
	}
}

// buildPgmig puts the test binary at dir/name.
func buildPgmig(t *testing.T, dir, name string) string {
	t.Helper()
	bin := filepath.Join(dir, name)
	if err := os.Symlink(pgtest.Binary(t), bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestCompletionZsh runs the zsh script's function with compadd and _files
// replaced by stubs that print what they are given: zsh's completion
// system needs a terminal, the script's logic does not.
func TestCompletionZsh(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("zsh not installed")
	}
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	dir := t.TempDir()
	buildPgmig(t, dir, "pgmig")
	_, script, _ := runCLI(t, "completion", "zsh")
	scriptPath := filepath.Join(dir, "_pgmig")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	harness := `source "$1" 2>/dev/null # compdef is missing without compinit; _pgmig is defined all the same
compadd() { if [[ $1 == -a ]]; then print -l -- "${(@P)2}"; else shift; print -l -- "$@"; fi }
_files() { print FILES }
shift
words=("$@"); CURRENT=${#words}
_pgmig
`
	tests := []struct {
		name  string
		words []string
		want  []string
	}{
		{name: "commands", words: []string{"pgmig", ""}, want: []string{"up", "status", "rollback", "completion"}},
		{name: "command flag", words: []string{"pgmig", "up", "--dr"}, want: []string{"--dry-run"}},
		{name: "flag value", words: []string{"pgmig", "up", "--table", ""}, want: []string{"FILES"}},
		{name: "whole value flag", words: []string{"pgmig", "--table"}, want: []string{"--table"}},
		{name: "shell", words: []string{"pgmig", "completion", ""}, want: []string{"bash", "zsh", "fish"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(zsh, append([]string{"-f", "-c", harness, "harness", scriptPath}, tc.words...)...)
			cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("zsh: %v\n%s", err, out)
			}
			got := strings.Fields(string(out))
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("completing %q: %q not offered; got %q", tc.words, w, got)
				}
			}
		})
	}
}

// TestCompletionFish loads the fish script into fish and completes.
func TestCompletionFish(t *testing.T) {
	fish, err := exec.LookPath("fish")
	if err != nil {
		t.Skip("fish not installed")
	}
	dir := t.TempDir()
	_, script, _ := runCLI(t, "completion", "fish")
	scriptPath := filepath.Join(dir, "pgmig.fish")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		line string
		want []string
	}{
		{line: "pgmig ", want: []string{"up", "status", "rollback", "validate"}},
		{line: "pgmig up --", want: []string{"--dry-run", "--steps", "--to"}},
		{line: "pgmig --so", want: []string{"--source"}},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			cmd := exec.Command(fish, "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, scriptPath, tc.line)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("fish: %v\n%s", err, out)
			}
			var got []string
			for _, l := range strings.Split(string(out), "\n") {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("completing %q: %q not offered; got %q", tc.line, w, got)
				}
			}
		})
	}
}

func TestMan(t *testing.T) {
	code, out, errOut := runCLI(t, "man")
	if code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, errOut)
	}
	for _, w := range []string{".TH pgmig 1", ".SH COMMANDS", ".SH up", ".SH status", ".SH rollback", ".SH validate", ".SH completion", "--database-url"} {
		if !strings.Contains(out, w) {
			t.Errorf("man page does not contain %q", w)
		}
	}
	if strings.Contains(out, ".SH man") {
		t.Error("man page documents the hidden man command")
	}
}
