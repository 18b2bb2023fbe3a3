package cli

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// docRow is a flag row of docs/cli.md: "| `--name ARG`, `-n` | `ENV` | …".
var docRow = regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)[^|]*\\|([^|]*)\\|")

// TestDocsCLIListsEveryFlag keeps docs/cli.md in step with the flag
// definitions, which are what --help and the man page are made from: each
// command's section lists exactly its flags, each with its environment
// variables, and the global section the global ones.
func TestDocsCLIListsEveryFlag(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	for _, part := range strings.Split("\n"+string(raw), "\n## ")[1:] {
		title, body, _ := strings.Cut(part, "\n")
		sections[strings.TrimSpace(title)] = body
	}
	app := newApp(&cliApp{out: newPrinter(io.Discard, io.Discard, false, false, false)})
	check := func(section string, flags []cli.Flag) {
		body, ok := sections[section]
		if !ok {
			t.Errorf("docs/cli.md has no section %q", section)
			return
		}
		rows := map[string]string{}
		for _, m := range docRow.FindAllStringSubmatch(body, -1) {
			rows[m[1]] = m[2]
		}
		defined := map[string]bool{}
		for _, f := range flags {
			name := f.Names()[0]
			if name == "help" || name == "version" && section == "Global flags" {
				continue
			}
			defined[name] = true
			env, ok := rows[name]
			if !ok {
				t.Errorf("docs/cli.md, %s: no row for --%s", section, name)
				continue
			}
			if ev, ok := f.(interface{ GetEnvVars() []string }); ok {
				for _, v := range ev.GetEnvVars() {
					if !strings.Contains(env, "`"+v+"`") {
						t.Errorf("docs/cli.md, %s: the row for --%s does not name %s", section, name, v)
					}
				}
			}
		}
		for name := range rows {
			if !defined[name] {
				t.Errorf("docs/cli.md, %s: --%s is not a flag there", section, name)
			}
		}
	}
	check("Global flags", app.Flags)
	for _, cmd := range app.Commands {
		if !cmd.Hidden {
			check(cmd.Name, cmd.Flags)
		}
	}
}
