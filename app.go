package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/lint"
	"github.com/pgmig/pgmig/lock"
	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/remote"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// usageError is a bad command line: unknown command or flag, bad value.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return &usageError{fmt.Errorf(format, a...)} }

// cliApp holds one invocation's settings, resolved from the global flags.
type cliApp struct {
	stdout, stderr io.Writer
	// urls holds --database-url values when the flag was repeated (several
	// targets); a single one stays with the flag.
	urls   []string
	out    *printer
	logger *slog.Logger
	// terminal: the process's stdout is a terminal (stdout itself is a
	// buffer in front of it).
	terminal bool
}

// run executes the command line args and returns the process's exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Results go through a buffer: a status table of thousands of rows is
	// otherwise thousands of write calls. Progress lines flush it as they
	// are printed, so they still appear as each migration finishes.
	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	a := &cliApp{stdout: out, stderr: stderr, terminal: isTerminal(stdout)}
	// Settle the output format before parsing, so that even a usage error
	// is reported as JSON when JSON was asked for.
	a.out = newPrinter(out, stderr, formatFromArgs(args) == "json", false, false)
	args, a.urls = repeatedURLs(args)
	err := newApp(a).RunContext(ctx, hoistGlobalFlags(args))
	if err == nil {
		return 0
	}
	code := exitCode(err)
	a.out.error(err, code)
	return code
}

func exitCode(err error) int {
	var ue *usageError
	var ae *actionError
	var ce *codeError
	switch {
	case errors.As(err, &ce):
		return ce.code
	case !errors.As(err, &ae):
		// Not from a command's action: urfave/cli refused the command line.
		return 2
	case errors.As(err, &ue), errors.Is(err, runner.ErrInvalidOption):
		return 2
	case errors.As(err, new(*lock.PoolerError)):
		// The remedy is a flag: --lock-mode table.
		return 2
	case isLockTimeout(err):
		return 4
	case errors.Is(err, source.ErrInvalid), errors.Is(err, runner.ErrValidation):
		return 3
	case errors.Is(err, remote.ErrUnsafeArchive), errors.As(err, new(*remote.DigestMismatchError)):
		// The archive is not the pinned one, or is hostile: a bad source.
		return 3
	default:
		return 1
	}
}

// actionError marks an error returned by a command's action, as opposed
// to one urfave/cli returns for a command line it could not parse.
type actionError struct{ err error }

func (e *actionError) Error() string { return e.err.Error() }
func (e *actionError) Unwrap() error { return e.err }

func markAction(fn cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := fn(c); err != nil {
			return &actionError{err}
		}
		return nil
	}
}

// Global flags; the ones taking a value are listed in valueFlags so that
// hoistGlobalFlags can move them from after the command to before it.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "database-url", Aliases: []string{"d"}, Usage: "the database: a postgres:// `URL` or a keyword/value string; unset uses the libpq defaults (PGHOST, PGUSER, ~/.pgpass, …)", EnvVars: []string{"PGMIG_DATABASE_URL", "DATABASE_URL"}},
		&cli.StringFlag{Name: "source", Aliases: []string{"s"}, Value: "./migrations", Usage: "where the migrations are, `SOURCE`: a directory (DIR or file://DIR), builtin, or https://…/NAME.tar.gz|.tgz|.zip[#sha256=HEX]", EnvVars: []string{"PGMIG_SOURCE"}},
		&cli.StringFlag{Name: "table", Value: runner.DefaultTable, Usage: "the tracking `TABLE`, table or schema.table", EnvVars: []string{"PGMIG_TABLE"}},
		&cli.StringFlag{Name: "format", Value: "text", Usage: "output `FORMAT`: text or json (one JSON document on stdout)", EnvVars: []string{"PGMIG_FORMAT"}},
		&cli.BoolFlag{Name: "no-color", Usage: "never colour the output (also NO_COLOR); colour is used only on a terminal"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only errors (and the JSON document)"},
		&cli.BoolFlag{Name: "verbose", Usage: "log what pgmig does to stderr"},
		&cli.DurationFlag{Name: "lock-timeout", Value: 5 * time.Minute, Usage: "wait up to `DURATION` for another run's lock, then exit 4", EnvVars: []string{"PGMIG_LOCK_TIMEOUT"}},
		&cli.StringFlag{Name: "lock-mode", Value: "session", Usage: "how runs exclude each other, `MODE`: session (an advisory lock) or table (a lease row, for PgBouncer transaction pooling)", EnvVars: []string{"PGMIG_LOCK_MODE"}},
		&cli.DurationFlag{Name: "lock-ttl", Value: 30 * time.Second, Usage: "time to live (`DURATION`) of a --lock-mode table lease, renewed every third of it", EnvVars: []string{"PGMIG_LOCK_TTL"}, Hidden: true},
		&cli.DurationFlag{Name: "connect-timeout", Value: 30 * time.Second, Usage: "retry for up to `DURATION` while the server is unreachable or starting up", EnvVars: []string{"PGMIG_CONNECT_TIMEOUT"}},
		&cli.BoolFlag{Name: "allow-out-of-order", Usage: "apply pending migrations older than the newest applied one", EnvVars: []string{"PGMIG_ALLOW_OUT_OF_ORDER"}},
		&cli.BoolFlag{Name: "allow-insecure-source", Usage: "allow an http:// --source (without TLS anyone on the way can change the SQL)", EnvVars: []string{"PGMIG_ALLOW_INSECURE_SOURCE"}},
		&cli.Int64Flag{Name: "source-max-size", Value: 64, Usage: "largest --source archive to download, in `MIB`; unpacked it may hold 4 times as much", EnvVars: []string{"PGMIG_SOURCE_MAX_SIZE"}},
		&cli.DurationFlag{Name: "source-timeout", Value: time.Minute, Usage: "fetching a --source archive may take up to `DURATION`, retries included", EnvVars: []string{"PGMIG_SOURCE_TIMEOUT"}},
	}
}

var valueFlags = map[string]bool{"targets": true, "schemas-query": true, "parallel": true, "canary": true, "ddl-lock-timeout": true, "ddl-retries": true, "database-url": true, "d": true, "source": true, "s": true, "table": true, "format": true, "lock-timeout": true, "lock-mode": true, "lock-ttl": true, "connect-timeout": true, "source-max-size": true, "source-timeout": true}
var boolFlags = map[string]bool{"fail-fast": true, "no-color": true, "quiet": true, "q": true, "verbose": true, "allow-out-of-order": true, "allow-insecure-source": true}

// hoistGlobalFlags moves global flags written after the command to before
// it, so that `pgmig status --format json` means what it says: urfave/cli
// v2 reads global flags only before the command.
func hoistGlobalFlags(args []string) []string {
	if len(args) < 2 {
		return args
	}
	i := 1
	for i < len(args) {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		name, inline := splitFlag(a)
		if valueFlags[name] && !inline {
			i++
		}
		i++
	}
	if i >= len(args) || args[i] == "--" {
		return args
	}
	out := append([]string{}, args[:i]...)
	var rest []string
	for j := i + 1; j < len(args); j++ {
		a := args[j]
		if a == "--" {
			rest = append(rest, args[j:]...)
			break
		}
		name, inline := splitFlag(a)
		if strings.HasPrefix(a, "-") && (valueFlags[name] || boolFlags[name]) {
			out = append(out, a)
			if valueFlags[name] && !inline && j+1 < len(args) {
				out = append(out, args[j+1])
				j++
			}
			continue
		}
		rest = append(rest, a)
	}
	out = append(out, args[i])
	return append(out, rest...)
}

func splitFlag(a string) (name string, inline bool) {
	name = strings.TrimLeft(a, "-")
	if k := strings.IndexByte(name, '='); k >= 0 {
		return name[:k], true
	}
	return name, false
}

// formatFromArgs finds --format before flags are parsed, falling back to
// PGMIG_FORMAT.
func formatFromArgs(args []string) string {
	f := os.Getenv("PGMIG_FORMAT")
	for i := 1; i < len(args); i++ {
		if args[i] == "--" {
			break
		}
		name, inline := splitFlag(args[i])
		if name != "format" || !strings.HasPrefix(args[i], "-") {
			continue
		}
		if inline {
			f = args[i][strings.IndexByte(args[i], '=')+1:]
		} else if i+1 < len(args) {
			f = args[i+1]
		}
	}
	return f
}

func newApp(a *cliApp) *cli.App {
	v, _, _ := buildInfo()
	// --version is a flag of ours, not urfave/cli's: its VersionFlag and
	// VersionPrinter are package variables, and run must be safe to call
	// from parallel tests.
	flags := append(append(append(globalFlags(), safetyFlags()...), targetFlags()...), &cli.BoolFlag{Name: "version", Usage: "print the version and exit"}, helpFlag())
	app := &cli.App{
		Name:                 "pgmig",
		Usage:                "PostgreSQL schema migrations: safe, fast, clear when something goes wrong",
		Version:              v,
		HideVersion:          true,
		HideHelp:             true, // see helpFlag
		Writer:               a.stdout,
		ErrWriter:            a.stderr,
		Flags:                flags,
		HideHelpCommand:      true,
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {}, // run maps errors to exit codes
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return &usageError{err}
		},
		Before: a.setup,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("unknown command %q; run `pgmig --help` for the list", c.Args().First())
			}
			if c.Bool("version") {
				return a.version(c)
			}
			return cli.ShowAppHelp(c)
		},
		Commands: a.commands(),
	}
	app.Description = description
	for _, cmd := range app.Commands {
		cmd.HideHelpCommand = true
		cmd.HideHelp = true
		cmd.Flags = append(cmd.Flags, helpFlag())
		cmd.OnUsageError = app.OnUsageError
		cmd.Action = markAction(cmd.Action)
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
	format := c.String("format")
	if format != "text" && format != "json" {
		return usagef("--format %q: want text or json", format)
	}
	switch cmd := c.Args().First(); cmd {
	case "up", "status", "validate", "":
	default:
		for _, f := range []string{"targets", "schemas-query", "parallel", "canary", "fail-fast"} {
			if c.IsSet(f) {
				return usagef("--%s: only up, status and validate run against several targets, not %s", f, cmd)
			}
		}
		if len(a.urls) > 1 {
			return usagef("--database-url given %d times: only up, status and validate run against several databases, not %s", len(a.urls), cmd)
		}
	}
	noColor := c.Bool("no-color") || os.Getenv("NO_COLOR") != ""
	a.out = newPrinter(a.stdout, a.stderr, format == "json", !noColor && a.terminal, c.Bool("quiet"))
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
		h = belowError{h}
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
		{
			Name:      "status",
			Usage:     "show every migration with its state: applied, pending, changed, missing or failed",
			UsageText: "pgmig status [--format json]",
			Action:    a.status,
		},
		{
			Name:      "up",
			Usage:     "validate, then apply pending migrations in order, each in its own transaction",
			UsageText: "pgmig up [--to VERSION] [--steps N] [--dry-run]\n\nExamples:\n   pgmig up --source builtin\n   pgmig up --to 003\n   pgmig up --steps 1 --dry-run",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "to", Usage: "stop after `VERSION`"},
				&cli.IntFlag{Name: "steps", Usage: "apply at most `N` migrations"},
				&cli.BoolFlag{Name: "dry-run", Usage: "show what would be applied, change nothing"},
				&cli.BoolFlag{Name: "single-transaction", Usage: "apply all pending migrations in one transaction, sent as one query: all or nothing (refused when one runs without a transaction)"},
				&cli.BoolFlag{Name: "rehearse", Usage: "run pending migrations in a transaction that is rolled back; report each one's duration and locks"},
				&cli.BoolFlag{Name: "lint", Usage: "lint the pending migrations first (see pgmig lint); refuse to apply anything if an error-level rule fires"},
			},
			Action: a.up,
		},
		{
			Name:      "rollback",
			Aliases:   []string{"down"},
			Usage:     "run down sections, newest first (default: one step)",
			UsageText: "pgmig rollback [--steps N | --to VERSION | --all] [--dry-run]\n\nExamples:\n   pgmig rollback\n   pgmig rollback --to 002   # leaves 002 applied\n   pgmig rollback --all",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "steps", Usage: "roll back the newest `N` migrations"},
				&cli.StringFlag{Name: "to", Usage: "roll back everything newer than `VERSION`, leaving VERSION applied"},
				&cli.BoolFlag{Name: "all", Usage: "roll back every applied migration"},
				&cli.BoolFlag{Name: "dry-run", Usage: "show what would be rolled back, change nothing"},
			},
			Action: a.rollback,
		},
		{
			Name:   "redo",
			Usage:  "roll back the newest applied migration and apply it again",
			Action: a.redo,
		},
		{
			Name:   "validate",
			Usage:  "check files against the history (checksums, missing files, duplicates, order) without changing anything",
			Action: a.validate,
		},
		{
			Name:      "create",
			Usage:     "write the next-numbered migration file in the source directory",
			UsageText: "pgmig create NAME\n\nExample:\n   pgmig create add_orders   # writes migrations/005_add_orders.sql",
			Action:    a.create,
		},
		{
			Name:      "baseline",
			Usage:     "record every migration up to VERSION as applied without running it",
			UsageText: "pgmig baseline --version VERSION\n   pgmig baseline --from golang-migrate|goose|dbmate|flyway [--from-table NAME]",
			Flags: []cli.Flag{
				// Checked in the action rather than with Required: urfave/cli
				// prints the help on stdout for a missing required flag, which
				// breaks --format json.
				&cli.StringFlag{Name: "version", Usage: "the newest migration (`VERSION`) the database already has (required)"},
				&cli.StringFlag{Name: "from", Usage: "instead of --version, take over the history `TOOL` kept: golang-migrate, goose, dbmate or flyway"},
				&cli.StringFlag{Name: "from-table", Usage: "the other tool's history `TABLE`, [schema.]table (default: the tool's own, e.g. goose_db_version)"},
			},
			Action: a.baseline,
		},
		{
			Name:   "repair",
			Usage:  "set recorded checksums to the files' and remove failed rows, printing each change",
			Action: a.repair,
		},
		{
			Name:   "health",
			Usage:  "connect and print the server version and round-trip latency; exit 0 healthy, 1 not",
			Action: a.health,
		},
		{
			Name:   "version",
			Usage:  "print the version, commit and build date",
			Action: a.version,
		},
		a.verifyCommand(),
		a.driftCommand(),
		a.lintCommand(),
		a.completionCommand(),
		a.manCommand(),
	}
}

// parseVersion reads a version flag: digits, compared as an integer.
func parseVersion(flag, s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, usagef("--%s %q: want a migration version (digits)", flag, s)
	}
	return v, nil
}

// openSource resolves --source; an archive URL is fetched at once, under
// ctx, with opts.
func openSource(ctx context.Context, spec string, opts remote.Options) (source.Source, error) {
	switch {
	case spec == "builtin":
		return source.Builtin(), nil
	case strings.HasPrefix(spec, "file://"):
		return source.Dir(strings.TrimPrefix(spec, "file://")), nil
	case strings.HasPrefix(spec, "http://") && !opts.AllowInsecure:
		return nil, usagef("--source %s: plain http is refused, since anyone on the way could change the SQL; use https, or pass --allow-insecure-source", remote.Redact(spec))
	case strings.HasPrefix(spec, "https://"), strings.HasPrefix(spec, "http://"):
		fsys, err := remote.Fetch(ctx, spec, opts)
		switch {
		case errors.Is(err, remote.ErrInsecure):
			// Redirected to http.
			return nil, &usageError{fmt.Errorf("--source: %w; pass --allow-insecure-source to allow it", err)}
		case errors.Is(err, remote.ErrInvalidURL):
			return nil, &usageError{fmt.Errorf("--source: %w", err)}
		case err != nil:
			return nil, fmt.Errorf("--source: %w", err)
		}
		return source.FromFS(fsys), nil
	case strings.Contains(spec, "://"):
		return nil, usagef("--source %q: want a directory, file://DIR or builtin", spec)
	}
	return source.Dir(spec), nil
}

// remoteOptions resolves the flags for an archive --source.
func (a *cliApp) remoteOptions(c *cli.Context) (remote.Options, error) {
	mib := c.Int64("source-max-size")
	if mib <= 0 || mib > 1<<30 {
		return remote.Options{}, usagef("--source-max-size %d: want a size in MiB, from 1", mib)
	}
	timeout := c.Duration("source-timeout")
	if timeout <= 0 {
		return remote.Options{}, usagef("--source-timeout %s: want a positive duration", timeout)
	}
	return remote.Options{
		AllowInsecure: c.Bool("allow-insecure-source"),
		MaxDownload:   mib << 20,
		MaxUnpacked:   4 * mib << 20,
		Timeout:       timeout,
		Logger:        a.logger,
	}, nil
}

// loaded reads a source once, so the CLI can validate the files before it
// connects and the runner still sees the same migrations.
type loaded struct {
	ms  []source.Migration
	err error
}

func (l *loaded) Migrations(context.Context) ([]source.Migration, error) { return l.ms, l.err }

// engine opens the source, validates its files, connects and builds the
// runner. The caller closes the returned DB.
func (a *cliApp) engine(c *cli.Context) (*runner.Runner, *pgdb.DB, error) {
	ropts, err := a.remoteOptions(c)
	if err != nil {
		return nil, nil, err
	}
	src, err := openSource(c.Context, c.String("source"), ropts)
	if err != nil {
		return nil, nil, err
	}
	// Connect while the files are read: each takes tens of milliseconds
	// for a large project. Bad files still win: the connection attempt is
	// cancelled, so they are reported at once even when the server is down.
	type conn struct {
		db  *pgdb.DB
		err error
	}
	connCtx, cancel := context.WithCancel(c.Context)
	defer cancel()
	connected := make(chan conn, 1)
	go func() {
		db, err := a.connectCtx(connCtx, c, c.String("database-url"))
		connected <- conn{db, err}
	}()
	ms, err := src.Migrations(c.Context)
	if err != nil {
		cancel()
		if cn := <-connected; cn.db != nil {
			cn.db.Close()
		}
		return nil, nil, err
	}
	cn := <-connected
	if cn.err != nil {
		return nil, nil, cn.err
	}
	db := cn.db
	r, err := runner.New(db.Pool(), &loaded{ms: ms}, a.runnerOptions(c, c.String("table"), a.out.event))
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return r, db, nil
}

// runnerOptions are the runner's options from the flags; onEvent may be
// nil (several targets run at once: their steps are not printed).
func (a *cliApp) runnerOptions(c *cli.Context, table string, onEvent func(runner.Event)) runner.Options {
	o := runner.Options{
		Table:           table,
		LockTimeout:     c.Duration("lock-timeout"),
		LockMode:        runner.LockMode(c.String("lock-mode")),
		LockTTL:         c.Duration("lock-ttl"),
		AllowOutOfOrder: c.Bool("allow-out-of-order"),
		Logger:          a.logger,
		OnEvent:         onEvent,
		DDLLockTimeout:  c.Duration("ddl-lock-timeout"),
		DDLRetries:      c.Int("ddl-retries"),
	}
	if onEvent != nil {
		// A heartbeat for long statements, on a terminal only.
		o.ProgressInterval = a.out.heartbeatInterval()
	}
	return o
}

func (a *cliApp) connect(c *cli.Context) (*pgdb.DB, error) {
	return a.connectTo(c, c.String("database-url"))
}

// connectTo opens a small pool on url with the connection flags.
func (a *cliApp) connectTo(c *cli.Context, url string) (*pgdb.DB, error) {
	return a.connectCtx(c.Context, c, url)
}

// connectCtx is connectTo on a context of the caller's.
func (a *cliApp) connectCtx(ctx context.Context, c *cli.Context, url string) (*pgdb.DB, error) {
	cfg := pgdb.Config{
		MinConns:        1,
		MaxConns:        4,
		ConnectTimeout:  c.Duration("connect-timeout"),
		ApplicationName: "pgmig",
	}
	switch runner.LockMode(c.String("lock-mode")) {
	case runner.LockSession:
	case runner.LockTable:
		// Behind a transaction pooler each transaction may get another
		// server connection: no named prepared statements.
		cfg.QueryExecMode = pgx.QueryExecModeSimpleProtocol
	default:
		return nil, usagef("--lock-mode %q: want session or table", c.String("lock-mode"))
	}
	if c.Duration("lock-ttl") <= 0 {
		return nil, usagef("--lock-ttl %s: want a positive duration", c.Duration("lock-ttl"))
	}
	db, err := pgdb.Open(ctx, url, cfg)
	var pce *pgdb.ConnStringError
	switch {
	case err == nil:
		return db, nil
	case errors.As(err, &pce):
		// A connection string that does not parse is a bad flag value.
		return nil, &usageError{fmt.Errorf("--database-url: %w", err)}
	case url == "":
		return nil, fmt.Errorf("no --database-url, PGMIG_DATABASE_URL or DATABASE_URL; with the libpq defaults (PGHOST, PGPORT, PGUSER, PGDATABASE): %w", err)
	default:
		// pgdb's error already names the (redacted) server.
		return nil, err
	}
}

func (a *cliApp) status(c *cli.Context) error {
	if targets, ok, err := a.fleetTargets(c); err != nil || ok {
		if err != nil {
			return err
		}
		return a.runFleet(c, targets, func(ctx context.Context, r *runner.Runner) (runner.Report, runner.Status, error) {
			st, err := r.Status(ctx)
			return runner.Report{}, st, err
		})
	}
	r, db, err := a.engine(c)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := r.Status(c.Context)
	if err != nil {
		return err
	}
	a.out.status(st)
	return nil
}

func (a *cliApp) up(c *cli.Context) error {
	var opts runner.UpOptions
	if s := c.String("to"); s != "" {
		v, err := parseVersion("to", s)
		if err != nil {
			return err
		}
		opts.To = v
	}
	opts.Steps, opts.DryRun, opts.Rehearse = c.Int("steps"), c.Bool("dry-run"), c.Bool("rehearse")
	opts.SingleTransaction = c.Bool("single-transaction")
	if targets, ok, err := a.fleetTargets(c); err != nil || ok {
		if err != nil {
			return err
		}
		if opts.Rehearse {
			return usagef("--rehearse runs against one database at a time")
		}
		// One lint of the source; each target is judged by what it has pending.
		var linted *lint.Result
		if c.Bool("lint") {
			_, res, err := a.lintSource(c)
			if err != nil {
				return err
			}
			linted = &res
		}
		return a.runFleet(c, targets, func(ctx context.Context, r *runner.Runner) (runner.Report, runner.Status, error) {
			if linted != nil {
				if err := lintGate(ctx, r, *linted); err != nil {
					return runner.Report{}, runner.Status{}, err
				}
			}
			rep, err := r.Up(ctx, opts)
			return rep, runner.Status{}, err
		})
	}
	r, db, err := a.engine(c)
	if err != nil {
		return err
	}
	defer db.Close()
	if c.Bool("lint") {
		if err := a.lintPending(c, r); err != nil {
			return err
		}
	}
	start := time.Now()
	rep, err := r.Up(c.Context, opts)
	if err != nil {
		return err
	}
	if opts.Rehearse {
		a.out.rehearsal(rep, time.Since(start))
		return nil
	}
	a.out.report(rep, time.Since(start))
	return nil
}

func (a *cliApp) rollback(c *cli.Context) error {
	opts := runner.RollbackOptions{Steps: c.Int("steps"), All: c.Bool("all"), DryRun: c.Bool("dry-run")}
	if s := c.String("to"); s != "" {
		v, err := parseVersion("to", s)
		if err != nil {
			return err
		}
		if v == 0 {
			opts.All = true
		}
		opts.To = v
	}
	r, db, err := a.engine(c)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	rep, err := r.Rollback(c.Context, opts)
	if err != nil {
		return err
	}
	a.out.report(rep, time.Since(start))
	return nil
}

func (a *cliApp) redo(c *cli.Context) error {
	r, db, err := a.engine(c)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	rep, err := r.Redo(c.Context)
	if err != nil {
		return err
	}
	a.out.report(rep, time.Since(start))
	return nil
}

func (a *cliApp) validate(c *cli.Context) error {
	if targets, ok, err := a.fleetTargets(c); err != nil || ok {
		if err != nil {
			return err
		}
		return a.runFleet(c, targets, func(ctx context.Context, r *runner.Runner) (runner.Report, runner.Status, error) {
			st, err := r.Validate(ctx)
			return runner.Report{}, st, err
		})
	}
	r, db, err := a.engine(c)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := r.Validate(c.Context)
	if err != nil {
		return err
	}
	a.out.validated(st)
	return nil
}

func (a *cliApp) baseline(c *cli.Context) error {
	if c.IsSet("from") || c.IsSet("from-table") {
		return a.adopt(c)
	}
	if !c.IsSet("version") {
		return usagef("baseline needs --version VERSION, the newest migration the database already has")
	}
	v, err := parseVersion("version", c.String("version"))
	if err != nil {
		return err
	}
	r, db, err := a.engine(c)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	rep, err := r.Baseline(c.Context, v)
	if err != nil {
		return err
	}
	a.out.report(rep, time.Since(start))
	return nil
}

// adopt is `baseline --from TOOL`: it records what another tool applied.
func (a *cliApp) adopt(c *cli.Context) error {
	switch {
	case c.IsSet("version"):
		return usagef("baseline takes --version or --from, not both")
	case !c.IsSet("from"):
		return usagef("--from-table needs --from TOOL (golang-migrate, goose, dbmate or flyway)")
	}
	r, db, err := a.engine(c)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	rep, err := r.Adopt(c.Context, runner.Tool(c.String("from")), c.String("from-table"))
	if err != nil {
		return err
	}
	a.out.report(rep, time.Since(start))
	return nil
}

func (a *cliApp) repair(c *cli.Context) error {
	r, db, err := a.engine(c)
	if err != nil {
		return err
	}
	defer db.Close()
	changes, err := r.Repair(c.Context)
	if err != nil {
		return err
	}
	a.out.repaired(changes)
	return nil
}

func (a *cliApp) create(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("create takes one argument, the migration's name, e.g. `pgmig create add_orders`")
	}
	spec := c.String("source")
	if spec == "builtin" || strings.Contains(spec, "://") && !strings.HasPrefix(spec, "file://") {
		return usagef("create writes into a directory; --source %q is not one", spec)
	}
	dir := strings.TrimPrefix(spec, "file://")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	name, err := source.NextFileName(os.DirFS(dir), c.Args().First())
	var ne *source.NameError
	if errors.As(err, &ne) {
		return &usageError{err}
	}
	if err != nil {
		return err
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if _, err := io.WriteString(f, source.Template()); err != nil {
		f.Close()
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	a.out.created(path)
	return nil
}

func (a *cliApp) health(c *cli.Context) error {
	db, err := a.connect(c)
	if err != nil {
		return err
	}
	defer db.Close()
	h := pgdb.Check(c.Context, db.Pool())
	a.out.health(h)
	if !h.Healthy {
		return &reportedError{fmt.Errorf("unhealthy: %s", h.Error)}
	}
	return nil
}

func (a *cliApp) version(*cli.Context) error {
	v, c, d := buildInfo()
	a.out.version(v, c, d)
	return nil
}

// reportedError is a failure whose output was already printed; only the
// exit code is left to give.
type reportedError struct{ err error }

func (e *reportedError) Error() string { return e.err.Error() }
func (e *reportedError) Unwrap() error { return e.err }
