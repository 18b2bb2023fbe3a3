package cli

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/diff"
	"github.com/pgmig/pgmig/lint"
	"github.com/pgmig/pgmig/lock"
	"github.com/pgmig/pgmig/runner"
)

// Messages of Go's flag package, as urfave/cli passes them on; the flag
// package writes every flag with one dash.
var (
	undefinedFlagRE = regexp.MustCompile(`^flag provided but not defined: -+(.+)$`)
	badValueRE      = regexp.MustCompile(`^invalid value "(.*)" for flag -+([^:]+): (.*)$`)
)

// explainUsage rewrites urfave/cli's complaint about the command line: a
// flag named as the user spelled it, with the nearest known one, and a bad
// value with the form wanted.
func (a *cliApp) explainUsage(c *cli.Context, err error) error {
	msg := err.Error()
	if m := undefinedFlagRE.FindStringSubmatch(msg); m != nil {
		name := m[1]
		spelled := a.spelling(name)
		var known []string
		for _, f := range a.allFlags(c) {
			for _, n := range f.Names() {
				if len(n) > 1 {
					known = append(known, "--"+n)
				}
			}
		}
		if s := nearest("--"+name, known); s != "" {
			return fmt.Errorf("unknown flag %s; did you mean %s?", spelled, s)
		}
		return fmt.Errorf("unknown flag %s", spelled)
	}
	if m := badValueRE.FindStringSubmatch(msg); m != nil {
		value, name := m[1], m[2]
		for _, f := range a.allFlags(c) {
			for _, n := range f.Names() {
				if n != name {
					continue
				}
				switch f.(type) {
				case *cli.DurationFlag:
					return fmt.Errorf("--%s %q: want a duration with its unit, such as 5s, 2m or 1h30m", f.Names()[0], value)
				case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
					return fmt.Errorf("--%s %q: want a whole number", f.Names()[0], value)
				case *cli.BoolFlag:
					return fmt.Errorf("--%s=%s: want true or false", f.Names()[0], value)
				}
			}
		}
	}
	return err
}

// spelling is the flag name as the command line wrote it (--x or -x).
func (a *cliApp) spelling(name string) string {
	for _, arg := range a.args {
		for _, d := range []string{"--", "-"} {
			if arg == d+name || strings.HasPrefix(arg, d+name+"=") {
				return d + name
			}
		}
	}
	return "--" + name
}

// allFlags are the global flags and those of every command.
func (a *cliApp) allFlags(c *cli.Context) []cli.Flag {
	app := c.App
	flags := append([]cli.Flag{}, app.Flags...)
	for _, cmd := range app.Commands {
		flags = append(flags, cmd.Flags...)
	}
	return flags
}

// unknownCommand is the error for a word that names no command.
func unknownCommand(app *cli.App, word string) error {
	var names []string
	for _, c := range app.Commands {
		if !c.Hidden {
			names = append(names, c.Names()...)
		}
	}
	if s := nearest(word, names); s != "" {
		return usagef("unknown command %q; did you mean %s?", word, s)
	}
	return usagef("unknown command %q; run `pgmig --help` for the list", word)
}

// helpArgs turns `pgmig help [COMMAND]` into `pgmig [COMMAND] --help`.
func helpArgs(args []string) []string {
	if len(args) < 2 || args[1] != "help" {
		return args
	}
	out := append([]string{args[0]}, args[2:]...)
	return append(out, "--help")
}

// nearest returns the candidate closest to word, if one is close enough to
// be what was meant: at most a third of its letters wrong (transposed
// letters count once).
func nearest(word string, candidates []string) string {
	best, bestD := "", len(word)/3+1
	for _, c := range candidates {
		if d := distance(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the optimal string alignment distance between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// optionFlags are the flags that set the engine's options, by the name
// a *runner.OptionError or a lint finding gives them.
var optionFlags = map[string]string{
	"UpOptions.To":                "--to",
	"UpOptions.ToVer":             "--to",
	"UpOptions.Steps":             "--steps",
	"UpOptions.DryRun":            "--dry-run",
	"UpOptions.Rehearse":          "--rehearse",
	"UpOptions.SingleTransaction": "--single-transaction",
	"RollbackOptions.To":          "--to",
	"RollbackOptions.ToVer":       "--to",
	"RollbackOptions.Steps":       "--steps",
	"RollbackOptions.All":         "--all",
	"Baseline.version":            "--version",
	"Adopt.from":                  "--from",
	"Adopt.table":                 "--from-table",
	"New.src":                     "--source",
	"Options.Table":               "--table",
	"Options.LockMode":            "--lock-mode",
	"Options.LockTTL":             "--lock-ttl",
	"Options.DDLRetries":          "--ddl-retries",
	// How diff's refusals name the rename hints.
	"Options.Renames": "--rename",
	// How lint's findings name the run's lock timeout.
	lint.OptionDDLLockTimeout: "--ddl-lock-timeout",
}

// flagOf is the flag that sets an engine option; an option with no flag
// keeps its Go name.
func flagOf(option string) string {
	if f, ok := optionFlags[option]; ok {
		return f
	}
	return option
}

// methodCommands are the commands that do what a Runner method does, by
// the name the Text of an engine error gives the method it advises.
var methodCommands = map[string]string{
	runner.MethodRepair: "`pgmig repair`",
	runner.MethodUp:     "`pgmig up`",
}

// commandOf is the command that calls a Runner method; a method with no
// command keeps its Go name.
func commandOf(method string) string {
	if c, ok := methodCommands[method]; ok {
		return c
	}
	return method
}

// withHint adds the CLI's remedy to an engine error that has one: the
// engine names no flags (STYLE.md), the CLI knows which flag helps. The
// options and methods engine errors name in their messages become flags
// and commands when the error is shown (cliText).
func withHint(err error) error {
	var oo *runner.OutOfOrderError
	var pe *lock.PoolerError
	switch {
	case errors.As(err, &oo):
		return fmt.Errorf("%w (--allow-out-of-order)", err)
	case errors.As(err, &pe):
		return fmt.Errorf("%w: use --lock-mode table, or connect to the server directly or through session pooling", err)
	}
	return err
}

// cliText is err's message in the CLI's words: each option an engine
// error in it names becomes the flag that sets it, and each Runner
// method it advises the command that calls it, in place, however the
// error is wrapped or joined.
func cliText(err error) string {
	msg := err.Error()
	var walk func(error)
	walk = func(e error) {
		if engine, cli, ok := inCLIWords(e); ok {
			// An error's message holds those it wraps, so the engine
			// error's own text is in msg as it wrote it.
			msg = strings.Replace(msg, engine, cli, 1)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if w := u.Unwrap(); w != nil {
				walk(w)
			}
		case interface{ Unwrap() []error }:
			for _, w := range u.Unwrap() {
				walk(w)
			}
		}
	}
	walk(err)
	return msg
}

// inCLIWords is an engine error's message as the engine writes it and as
// the CLI shows it, for the errors whose messages name options or methods.
func inCLIWords(err error) (engine, cli string, ok bool) {
	switch e := err.(type) {
	case *runner.OptionError:
		return e.Error(), runner.ErrInvalidOption.Error() + ": " + e.Message(flagOf), true
	case *runner.AdoptError:
		return e.Error(), e.Message(flagOf), true
	case *runner.ChecksumMismatchError:
		return e.Error(), e.Text(commandOf), true
	case *runner.DirtyError:
		return e.Error(), e.Text(commandOf), true
	case *runner.InvalidIndexError:
		return e.Error(), e.Text(commandOf), true
	case *diff.DestructiveError:
		return e.Error(), e.Text(flagOf), true
	case *diff.UnsupportedError:
		return e.Error(), e.Text(flagOf), true
	}
	return "", "", false
}
