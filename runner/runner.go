package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/lock"
	"github.com/pgmig/pgmig/source"
)

// DefaultTable is the tracking table used when Options.Table is empty.
const DefaultTable = "public.pgmig_migrations"

// Options configures a Runner. The zero value works.
type Options struct {
	// Table is the tracking table, "schema.table" or "table" (then in the
	// connection's current schema). Empty means DefaultTable. It is
	// created, with its schema, by the first command that writes.
	Table string
	// Schema, when set, is the schema the runner works in: the sessions
	// that run migrations have their search_path set to it alone, and the
	// tracking table (and the lease table) is placed in it, replacing
	// Table's own schema. It is a name as the catalog has it, not quoted.
	// Behind a transaction-pooling connection pooler the search_path does
	// not stay with a session: set it in the connection string there.
	Schema string
	// LockTimeout bounds the wait for the lock another run holds. Zero
	// means lock.DefaultTimeout (5 minutes); negative, a single try.
	LockTimeout time.Duration
	// LockMode chooses how runs exclude each other. LockSession (the zero
	// value) takes a session advisory lock on a connection of its own and
	// refuses to when it finds a transaction-pooling connection pooler in
	// the way (*lock.PoolerError). LockTable takes a lease: a row in a
	// table next to the tracking table (its name plus "_lock"), renewed
	// while the run lasts and taken over once expired if its holder died.
	// It works through PgBouncer in transaction mode, provided the pool
	// uses no server-side prepared statements (pgx.QueryExecModeExec or
	// QueryExecModeSimpleProtocol); no progress is sampled in that mode.
	LockMode LockMode
	// LockTTL is the lease's time to live in LockTable mode, renewed every
	// LockTTL/3. Zero means lock.DefaultTTL (30s).
	LockTTL time.Duration
	// AllowOutOfOrder lets Up apply a pending migration older than the
	// newest applied one instead of refusing.
	AllowOutOfOrder bool
	// Logger receives progress with the keys version, name, direction and
	// duration. Nil discards.
	Logger *slog.Logger
	// OnEvent, when set, is called as each step starts, progresses and
	// finishes, when a step is retried, and when the run waits for the lock.
	// Calls never overlap; progress samples come from another goroutine.
	OnEvent func(Event)

	// DDLLockTimeout sets lock_timeout for every transactional section
	// (a section's "-- pgmig:lock-timeout" overrides it), so that a
	// migration queued behind a long transaction fails fast instead of
	// blocking every query that queues behind it. Zero leaves the server's.
	DDLLockTimeout time.Duration
	// DDLRetries is how many times a section that hit its lock_timeout
	// (SQLSTATE 55P03) is rolled back and run again, after an exponential
	// backoff with jitter. Zero means none; negative is refused. Retries
	// need a lock_timeout (DDLLockTimeout or the section's own).
	DDLRetries int
	// DDLRetryWait is the first backoff wait. Zero means 500ms.
	DDLRetryWait time.Duration
	// ProgressInterval, when positive, has a running step sampled that often
	// (elapsed time, wait event, blockers, index build progress) and
	// reported as StepProgress events.
	ProgressInterval time.Duration
	// ReconnectTimeout, when positive, lets Up survive the loss of its
	// server, as in a failover: it waits up to this long for a server to
	// accept a read-write connection again, then takes the lock again,
	// re-reads the history and goes on (see Up). Zero returns the error.
	ReconnectTimeout time.Duration
	// GoMigrations are migrations written in Go, run beside the source's
	// (see GoMigration). A goose NNN_name.go file, read by a source built
	// with source.Options.GoMigrations, takes the functions registered for
	// its version; a pending one without them is refused before anything
	// runs (*UnregisteredGoError).
	GoMigrations []GoMigration
}

// LockMode says how runs against one tracking table exclude each other.
type LockMode string

const (
	// LockSession: a session advisory lock (the default).
	LockSession LockMode = "session"
	// LockTable: a lease row in a lock table, for connection poolers.
	LockTable LockMode = "table"
)

// Direction says which way a step goes.
type Direction string

const (
	Up   Direction = "up"
	Down Direction = "down"
)

func (d Direction) verb() string {
	if d == Down {
		return "roll back"
	}
	return "apply"
}

// EventKind tells what an Event reports.
type EventKind int

const (
	// StepStarted: a migration step begins.
	StepStarted EventKind = iota
	// StepFinished: a migration step committed; Step.Duration is set. A
	// transactional step's COMMIT travels with the next step's query, so
	// the next step's StepStarted may come first.
	StepFinished
	// StepFailed: a migration step failed; Err is set.
	StepFailed
	// LockWaiting: another session holds the lock; Holder is set when known.
	LockWaiting
	// StepProgress: a sample of a running step; Progress is set.
	StepProgress
	// StepRetrying: a step hit its lock_timeout and will run again; Retry is set.
	StepRetrying
	// Reconnecting: the server went away; Up waits for a primary
	// (Options.ReconnectTimeout). Failover is set.
	Reconnecting
	// Reconnected: Up holds the lock again and has re-read the history;
	// Failover is set, with the steps the failover lost.
	Reconnected
)

// Event is progress reported through Options.OnEvent.
type Event struct {
	Kind     EventKind
	Step     Step
	Err      error
	Holder   lock.Holder
	Progress Progress
	Retry    Retry
	Failover Failover
}

// Retry describes a step about to run again after hitting its lock_timeout.
type Retry struct {
	Attempt  int           // 1 for the first retry
	Max      int           // retries allowed
	Wait     time.Duration // backoff before the next attempt
	Blockers []Blocker     // sessions seen holding the lock it waited for
	Err      error         // the lock timeout error
}

// Step is one migration applied, rolled back or recorded.
type Step struct {
	// Version is the migration's version as an integer; 0 for a dotted
	// version and for a repeatable migration.
	Version int64
	// Ver is the version as the file spells it, integer or dotted; zero
	// for a repeatable migration.
	Ver           source.Version
	Name          string
	Direction     Direction
	File          string
	Checksum      string
	NoTransaction bool
	Repeatable    bool          // a repeatable migration: Version is 0
	AppliedAt     time.Time     // when it was applied, as the tracking table records it (the server's clock); zero on a dry run
	Duration      time.Duration // wall time of the step as seen by this process
}

// Report is what a command changed. An empty Report means nothing to do.
type Report struct {
	Applied    []Step
	RolledBack []Step
	Baselined  []Step
	Rehearsed  []Rehearsal
	// Current is the newest applied version after the command, nil when
	// none is applied, and when that version is dotted: CurrentVer has it
	// whatever its form (zero when none is applied).
	Current    *int64
	CurrentVer source.Version
	DryRun     bool
	// Planned is, on a dry run, the newest version that would be applied
	// after the command; nil when none would be (or dotted, as Current).
	Planned    *int64
	PlannedVer source.Version
}

// setCurrent sets Current and CurrentVer to v.
func (rep *Report) setCurrent(v source.Version) { rep.Current, rep.CurrentVer = intPtr(v), v }

// setPlanned sets Planned and PlannedVer to v.
func (rep *Report) setPlanned(v source.Version) { rep.Planned, rep.PlannedVer = intPtr(v), v }

// advance sets Current (or, on a dry run, Planned) to v when v is newer.
func (rep *Report) advance(v source.Version, planned bool) {
	switch {
	case v.IsZero():
	case planned && v.Compare(rep.PlannedVer) > 0:
		rep.setPlanned(v)
	case !planned && v.Compare(rep.CurrentVer) > 0:
		rep.setCurrent(v)
	}
}

// Runner applies a source's migrations to one database. Its methods are
// safe to call from several goroutines and processes at once: every command
// that writes holds the advisory lock of the tracking table.
type Runner struct {
	pool   *pgxpool.Pool
	src    source.Source
	opts   Options
	schema string // empty: resolved from the connection's current schema
	table  string
	log    *slog.Logger
	goMigs map[int64]*GoMigration // Options.GoMigrations by version
}

// New returns a Runner for the database behind pool and the migrations of
// src. Write commands use two of the pool's connections at once (one holds
// the lock) and close them afterwards rather than return them, so that
// session settings a migration made never leak into the pool.
func New(pool *pgxpool.Pool, src source.Source, opts Options) (*Runner, error) {
	r := &Runner{pool: pool, src: src, opts: opts, log: opts.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	switch opts.LockMode {
	case "", LockSession, LockTable:
	default:
		return nil, optionNamed("Options.LockMode", "lock mode %q: want %q or %q", opts.LockMode, LockSession, LockTable)
	}
	if opts.LockTTL < 0 {
		return nil, optionNamed("Options.LockTTL", "lock TTL %s must not be negative", opts.LockTTL)
	}
	if opts.DDLRetries < 0 {
		return nil, optionNamed("Options.DDLRetries", "DDL retries %d must not be negative", opts.DDLRetries)
	}
	var err error
	if r.goMigs, err = checkGoMigrations(slices.Clone(opts.GoMigrations)); err != nil {
		return nil, err
	}
	table := opts.Table
	if table == "" {
		table = DefaultTable
	}
	parts, err := ParseTable(table)
	if err != nil {
		return nil, optionNamed("Options.Table", "table %q: %v", table, err)
	}
	r.table = parts[len(parts)-1]
	switch {
	case opts.Schema != "":
		r.schema = opts.Schema
	case len(parts) == 2:
		r.schema = parts[0]
	}
	return r, nil
}

// session is one command's hold on the database: a working connection and,
// for writers, the lock.
type session struct {
	conn   *pgx.Conn
	tr     tracking
	exists bool // the tracking table exists
	mon    *monitor
	// held, when set, is the run's lock; it is checked before every
	// COMMIT and no-transaction statement.
	held lock.Held
	// reset brings the session back to the state prepare left it in (see
	// Runner.resetSQL); it ends every migration.
	reset  string
	nreset int // statements in reset, once counted (see resets)
	// chain says whether a transactional step's COMMIT is owed and sent
	// with the next query (see owed): under a session lock, whose own
	// connection can find out a COMMIT's outcome when its result is lost.
	chain bool
	// owed is the step whose COMMIT is owed, if any.
	owed *owed
	// pid is the work connection's server backend, as pg_backend_pid()
	// gives it (behind a session pooler the pid pgx was told is made up);
	// 0 when not read.
	pid int64
}

// history reads the tracking table; nothing when it does not exist.
func (s *session) history(ctx context.Context) ([]Record, error) {
	if !s.exists {
		return nil, nil
	}
	return s.tr.read(ctx, s.conn)
}

// createTable creates the tracking table when missing.
func (s *session) createTable(ctx context.Context) error {
	if err := s.tr.create(ctx, s.conn); err != nil {
		return err
	}
	s.exists = true
	return nil
}

// read runs fn on a pooled connection without the lock, for commands that
// change nothing.
func (r *Runner) read(ctx context.Context, fn func(*session) error) error {
	c, err := r.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer c.Release()
	s, err := r.open(ctx, c.Conn())
	if err != nil {
		return err
	}
	return fn(s)
}

// write runs fn holding the tracking table's lock, with the table created.
func (r *Runner) write(ctx context.Context, fn func(*session) error) error {
	return r.locked(ctx, true, fn)
}

// locked runs fn holding the tracking table's lock; create says whether to
// create the tracking table when it is missing. The work connection (and
// in session mode the lock's) is closed afterwards rather than returned to
// the pool: closing is what releases a session lock for certain, and a
// migration may have changed session settings.
func (r *Runner) locked(ctx context.Context, create bool, fn func(*session) error) (err error) {
	wc, err := r.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	conn := wc.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	var lockConn *pgx.Conn // session mode: the lock's own connection
	if r.opts.LockMode != LockTable {
		lc, err := r.pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		lockConn = lc.Hijack()
		defer lockConn.Close(context.WithoutCancel(ctx))
		// Before anything else: behind a transaction pooler the lock would
		// stay on a pooled server connection for good, and the statements
		// below would meet other clients' prepared statements.
		if err := lock.DetectPooler(ctx, lockConn, conn, r.lockName()); err != nil {
			return err
		}
	}
	s, err := r.open(ctx, conn)
	if err != nil {
		return err
	}
	locker := r.locker(s, lockConn)
	if err := r.prepare(ctx, conn); err != nil {
		return err
	}
	s.reset = r.resetSQL(conn)
	if lockConn != nil {
		// The real backend, which outcome may have to end: a session
		// pooler makes up the pid it reports at connection start.
		if s.pid, err = backendPID(ctx, conn); err != nil {
			return err
		}
		s.chain = true
	}
	held, err := locker.Lock(ctx)
	if err != nil {
		return err
	}
	s.held = held
	s.tr.guard = held.Guard()
	stop, cancelled := make(chan struct{}), make(chan struct{})
	defer func() {
		close(stop)
		// The cancel request must finish before the run goes on to close
		// its connections or exit: PgBouncer 1.18 (Debian 12's) dies on a
		// FATAL "bad client state" when a cancel request's connection
		// closes before it has passed the request on (pgbouncer#801,
		// fixed in 1.19.1), taking every client of the pooler with it.
		<-cancelled
	}()
	go func() {
		defer close(cancelled)
		select {
		case <-held.Lost():
			// Cancel the statement in flight, so a long one stops now
			// rather than at its guarded history write. The connection
			// stays open: a COMMIT in flight gets its true outcome back
			// (the guard made it safe), where cutting the connection
			// would leave it unknown. The request's own connection is
			// closed by the server (or pooler) when it is done; the
			// bound is for one that never answers.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelRequestWait)
			conn.PgConn().CancelRequest(cctx)
			cancel()
			return
		case <-ctx.Done():
		case <-stop:
		}
		if ctx.Err() == nil {
			return // the run ended on its own: nothing is in flight
		}
		// The run was stopped (SIGINT, SIGTERM, a caller's cancel). pgx
		// gives up on the connection at once, but the server notices a
		// client gone only when it next talks to it, or, from PostgreSQL
		// 14, within client_connection_check_interval (which prepare
		// sets): on 13 a long statement ran on to its end, holding its
		// locks, after pgmig had said it was rolled back. The cancel
		// stops it now, on every version. It is sent even when the run
		// has ended by the time this runs: the run ends as soon as pgx
		// gives up, which says nothing of the server, and a cancel that
		// reaches an idle backend is ignored.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelRequestWait)
		conn.PgConn().CancelRequest(cctx)
		cancel()
	}()
	defer func() {
		rerr := held.Release(context.WithoutCancel(ctx))
		switch {
		case errors.Is(rerr, lock.ErrLost) && errors.Is(err, lock.ErrLost):
			// fn already stopped for the loss and says so.
		case errors.Is(rerr, lock.ErrLost) && err != nil && conn.IsClosed():
			// The work session went as well (terminated, the server
			// going away): its own error says what happened, and is the
			// one a caller acts on.
			r.log.Warn("release lock", "err", rerr)
		case errors.Is(rerr, lock.ErrLost):
			// Whatever fn reported, the run was not exclusive to the end.
			var me *MigrationError
			var pe *pgconn.PgError
			switch {
			case errors.As(err, &me) && errors.As(me.Err, &pe) && pe.Code == "57014":
				// The loss cancelled the statement in flight: the loss is
				// the error, the cancellation only how it showed.
				me.Err = fmt.Errorf("%w; the statement in flight was cancelled (%s)", rerr, pe.Message)
			case me != nil:
				// The step failed while the lock was lost: say so where
				// the step's error is shown.
				me.Err = fmt.Errorf("%w; the run was stopped: %w", rerr, me.Err)
			default:
				err = errors.Join(rerr, err)
			}
		case rerr != nil:
			// Closing the connection frees a session lock; a lease
			// expires by itself within its TTL.
			r.log.Warn("release lock", "err", rerr)
		}
	}()
	if create {
		if err := s.createTable(ctx); err != nil {
			return err
		}
	}
	err = fn(s)
	switch {
	case s.owed != nil && err == nil:
		err = r.settle(ctx, s)
	case s.owed != nil:
		// Not committed, and not reported: the connection closes, and
		// the server rolls it back.
		s.owed = nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.SchemaName == s.tr.schema && pe.TableName == s.tr.table {
		// The tracking table's primary key caught a second apply of one
		// migration: its transaction rolled back with the history row.
		return fmt.Errorf("another run recorded the same migration in %s meanwhile, though this run held the lock (lost, or taken over after it expired?); nothing of this migration was kept: %w", s.tr.name(), err)
	}
	return err
}

// cancelRequestWait bounds the wait for a cancel request sent on a lost
// lock.
const cancelRequestWait = 10 * time.Second

// backendPID returns the server backend running conn's statements.
func backendPID(ctx context.Context, conn *pgx.Conn) (int64, error) {
	var pid int64
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()", pgx.QueryExecModeSimpleProtocol).Scan(&pid); err != nil {
		return 0, fmt.Errorf("read the backend pid: %w", err)
	}
	return pid, nil
}

// locker makes the lock of the configured mode for s's tracking table:
// the session lock on lockConn, which the progress monitor samples from
// too, fencing s's connection; or the lease, whose statements go through
// the pool, each in a transaction of its own.
func (r *Runner) locker(s *session, lockConn *pgx.Conn) lock.Locker {
	wait := lock.Options{
		Timeout: r.opts.LockTimeout,
		Logger:  r.log,
		OnWait: func(h lock.Holder) {
			r.emit(Event{Kind: LockWaiting, Holder: h})
		},
	}
	if lockConn == nil {
		// No progress monitor (s.mon stays nil): behind a pooler the work
		// connection's server backend changes from one transaction to the
		// next.
		return lock.NewLease(r.pool, pgx.Identifier{s.tr.schema, lock.LeaseTableName(s.tr.table)}, s.tr.name(), lock.LeaseOptions{
			Timeout: wait.Timeout, TTL: r.opts.LockTTL, Logger: wait.Logger, OnWait: wait.OnWait,
		})
	}
	s.mon = &monitor{conn: lockConn, pid: s.conn.PgConn().PID()}
	return lock.NewSession(lockConn, s.conn, s.tr.name(), wait)
}

// lockName is the tracking table's name as configured, for messages
// written before the schema is resolved.
func (r *Runner) lockName() string {
	if r.schema == "" {
		return r.table
	}
	return r.schema + "." + r.table
}

func (r *Runner) open(ctx context.Context, conn *pgx.Conn) (*session, error) {
	schema := r.schema
	if schema == "" {
		var cur *string
		if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&cur); err != nil {
			return nil, fmt.Errorf("resolve tracking table schema: %w", err)
		}
		if cur == nil {
			return nil, optionNamed("Options.Table", "table %q has no schema and the search_path names no existing schema", r.table)
		}
		schema = *cur
	}
	s := &session{conn: conn, tr: newTracking(schema, r.table)}
	var err error
	if s.exists, s.tr.upgraded, err = s.tr.layout(ctx, conn); err != nil {
		return nil, err
	}
	return s, nil
}

func (r *Runner) emit(e Event) {
	if r.opts.OnEvent != nil {
		r.opts.OnEvent(e)
	}
}

func (r *Runner) migrations(ctx context.Context) ([]source.Migration, error) {
	ms, err := r.src.Migrations(ctx)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return r.withGo(ms)
}

// readMigrations starts reading the migrations (r.migrations) and returns
// the function that waits for them; it may be called more than once.
func (r *Runner) readMigrations(ctx context.Context) func() ([]source.Migration, error) {
	var (
		ms   []source.Migration
		err  error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		ms, err = r.migrations(ctx)
	}()
	return func() ([]source.Migration, error) {
		<-done
		return ms, err
	}
}

// prepare sets up a work connection in one round trip. It asks the server
// (PostgreSQL 14 and later) to check every second, while a statement runs,
// that this client is still there: a killed pgmig's long migration is then
// cancelled and rolled back within a second instead of running to its end
// for nothing. With Options.Schema it sets the search_path.
func (r *Runner) prepare(ctx context.Context, conn *pgx.Conn) error {
	q := r.settingsSQL(conn)
	if q == "" {
		return nil
	}
	if _, err := conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("set up session: %w", err)
	}
	return nil
}

// resetSQL returns the statements that end every migration: they undo
// the session settings a migration changed (SET, set_config(…, false),
// SET ROLE, SET SESSION AUTHORIZATION) and set pgmig's own again, so that
// each migration starts from the session as pgmig opened it. pg_dump's
// output, for one, empties search_path, and the next migration would find
// no schema to create in. Sent inside the migration's transaction, after
// its history row, they cost no round trip, and a migration rolled back
// rolls them back with it. RESET ALL leaves the settings of the connection
// string, the role and the database as they were: they are the session's
// defaults.
func (r *Runner) resetSQL(conn *pgx.Conn) string {
	return "RESET SESSION AUTHORIZATION;\nRESET ROLE;\nRESET ALL;\n" + r.settingsSQL(conn)
}

// settingsSQL returns the SET statements of the settings pgmig makes on
// its work connections, "" for none. SET, not SELECT set_config: a
// utility statement skips the planner and returns no row, and in the
// reset of every migration the SELECT cost a tenth of the one-round-trip
// floor's time (bench/RESULTS.md).
func (r *Runner) settingsSQL(conn *pgx.Conn) string {
	var q string
	// server_version ("15.20 (Debian …)") is reported at connection start,
	// so the version costs no round trip.
	v := conn.PgConn().ParameterStatus("server_version")
	// Not behind a pooler (table mode), where a session setting would stay
	// on a pooled server connection.
	major, _ := strconv.Atoi(v[:len(v)-len(strings.TrimLeft(v, "0123456789"))])
	if major >= 14 && r.opts.LockMode != LockTable {
		q += "SET client_connection_check_interval = 1000;\n"
	}
	if r.opts.Schema != "" {
		// search_path quotes a string it is SET to as one identifier:
		// the literal is the schema's name as it is.
		q += "SET search_path = " + quoteLiteral(r.opts.Schema) + ";\n"
	}
	return q
}
