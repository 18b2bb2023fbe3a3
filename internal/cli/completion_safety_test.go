package cli

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
)

// countingProxy forwards TCP connections to the server of db and counts
// them; it returns db's URL through the proxy.
func countingProxy(t *testing.T, db string) (string, *atomic.Int64) {
	t.Helper()
	cfg, err := pgx.ParseConfig(db)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	upstream := net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				u, err := net.Dial("tcp", upstream)
				if err != nil {
					return
				}
				defer u.Close()
				go io.Copy(u, c)
				io.Copy(c, u)
			}()
		}
	}()
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", cfg.User, ln.Addr(), cfg.Database), &n
}

// TestCompletionNeverRuns drives each shell's completion over command
// lines that once ran the command (`pgmig up --` Tab applied every pending
// migration), against a database with pending migrations reached through
// a proxy that counts connections: completing must connect to nothing and
// change nothing, whatever the line holds.
func TestCompletionNeverRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	t.Parallel()
	db := newDB(t)
	proxied, conns := countingProxy(t, db)
	dir := t.TempDir()
	bin := buildPgmig(t, dir, "pgmig-real")
	calls := filepath.Join(dir, "calls")
	if err := os.WriteFile(filepath.Join(dir, "pgmig"), []byte("#!/bin/sh\necho \"$*\" >> '"+calls+"'\nexec '"+bin+"' \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PGMIG_DATABASE_URL="+proxied, "PGMIG_SOURCE=builtin", "PGMIG_CONNECT_TIMEOUT=2s")
	script := func(shell string) string {
		_, s, _ := runCLI(t, "completion", shell)
		p := filepath.Join(dir, "pgmig."+shell)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Each line is the words after "pgmig", the last one under the cursor.
	lines := [][]string{
		{"up", "--"},
		{"up", "--", ""},
		{"up", "--", "--"},
		{"rollback", "--"},
		{"rollback", "--all", "--", ""},
		{"redo", "--"},
		{"repair", "--", "-"},
		{"baseline", "--version", "4", "--"},
		{"up", "--dry-run", "--", "x"},
		{"up", "--table", ""},
		{"up", "--table", "--"},
		{"up", "--to", ""},
		{"up", "-d", ""},
		{"--source", "builtin", "up", ""},
		{"up", "--steps", "2", "-"},
		{"--", "up", ""},
		{"up", "--", "--generate-bash-completion"},
		{"status", "--format", "json", "--"},
	}
	type shell struct {
		name string
		run  func(words []string) *exec.Cmd
	}
	var shells []shell
	if bash, err := exec.LookPath("bash"); err == nil {
		p := script("bash")
		harness := `source "$1" || exit 1; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _pgmig_complete; printf '%s\n' "${COMPREPLY[@]}"`
		shells = append(shells, shell{"bash", func(words []string) *exec.Cmd {
			return exec.Command(bash, append([]string{"--norc", "--noprofile", "-c", harness, "harness", p, "pgmig"}, words...)...)
		}})
	}
	if zsh, err := exec.LookPath("zsh"); err == nil {
		p := script("zsh")
		harness := `source "$1" 2>/dev/null
compadd() { if [[ $1 == -a ]]; then print -l -- "${(@P)2}"; else shift; print -l -- "$@"; fi }
_files() { print FILES }
shift; words=("$@"); CURRENT=${#words}; _pgmig`
		shells = append(shells, shell{"zsh", func(words []string) *exec.Cmd {
			return exec.Command(zsh, append([]string{"-f", "-c", harness, "harness", p, "pgmig"}, words...)...)
		}})
	}
	if fish, err := exec.LookPath("fish"); err == nil {
		p := script("fish")
		shells = append(shells, shell{"fish", func(words []string) *exec.Cmd {
			return exec.Command(fish, "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, p, "pgmig "+strings.Join(words, " "))
		}})
	}
	if len(shells) < 3 {
		t.Logf("only %d of bash, zsh and fish are installed; `apt-get install zsh fish` tests the others", len(shells))
	}
	for _, sh := range shells {
		for _, words := range lines {
			cmd := sh.run(words)
			cmd.Dir, cmd.Env = dir, env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s completing %q: %v\n%s", sh.name, words, err, out)
			}
		}
		logged, _ := os.ReadFile(calls)
		for _, l := range strings.Split(strings.TrimSpace(string(logged)), "\n") {
			if l != "" && !strings.HasPrefix(l, "__complete") {
				t.Errorf("%s ran `pgmig %s`", sh.name, l)
			}
		}
		if n := conns.Load(); n != 0 {
			t.Fatalf("%s: completing made %d connections to the database", sh.name, n)
		}
	}
	c := connect(t, db)
	wantRelations(t, c, false, "public.pgmig_migrations", "users")
	if n := conns.Load(); n != 0 {
		t.Errorf("completing made %d connections to the database", n)
	}
}
