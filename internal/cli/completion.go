package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// completionShells lists the shells `pgmig completion` writes a script for.
var completionShells = []string{"bash", "zsh", "fish"}

// completionCommand prints a shell's completion script. The bash and zsh
// scripts ask the binary itself for candidates (`--generate-bash-completion`),
// so they follow the commands and flags of whichever pgmig is on the PATH;
// the fish script is generated from the command definitions.
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
		BashComplete: func(c *cli.Context) {
			if c.NArg() > 0 {
				return
			}
			for _, s := range completionShells {
				fmt.Fprintln(c.App.Writer, s)
			}
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("completion takes one argument, the shell: %s", strings.Join(completionShells, ", "))
			}
			return writeCompletion(a.stdout, c.App, c.Args().First())
		},
	}
}

// writeCompletion writes the completion script for shell to w.
func writeCompletion(w io.Writer, app *cli.App, shell string) error {
	var script string
	switch shell {
	case "bash":
		script = strings.ReplaceAll(bashCompletion, "@VALUE_FLAGS@", valueFlagWords(app))
	case "zsh":
		script = strings.ReplaceAll(zshCompletion, "@VALUE_FLAGS@", valueFlagWords(app))
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

// valueFlagWords lists, space-separated and space-padded, every spelling
// (--name, -n) of a flag that takes a value, global or any command's.
//
// The scripts ask pgmig for candidates by appending
// --generate-bash-completion to the words typed so far. After a flag that
// takes a value (`pgmig up --table <TAB>`) that flag would swallow
// --generate-bash-completion as its value and the command would really
// run, so the scripts check this list and leave such words to the shell's
// file completion instead.
func valueFlagWords(app *cli.App) string {
	seen := map[string]bool{}
	var words []string
	add := func(flags []cli.Flag) {
		for _, f := range flags {
			if vf, ok := f.(cli.DocGenerationFlag); !ok || !vf.TakesValue() {
				continue
			}
			for _, n := range f.Names() {
				w := "--" + n
				if len(n) == 1 {
					w = "-" + n
				}
				if !seen[w] {
					seen[w] = true
					words = append(words, w)
				}
			}
		}
	}
	add(app.Flags)
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			add(c.Flags)
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
	return " " + strings.Join(words, " ") + " "
}

// bashCompletion runs the binary the user typed with the words before the
// cursor and --generate-bash-completion, without eval, so nothing on the
// command line is expanded twice. When pgmig suggests nothing (a flag's
// value, a file name) bash falls back to its default completion. It needs
// only bash 3.2 (macOS).
const bashCompletion = `# bash completion for pgmig; load with: source <(pgmig completion bash)
_pgmig_value_flags="@VALUE_FLAGS@"
_pgmig_complete() {
  local cur prev prog out
  local -a args
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD-1]}"
  # A flag's value: file names (bash's default completion).
  if [[ $COMP_CWORD -gt 1 && $_pgmig_value_flags == *" $prev "* ]]; then
    return 0
  fi
  # A whole flag name that takes a value: nothing more to suggest.
  if [[ $_pgmig_value_flags == *" $cur "* ]]; then
    COMPREPLY=("$cur")
    return 0
  fi
  prog="${COMP_WORDS[0]}"
  if [[ $prog == "~/"* ]]; then
    prog="$HOME/${prog#"~/"}"
  fi
  args=("${COMP_WORDS[@]:1:COMP_CWORD-1}")
  if [[ $cur == -* ]]; then
    args+=("$cur")
  fi
  out=$("$prog" "${args[@]}" --generate-bash-completion 2>/dev/null) || return 0
  local IFS=$'\n'
  COMPREPLY=($(compgen -W "$out" -- "$cur"))
}
complete -o bashdefault -o default -F _pgmig_complete pgmig
`

// zshCompletion works both from a file named _pgmig on $fpath and when
// sourced: source <(pgmig completion zsh). See bashCompletion.
const zshCompletion = `#compdef pgmig
# zsh completion for pgmig; install with: pgmig completion zsh > "${fpath[1]}/_pgmig"
_pgmig() {
  local value_flags="@VALUE_FLAGS@"
  local cur=${words[CURRENT]} prev=${words[CURRENT-1]}
  local -a opts args
  if (( CURRENT > 2 )) && [[ $value_flags == *" $prev "* ]]; then
    _files
    return
  fi
  if [[ $value_flags == *" $cur "* ]]; then
    compadd -- "$cur"
    return
  fi
  args=("${(@)words[2,CURRENT-1]}")
  if [[ $cur == -* ]]; then
    args+=("$cur")
  fi
  opts=("${(@f)$("${words[1]/#\~/$HOME}" "${(@)args}" --generate-bash-completion 2>/dev/null)}")
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
