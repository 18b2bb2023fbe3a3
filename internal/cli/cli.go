package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/fatih/color"
	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/source"
)

// cliApp holds one invocation's settings, resolved from the global flags.
type cliApp struct {
	stdout, stderr io.Writer
	// urls holds --database-url values when the flag was repeated (several
	// targets); a single one stays with the flag.
	urls   []string
	out    *printer
	logger *slog.Logger
	// urlFlag: --database-url or -d is on the command line (then an
	// empty value is a usage error, not the libpq defaults).
	urlFlag bool
	// args is the command line, to echo a flag as it was spelled.
	args []string
	// terminal: the process's stdout is a terminal (stdout itself is a
	// buffer in front of it).
	terminal bool
	build    Build
	// command is the name of the command whose action ran, if one did.
	command string
}

// Run executes the command line args (args[0] is the program's name) and
// returns the process's exit code. It reports the version the Go toolchain
// recorded; see Build.Run for a stamped one. It is safe to call from
// parallel goroutines: it keeps no state between calls.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return Build{}.Run(ctx, args, stdout, stderr)
}

// Run is the package's Run, reporting b's version.
func (b Build) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Results go through a buffer: a status table of thousands of rows is
	// otherwise thousands of write calls. Progress lines flush it as they
	// are printed, so they still appear as each migration finishes.
	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	a := &cliApp{stdout: out, stderr: stderr, terminal: isTerminal(stdout), build: b}
	if words, ok := completionRequest(args); ok {
		// Before urfave/cli parses anything: a completion request is
		// answered from the definitions alone, never by running a command.
		complete(out, newApp(a), words)
		return 0
	}
	// Settle the output format before parsing, so that even a usage error
	// is reported as JSON when JSON was asked for.
	a.out = newPrinter(out, stderr, formatFromArgs(args) == "json", false, false)
	args, a.urls = repeatedURLs(args)
	a.urlFlag = urlFlagGiven(args)
	args = helpArgs(args)
	a.args = args
	app := newApp(a)
	err := app.RunContext(ctx, hoistGlobalFlags(app.Flags, args))
	if err == nil {
		return 0
	}
	if sig := signaled(ctx); sig != nil {
		err = interrupted(sig, err, a.out.done, takesLock[a.command])
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		// Not from a command's action: urfave/cli refused the command line.
		ee = &exitError{code: 2, err: err}
	}
	if !ee.printed {
		a.out.error(err, ee.code)
	}
	return ee.code
}

// takesLock names the commands that take the migration lock, of which a
// run a signal stops says that it was released.
var takesLock = map[string]bool{"up": true, "rollback": true, "redo": true, "baseline": true, "repair": true}

func markAction(fn cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := fn(c); err != nil {
			return exit(withHint(err))
		}
		return nil
	}
}

func newApp(a *cliApp) *cli.App {
	v, _, _ := a.build.resolve()
	// --version is a flag of ours, not urfave/cli's: its VersionFlag and
	// VersionPrinter are package variables, and run must be safe to call
	// from parallel tests.
	flags := append(append(append(globalFlags(), safetyFlags()...), targetFlags()...), &cli.BoolFlag{Name: "version", Usage: "print the version and exit"}, helpFlag())
	app := &cli.App{
		Name:            "pgmig",
		Usage:           "PostgreSQL schema migrations: safe, fast, clear when something goes wrong",
		Version:         v,
		HideVersion:     true,
		HideHelp:        true, // see helpFlag
		Writer:          a.stdout,
		ErrWriter:       a.stderr,
		Flags:           flags,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {}, // run maps errors to exit codes
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usage(a.explainUsage(c, err))
		},
		Before: a.setup,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return unknownCommand(c.App, c.Args().First())
			}
			if c.Bool("version") {
				return a.version(c)
			}
			return cli.ShowAppHelp(c)
		},
		Commands: a.commands(),
	}
	app.Description = description
	for _, f := range app.Flags {
		unsetEmptyEnv(f)
	}
	for _, cmd := range app.Commands {
		for _, f := range cmd.Flags {
			unsetEmptyEnv(f)
		}
		cmd.HideHelpCommand = true
		cmd.HideHelp = true
		cmd.Flags = append(cmd.Flags, helpFlag())
		cmd.OnUsageError = app.OnUsageError
		action, name := cmd.Action, cmd.Name
		cmd.Action = markAction(func(c *cli.Context) error {
			a.command = name
			return action(c)
		})
	}
	app.Action = markAction(app.Action)
	decorateHelp(app)
	return app
}

// helpFlag is a --help flag of each app and command's own. urfave/cli's
// shared HelpFlag is written to on every parse, a data race when run is
// called from parallel tests; it still shows the help for a flag named
// "help", hidden or not.
func helpFlag() cli.Flag {
	return &cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help"}
}

// setup resolves the global flags into the printer and logger.
func (a *cliApp) setup(c *cli.Context) error {
	if a.urlFlag && c.String("database-url") == "" {
		return usagef("--database-url is empty; leave it out to use PGMIG_DATABASE_URL, DATABASE_URL or the libpq defaults")
	}
	for _, u := range a.urls {
		if u == "" {
			return usagef("--database-url is empty in one of its %d uses", len(a.urls))
		}
	}
	format := c.String("format")
	if format != "text" && format != "json" {
		return usagef("--format %q: want text or json", format)
	}
	switch cmd := c.Args().First(); cmd {
	case "up", "status", "validate", "":
	default:
		for _, f := range []string{"targets", "schemas-query", "parallel", "canary", "fail-fast", "shard", "skip-locked"} {
			if c.IsSet(f) {
				return usagef("--%s: only up, status and validate run against several targets, not %s", f, cmd)
			}
		}
		if len(a.urls) > 1 {
			return usagef("--database-url given %d times: only up, status and validate run against several databases, not %s", len(a.urls), cmd)
		}
	}
	a.out = newPrinter(a.stdout, a.stderr, format == "json", colourOn(a.terminal, c.Bool("no-color"), os.Getenv), c.Bool("quiet"))
	a.out.heartbeat = isTerminal(a.stderr)
	level := slog.LevelWarn
	switch {
	case c.Bool("verbose"):
		level = slog.LevelDebug
	case c.Bool("quiet"):
		level = slog.LevelError
	}
	var h slog.Handler = slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level})
	if !c.Bool("verbose") {
		paint := a.out.paint(color.FgYellow, color.Bold)
		h = belowError{newLineHandler(a.stderr, level, func(s string) string { return paint(s) })}
	}
	a.logger = slog.New(h)
	return nil
}

// belowError drops the engine's error records: each goes with an error the
// engine returns, which the CLI prints once, in full, on its own.
type belowError struct{ slog.Handler }

func (h belowError) Enabled(ctx context.Context, l slog.Level) bool {
	return l < slog.LevelError && h.Handler.Enabled(ctx, l)
}

func (h belowError) WithAttrs(as []slog.Attr) slog.Handler {
	return belowError{h.Handler.WithAttrs(as)}
}

func (h belowError) WithGroup(g string) slog.Handler { return belowError{h.Handler.WithGroup(g)} }

func (a *cliApp) commands() []*cli.Command {
	return []*cli.Command{
		a.statusCommand(),
		a.upCommand(),
		a.rollbackCommand(),
		a.redoCommand(),
		a.validateCommand(),
		a.createCommand(),
		a.baselineCommand(),
		a.repairCommand(),
		a.healthCommand(),
		a.versionCommand(),
		a.verifyCommand(),
		a.driftCommand(),
		a.lintCommand(),
		a.diffCommand(),
		a.completionCommand(),
		a.manCommand(),
	}
}

// parseVersion reads a version flag: digits, compared as an integer.
// parseVersion reads a version flag: a whole number, or a dotted one
// (1.2, or 1_2 as a Flyway file name writes it). A version of zero parts
// only ("0", "000") is the zero Version, which up --to and rollback --to
// read as no version.
func parseVersion(flag, s string) (source.Version, error) {
	if strings.Trim(s, "0") == "" && s != "" {
		return source.Version{}, nil
	}
	v, err := source.ParseVersion(strings.ReplaceAll(s, "_", "."))
	if err != nil {
		return source.Version{}, usagef("--%s %q: want a migration version (digits, or dotted digits such as 1.2)", flag, s)
	}
	if n, ok := v.Int(); ok && !v.Dotted() && !strings.Contains(v.String(), ".") {
		// A whole number is named as the integer it is (007 is 7), as
		// messages always named it.
		return source.IntVersion(n), nil
	}
	return v, nil
}
