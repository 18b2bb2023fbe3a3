package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
		DDLRetries:      retries(c.Int("ddl-retries")),
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
	var pce *pgconn.ParseConfigError
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

// open connects to connString with the CLI's settings; flag names the
// flag it came from, for the error.
func (a *cliApp) open(c *cli.Context, connString, flag string) (*pgdb.DB, error) {
	db, err := pgdb.Open(c.Context, connString, pgdb.Config{
		MinConns:        1,
		MaxConns:        4,
		ConnectTimeout:  c.Duration("connect-timeout"),
		ApplicationName: "pgmig",
	})
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		return nil, &usageError{fmt.Errorf("%s: %w", flag, err)}
	}
	return db, err
}
