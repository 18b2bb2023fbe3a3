package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// completionShells lists the shells `pgmig completion` writes a script for.
var completionShells = []string{"bash", "zsh", "fish"}

// completeWord is the first argument with which the bash and zsh scripts
// ask the binary for candidates: `pgmig __complete WORD… CURRENT`. Run
// recognises it before urfave/cli sees the command line, so completing is
// never a command: whatever the words hold (`--`, a flag waiting for its
// value), no action runs and nothing connects.
const completeWord = "__complete"

// legacyCompleteFlag is what scripts printed by earlier versions append to
// the words typed so far. urfave/cli treats it as an argument after `--`
// (and as a value after a flag that takes one), and the command then
// really ran; Run now answers any command line holding it with candidates
// only, so a script still installed from an old pgmig is harmless too.
const legacyCompleteFlag = "--generate-bash-completion"

// completionCommand prints a shell's completion script. The bash and zsh
// scripts ask the binary itself for candidates (see completeWord), so they
// follow the commands and flags of whichever pgmig is on the PATH; the
// fish script is generated from the command definitions and runs nothing.
func (a *cliApp) completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "SHELL",
		UsageText: "pgmig completion bash|zsh|fish\n\n" +
			"Examples:\n" +
			"   source <(pgmig completion bash)                             # this bash session\n" +
			"   pgmig completion bash > /etc/bash_completion.d/pgmig          # every bash session\n" +
			"   pgmig completion zsh > \"${fpath[1]}/_pgmig\"                   # zsh (then restart zsh)\n" +
			"   pgmig completion fish > ~/.config/fish/completions/pgmig.fish # fish",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("completion takes one argument, the shell: %s", strings.Join(completionShells, ", "))
			}
			return writeCompletion(a.stdout, c.App, c.Args().First())
		},
	}
}

// completionRequest reports whether args (args[0] is the program) ask for
// completion candidates rather than a command, and the words to complete:
// those typed so far, the last being the one under the cursor (maybe "").
func completionRequest(args []string) (words []string, ok bool) {
	if len(args) > 1 && args[1] == completeWord {
		return args[2:], true
	}
	for i, w := range args {
		if w != legacyCompleteFlag {
			continue
		}
		// An old script: the words before the cursor, then the current
		// word only when it began with "-".
		words = append([]string{}, args[1:i]...)
		if n := len(words); n == 0 || !strings.HasPrefix(words[n-1], "-") {
			words = append(words, "")
		}
		return words, true
	}
	return nil, false
}

// complete writes the candidates for the last of words, one a line. It
// reads only the app's definitions: it runs no action, Before hook or
// flag parser. An empty answer means "complete a file name" (a flag's
// value, a word after `--`, an argument pgmig knows nothing about).
func complete(w io.Writer, app *cli.App, words []string) {
	if len(words) == 0 {
		words = []string{""}
	}
	cur, before := words[len(words)-1], words[:len(words)-1]
	var cmd *cli.Command
	helpFor := false
	positional := 0
	for i := 0; i < len(before); i++ {
		word := before[i]
		if word == "--" {
			return // only arguments follow
		}
		if strings.HasPrefix(word, "-") && word != "-" {
			name, inline := splitFlag(word)
			if takesValue(app, cmd, name) && !inline {
				if i == len(before)-1 {
					return // cur is this flag's value
				}
				i++
			}
			continue
		}
		switch {
		case cmd == nil && !helpFor && word == "help":
			helpFor = true
		case cmd == nil && !helpFor:
			if cmd = app.Command(word); cmd == nil {
				return
			}
		default:
			positional++
		}
	}
	var cands []string
	switch {
	case strings.HasPrefix(cur, "-"):
		flags := app.Flags
		if cmd != nil {
			flags = append(append([]cli.Flag{}, flags...), cmd.Flags...)
		}
		for _, f := range flags {
			if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
				continue
			}
			for _, n := range f.Names() {
				if len(n) == 1 {
					cands = append(cands, "-"+n)
				} else {
					cands = append(cands, "--"+n)
				}
			}
		}
	case cmd == nil && (positional == 0):
		if !helpFor {
			cands = append(cands, "help")
		}
		for _, c := range app.Commands {
			if !c.Hidden {
				cands = append(cands, c.Names()...)
			}
		}
	case cmd.Name == "completion" && positional == 0:
		cands = completionShells
	}
	seen := map[string]bool{}
	for _, c := range cands {
		if strings.HasPrefix(c, cur) && !seen[c] {
			seen[c] = true
			fmt.Fprintln(w, c)
		}
	}
}

// takesValue reports whether the flag name (without dashes), global or
// cmd's, takes a value.
func takesValue(app *cli.App, cmd *cli.Command, name string) bool {
	flags := app.Flags
	if cmd != nil {
		flags = append(append([]cli.Flag{}, flags...), cmd.Flags...)
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				vf, ok := f.(cli.DocGenerationFlag)
				return ok && vf.TakesValue()
			}
		}
	}
	return false
}

// writeCompletion writes the completion script for shell to w.
func writeCompletion(w io.Writer, app *cli.App, shell string) error {
	var script string
	switch shell {
	case "bash":
		script = bashCompletion
	case "zsh":
		script = zshCompletion
	case "fish":
		s, err := app.ToFishCompletion()
		if err != nil {
			return fmt.Errorf("completion fish: %w", err)
		}
		script = s
	default:
		return usagef("completion %q: want one of %s", shell, strings.Join(completionShells, ", "))
	}
	if _, err := io.WriteString(w, script); err != nil {
		return fmt.Errorf("completion %s: %w", shell, err)
	}
	return nil
}

// bashCompletion runs the binary the user typed as `pgmig __complete` with
// the words up to the cursor, without eval, so nothing on the command line
// is expanded twice, and nothing typed can make it a command. When pgmig
// suggests nothing (a flag's value, a file name) bash falls back to its
// default completion. It needs only bash 3.2 (macOS).
const bashCompletion = `# bash completion for pgmig; load with: source <(pgmig completion bash)
_pgmig_complete() {
  local prog out
  COMPREPLY=()
  prog="${COMP_WORDS[0]}"
  if [[ $prog == "~/"* ]]; then
    prog="$HOME/${prog#"~/"}"
  fi
  out=$("$prog" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
  local IFS=$'\n'
  COMPREPLY=($out)
}
complete -o bashdefault -o default -F _pgmig_complete pgmig
`

// zshCompletion works both from a file named _pgmig on $fpath and when
// sourced: source <(pgmig completion zsh). See bashCompletion.
const zshCompletion = `#compdef pgmig
# zsh completion for pgmig; install with: pgmig completion zsh > "${fpath[1]}/_pgmig"
_pgmig() {
  local -a opts
  opts=("${(@f)$("${words[1]/#\~/$HOME}" __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if [[ -n ${opts[1]} ]]; then
    compadd -a opts
  else
    _files
  fi
}
if [[ ${funcstack[1]} == _pgmig ]]; then
  _pgmig "$@"
else
  compdef _pgmig pgmig
fi
`
