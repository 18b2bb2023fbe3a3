package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/remote"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// openSource resolves --source; an archive URL is fetched at once, under
// ctx, with opts.
func openSource(ctx context.Context, spec string, opts remote.Options) (source.Source, error) {
	return openSourceWith(ctx, spec, opts, false)
}

// openSourceWith is openSource; goMigrations reads goose's Go migrations
// as migrations (for baseline --from goose, which records their versions)
// instead of refusing them.
func openSourceWith(ctx context.Context, spec string, opts remote.Options, goMigrations bool) (source.Source, error) {
	// The source's warnings (an empty up section, migrations in a
	// subdirectory) go to stderr with the engine's other warnings.
	// Flyway's repeatable migrations and dotted versions are read: the
	// runner orders by the source's versions and applies repeatables.
	sopts := source.Options{Logger: opts.Logger, GoMigrations: goMigrations, FlywayVersions: true}
	switch {
	case spec == "builtin":
		return source.Builtin(), nil
	case strings.HasPrefix(spec, "file://"):
		return source.DirWith(strings.TrimPrefix(spec, "file://"), sopts), nil
	case strings.HasPrefix(spec, "http://") && !opts.AllowInsecure:
		return nil, usagef("--source %s: plain http is refused, since anyone on the way could change the SQL; use https, or pass --allow-insecure-source", remote.Redact(spec))
	case strings.HasPrefix(spec, "https://"), strings.HasPrefix(spec, "http://"):
		fsys, err := remote.Fetch(ctx, spec, opts)
		switch {
		case errors.Is(err, remote.ErrInsecure):
			// Redirected to http.
			return nil, usage(fmt.Errorf("--source: %w; pass --allow-insecure-source to allow it", err))
		case errors.Is(err, remote.ErrInvalidURL):
			return nil, usage(fmt.Errorf("--source: %w", err))
		case err != nil:
			return nil, fmt.Errorf("--source: %w", err)
		}
		return source.FromFSWith(fsys, sopts), nil
	case strings.Contains(spec, "://"):
		return nil, usagef("--source %q: want a directory, file://DIR or builtin", spec)
	}
	return source.DirWith(spec, sopts), nil
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
// connects and the runner still sees the same migrations. With done set,
// they are still being read: Migrations waits for them.
type loaded struct {
	done chan struct{} // closed once ms and err are set; nil when they are from the start
	ms   []source.Migration
	err  error
}

func (l *loaded) Migrations(ctx context.Context) ([]source.Migration, error) {
	if l.done != nil {
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return l.ms, l.err
}

// cause returns the files' own error when err is it as the runner
// wrapped it ("load migrations: …"): a lazy session's op may read the
// files after it connected, or before, and the error said must be the
// same either way.
func (l *loaded) cause(err error) error {
	if l.done != nil {
		select {
		case <-l.done:
		default:
			return err
		}
	}
	if l.err != nil && errors.Is(err, l.err) {
		return l.err
	}
	return err
}

// readSource reads --source, once: a command that both checks and applies
// the files (up --lint, several targets) works on these migrations
// throughout, so an archive that is not pinned cannot change between the
// two.
func (a *cliApp) readSource(c *cli.Context) ([]source.Migration, error) {
	ropts, err := a.remoteOptions(c)
	if err != nil {
		return nil, err
	}
	// Only adopting a goose history takes goose's Go migrations: it
	// records their versions and runs nothing.
	adoptGoose := c.Command != nil && c.Command.Name == "baseline" && c.String("from") == string(runner.Goose)
	src, err := openSourceWith(c.Context, c.String("source"), ropts, adoptGoose)
	if err != nil {
		return nil, err
	}
	return src.Migrations(c.Context)
}

// session is what most commands work on: the migrations of --source, read
// once, the database of --database-url and a runner over both.
type session struct {
	files  *loaded
	db     *pgdb.DB
	r      *runner.Runner
	target *jsonTarget
	named  bool // the target line is printed
}

func (s *session) close() { s.db.Close() }

// migrations returns the files of the session, once read.
func (s *session) migrations() []source.Migration {
	<-s.files.done
	return s.files.ms
}

// name prints the target line, once: before anything changes, so the
// user sees which database this is (the libpq defaults may lead elsewhere
// than they think). Not when the files failed: then their error is all
// there is to say.
func (s *session) name(out *printer) {
	if <-s.files.done; s.named || s.files.err != nil {
		return
	}
	s.named = true
	out.targetLine(s.target)
}

// session reads the source, connects and builds the runner, whose steps
// are printed as they finish, and names the target. The caller closes it.
func (a *cliApp) session(c *cli.Context) (*session, error) {
	s, err := a.openSession(c, false)
	if err != nil {
		return nil, err
	}
	s.name(a.out)
	return s, nil
}

// openSession connects while the files are read: each takes tens of
// milliseconds for a large project. Bad files still win: the connection
// attempt is cancelled, so they are reported at once even when the server
// is down. With lazy it returns once connected, the files perhaps still
// being read; the runner waits for them where it needs them (Status and
// Validate read the history meanwhile), and the caller names the target
// (session.name) once they are in.
func (a *cliApp) openSession(c *cli.Context, lazy bool) (*session, error) {
	type conn struct {
		db  *pgdb.DB
		err error
	}
	connCtx, cancel := context.WithCancel(c.Context)
	defer cancel()
	connected := make(chan conn, 1)
	go func() {
		url, from := a.databaseURL(c)
		db, err := a.dial(connCtx, c, url, from)
		connected <- conn{db, err}
	}()
	files := &loaded{done: make(chan struct{})}
	go func() {
		defer close(files.done)
		files.ms, files.err = a.readSource(c)
	}()
	var cn conn
	select {
	case <-files.done:
		if files.err != nil {
			cancel()
			if cn := <-connected; cn.db != nil {
				cn.db.Close()
			}
			return nil, files.err
		}
		cn = <-connected
	case cn = <-connected:
		if !lazy || cn.err != nil {
			// The files' error, if any, is the one to report.
			<-files.done
			if files.err != nil {
				if cn.db != nil {
					cn.db.Close()
				}
				return nil, files.err
			}
		}
	}
	if cn.err != nil {
		return nil, cn.err
	}
	r, err := runner.New(cn.db.Pool(), files, a.runnerOptions(c, runnerUse{onEvent: a.out.event}))
	if err != nil {
		cn.db.Close()
		return nil, err
	}
	return &session{files: files, db: cn.db, r: r, target: targetOf(cn.db, c.String("table"))}, nil
}

// onSession is the shape of a command on one database: open the session,
// run op on its runner and, when op succeeds, show what it returned with
// the time it took. The session is closed either way. A lazy session's op
// runs while the files are still being read (see openSession): only for
// an op that reads them before it changes anything.
func onSession[T any](a *cliApp, c *cli.Context, lazy bool, op func(*runner.Runner, context.Context) (T, error), show func(T, time.Duration)) error {
	s, err := a.openSession(c, lazy)
	if err != nil {
		return err
	}
	defer s.close()
	if !lazy {
		s.name(a.out)
	}
	start := time.Now()
	res, err := op(s.r, c.Context)
	if err != nil {
		if ferr := s.files.cause(err); ferr != err {
			return ferr // as if the files had been read first: no target line
		}
	}
	s.name(a.out)
	if err != nil {
		return err
	}
	show(res, time.Since(start))
	return nil
}

// reported is onSession for the commands that print a runner.Report.
func (a *cliApp) reported(c *cli.Context, op func(*runner.Runner, context.Context) (runner.Report, error)) error {
	return onSession(a, c, false, op, a.out.report)
}

// runnerUse says what a runner is for, where commands differ.
type runnerUse struct {
	// table is the tracking table; empty means --table.
	table string
	// schema is the schema the runner works in (search_path and tracking
	// table), for --schemas-query; empty means the connection's own.
	schema string
	// onEvent receives the runner's events; nil prints none (several
	// targets run at once).
	onEvent func(runner.Event)
	// compare: the runner builds schemas that verify or drift snapshot and
	// compare. It takes the session lock whatever --lock-mode says (a
	// lease table would be one more object in the snapshots) and keeps to
	// the files' order.
	compare bool
	// tryLock: the lock is tried once, not waited for (--skip-locked); the
	// fleet comes back to a target another run holds.
	tryLock bool
}

// newRunner builds a runner over ms on db with the flags' settings.
func (a *cliApp) newRunner(c *cli.Context, db *pgdb.DB, ms []source.Migration, use runnerUse) (*runner.Runner, error) {
	return runner.New(db.Pool(), &loaded{ms: ms}, a.runnerOptions(c, use))
}

// runnerOptions are the runner settings of the flags, for use; the one
// runner.Options literal of the CLI, which check's runners get too.
func (a *cliApp) runnerOptions(c *cli.Context, use runnerUse) runner.Options {
	o := runner.Options{
		Table:           use.table,
		Schema:          use.schema,
		LockTimeout:     c.Duration("lock-timeout"),
		LockMode:        runner.LockMode(c.String("lock-mode")),
		LockTTL:         c.Duration("lock-ttl"),
		AllowOutOfOrder: c.Bool("allow-out-of-order"),
		Logger:          a.logger,
		OnEvent:         use.onEvent,
		DDLLockTimeout:  c.Duration("ddl-lock-timeout"),
		DDLRetries:      c.Int("ddl-retries"),
	}
	if o.Table == "" {
		o.Table = c.String("table")
	}
	if use.tryLock {
		o.LockTimeout = -1
	}
	if !use.compare && c.Command.Name == "up" {
		// Up survives a failover: it waits for a primary as long as a
		// first connection may take, then takes the lock again.
		o.ReconnectTimeout = c.Duration("connect-timeout")
	}
	if use.compare {
		o.LockMode, o.LockTTL, o.AllowOutOfOrder = runner.LockSession, 0, false
	} else if use.onEvent != nil {
		// A heartbeat for long statements, on a terminal only.
		o.ProgressInterval = a.out.heartbeatInterval()
	}
	return o
}

// connect opens a small pool on --database-url.
func (a *cliApp) connect(c *cli.Context) (*pgdb.DB, error) {
	url, from := a.databaseURL(c)
	return a.dial(c.Context, c, url, from)
}

// dial opens a small pool on connString with the connection flags; from
// names the flag or environment variable connString came from, for the
// error ("" for the libpq defaults).
func (a *cliApp) dial(ctx context.Context, c *cli.Context, connString, from string) (*pgdb.DB, error) {
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
	// What Open will parse, to name the server while waiting and when
	// giving up; pgdb refuses a string whose password could spill into
	// the host or the database name.
	pc, _ := pgconn.ParseConfig(connString)
	if pc != nil && isTerminal(a.stderr) && !a.out.quiet {
		wl := &waitLine{w: a.stderr, where: servers(pc)}
		cfg.OnRetry = wl.retry
		defer wl.done()
	}
	db, err := pgdb.Open(ctx, connString, cfg)
	var cse *pgdb.ConnStringError
	var pce *pgconn.ParseConfigError
	switch {
	case err == nil:
		return db, nil
	case errors.As(err, &cse), errors.As(err, &pce):
		// A connection string that does not parse is a bad flag value.
		if from == "" {
			from = "the libpq defaults"
		}
		return nil, usage(fmt.Errorf("%s: %w", from, err))
	case connString == "" && from == "":
		return nil, fmt.Errorf("no --database-url, PGMIG_DATABASE_URL or DATABASE_URL; with the libpq defaults (PGHOST, PGPORT, PGUSER, PGDATABASE): %w", summarizeConnect(err, pc, cfg.ConnectTimeout))
	default:
		return nil, summarizeConnect(err, pc, cfg.ConnectTimeout)
	}
}
