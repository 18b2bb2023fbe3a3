package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Config tunes Open. Its zero value works: each field documents its default.
type Config struct {
	// MinConns is the number of connections the pool keeps open even when
	// idle. Zero means 2.
	MinConns int32
	// MaxConns caps the number of open connections. Zero means 10.
	MaxConns int32
	// ConnectTimeout bounds how long Open keeps retrying the first
	// connection while the server is unreachable, starting up or full.
	// Zero means 30s.
	ConnectTimeout time.Duration
	// ApplicationName is reported to the server (pg_stat_activity) unless
	// the connection string sets application_name itself. Empty sets none;
	// the pgmig CLI passes "pgmig".
	ApplicationName string
	// QueryExecMode, when not zero, replaces pgx's default query execution
	// mode (pgx.QueryExecModeCacheStatement, or the connection string's
	// default_query_exec_mode). Behind a transaction-pooling connection
	// pooler such as PgBouncer, use pgx.QueryExecModeExec or
	// QueryExecModeSimpleProtocol: they prepare no named statements on
	// the server.
	QueryExecMode pgx.QueryExecMode

	// OnRetry, when not nil, is called after each failed attempt of the
	// first connection that Open will retry, with the attempt's number
	// (from 1), the time since Open began and the attempt's error, so a
	// caller can show that it is waiting. It runs on Open's goroutine.
	OnRetry func(attempt int, elapsed time.Duration, err error)

	// Logger receives the query log. Nil discards it, and then no tracer is
	// installed at all.
	Logger *slog.Logger
	// LogQueries logs every query with its duration at Debug level
	// (development mode). Off by default.
	LogQueries bool
	// LogArgs adds the query arguments to the log lines. Off by default:
	// arguments may hold personal data or secrets.
	LogArgs bool
	// SlowQueryThreshold is the duration from which a query is logged at
	// Warn level, whatever LogQueries says. Zero means 1s; negative turns
	// the slow query log off.
	SlowQueryThreshold time.Duration
}

const (
	defaultMinConns       = 2
	defaultMaxConns       = 10
	defaultConnectTimeout = 30 * time.Second
	defaultSlowQuery      = time.Second
)

// DB is a connection pool opened by Open. It is safe for concurrent use.
type DB struct {
	pool      *pgxpool.Pool
	closeOnce sync.Once
}

// Pool returns the underlying pool, for pgx calls and for the helpers of
// this package that take a Querier or a *pgxpool.Pool.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// Close closes every connection of the pool, waiting for acquired ones to
// be released. It is idempotent and safe to call concurrently.
func (d *DB) Close() {
	d.closeOnce.Do(d.pool.Close)
}

// Check reports the health of the pool; see the package function Check.
func (d *DB) Check(ctx context.Context) Health { return Check(ctx, d.pool) }

// Open creates a pool from a URL or keyword/value connection string and
// makes its first connection, retrying with exponential backoff while the
// server is unreachable, starting up (57P03) or full (53300), for at most
// cfg.ConnectTimeout. A malformed connection string, an authentication
// failure (28P01, 28000) or a missing database (3D000) fails at once.
//
// The error never shows the connection string's password: connection
// strings in it are redacted (see Redact).
func Open(ctx context.Context, connString string, cfg Config) (*DB, error) {
	return open(ctx, connString, cfg, nil)
}

// open is Open with a hook that may change the parsed configuration before
// the pool is made: the redaction fuzz test uses it to dial nowhere.
func open(ctx context.Context, connString string, cfg Config, prepare func(*pgxpool.Config)) (*DB, error) {
	if err := shapeError(connString); err != nil {
		return nil, err
	}
	secrets := passwords(connString)
	pcfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, connStringError(connString, err)
	}
	secrets = append(secrets, pcfg.ConnConfig.Password)

	pcfg.MinConns = orDefault(cfg.MinConns, defaultMinConns)
	pcfg.MaxConns = orDefault(cfg.MaxConns, defaultMaxConns)
	if pcfg.MinConns > pcfg.MaxConns {
		pcfg.MinConns = pcfg.MaxConns
	}
	if _, set := pcfg.ConnConfig.RuntimeParams["application_name"]; !set && cfg.ApplicationName != "" {
		pcfg.ConnConfig.RuntimeParams["application_name"] = cfg.ApplicationName
	}
	if cfg.QueryExecMode != 0 {
		pcfg.ConnConfig.DefaultQueryExecMode = cfg.QueryExecMode
	}
	if cfg.Logger != nil {
		pcfg.ConnConfig.Tracer = &Tracer{
			Logger:        cfg.Logger,
			LogAll:        cfg.LogQueries,
			LogArgs:       cfg.LogArgs,
			SlowThreshold: orDefault(cfg.SlowQueryThreshold, defaultSlowQuery),
		}
	}

	if prepare != nil {
		prepare(pcfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, scrub(fmt.Errorf("open pool: %w", err), secrets...)
	}
	if err := waitReady(ctx, pool, orDefault(cfg.ConnectTimeout, defaultConnectTimeout), cfg.OnRetry); err != nil {
		pool.Close()
		return nil, scrub(fmt.Errorf("connect to %s: %w", describe(connString), err), secrets...)
	}
	return &DB{pool: pool}, nil
}

func orDefault[N int32 | time.Duration](v, def N) N {
	if v == 0 {
		return def
	}
	return v
}

// WaitReady pings through pool, with exponential backoff, until a server
// answers, an error comes that Retryable calls permanent, or timeout
// passes; the error then names the last reason the server did not answer.
// Open waits so for its first connection; a program that lost its server
// (a restart, a failover) waits so for it to come back.
func WaitReady(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration) error {
	return waitReady(ctx, pool, timeout, nil)
}

// waitReady is WaitReady, calling onRetry (when not nil) after each
// attempt it will retry.
func waitReady(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration, onRetry func(int, time.Duration, error)) error {
	start := time.Now()
	attempt := 0
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 2 * time.Second
	b.MaxElapsedTime = 0 // the context bounds the whole
	var last error
	err := backoff.Retry(func() error {
		err := pool.Ping(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return backoff.Permanent(ctx.Err())
		}
		last = err
		if !Retryable(err) {
			return backoff.Permanent(err)
		}
		attempt++
		if onRetry != nil {
			onRetry(attempt, time.Since(start), err)
		}
		return err
	}, backoff.WithContext(b, ctx))
	if err == nil || ctx.Err() == nil || last == nil {
		return err
	}
	// The context ended during an attempt or between two: keep the reason
	// the server never answered next to it.
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("gave up after %s: %w", timeout, errors.Join(ctx.Err(), last))
	}
	return errors.Join(ctx.Err(), last)
}

// Retryable reports whether err, returned while connecting, is worth
// another attempt: the server is unreachable (connection refused, reset,
// host or network unreachable, a network timeout), is starting up or
// shutting down (57P03, 57P01), has no free connection slot (53300), the
// connection broke (class 08), or the server is a standby where
// target_session_attrs asks for a primary (read-write or primary), as it
// is while a failover promotes one. Authentication failures (28P01,
// 28000), a missing database (3D000), a malformed connection string and
// every other server error are not, nor is a cancelled or expired context.
//
// A connection string naming several hosts fails with one error per host:
// one host's permanent failure (a wrong password, a missing database) ends
// the retries, whatever the others said.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	return !anyError(err, permanent) && anyError(err, passing)
}

// permanent tells whether err, one error of a chain, will not change by
// trying again.
func permanent(err error) bool {
	var pgErr *pgconn.PgError
	var parseErr *pgconn.ParseConfigError
	switch {
	case errors.As(err, &pgErr):
		return !retryableCode(pgErr.Code)
	case errors.As(err, &parseErr):
		return true
	}
	return false
}

func retryableCode(code string) bool {
	switch code {
	case "57P03", // cannot_connect_now: the server is starting up
		"57P01", // admin_shutdown: a restart is under way
		"53300": // too_many_connections
		return true
	}
	return len(code) == 5 && code[:2] == "08" && code != "08P01"
}

// passing tells whether err, one error of a chain, is a condition that
// may pass.
func passing(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return retryableCode(pgErr.Code)
	}
	if errors.Is(err, pgconn.ErrReadOnlyConnection) || errors.Is(err, pgconn.ErrStandbyConnection) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ETIMEDOUT) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		// A name that does not exist is a typo, not a server on its way.
		return dnsErr.IsTemporary || dnsErr.IsTimeout
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// anyError reports whether f holds for err or, where err joins several
// errors (errors.Join, a connection attempt to several hosts), for any one
// of them on its own.
func anyError(err error, f func(error) bool) bool {
	for e := err; e != nil; {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, sub := range j.Unwrap() {
				if anyError(sub, f) {
					return true
				}
			}
			return false
		}
		if _, ok := e.(interface{ Unwrap() error }); !ok {
			break
		}
		e = errors.Unwrap(e)
	}
	return f(err)
}

// describe names the server a connection string leads to, for messages:
// the string with its password redacted, or, when it is empty, the libpq
// defaults it stands for.
func describe(connString string) string {
	if connString == "" {
		return "the default server (PGHOST, PGPORT, PGUSER, PGDATABASE or the local socket)"
	}
	return Redact(connString)
}
