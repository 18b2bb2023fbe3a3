package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// NewSession returns a Locker taking the session advisory lock for name
// (Key(name)) on conn, and fencing work with it (see Lock.Fence); work may
// be nil. conn must be a connection of its own for the whole time the lock
// is held: the lock is tied to its session, and goes when the session
// ends, however it ends.
func NewSession(conn, work *pgx.Conn, name string, opts Options) Locker {
	return sessionLocker{conn: conn, work: work, name: name, opts: opts}
}

type sessionLocker struct {
	conn, work *pgx.Conn
	name       string
	opts       Options
}

func (s sessionLocker) Lock(ctx context.Context) (Held, error) {
	l, err := Acquire(ctx, s.conn, s.name, s.opts)
	if err != nil || s.work == nil {
		return l, err
	}
	if err := l.Fence(ctx, s.work); err != nil {
		l.Release(context.WithoutCancel(ctx))
		return nil, err
	}
	return l, nil
}

// Lock is a held advisory lock.
type Lock struct {
	conn *pgx.Conn
	key  int64
	name string
	work *pgx.Conn // the fenced session, if any

	mu       sync.Mutex
	released bool

	// use serialises what talks on conn (Check, Probe until its answer
	// is read, Release): a pgx.Conn serves one caller at a time, and a
	// second would get "conn busy", which Check would report as the
	// lock lost.
	use sync.Mutex
}

// Acquire takes the advisory lock for name on conn, as NewSession's Lock
// does, and returns it as the concrete type. Once it has the lock it waits,
// within the same timeout, for every session an earlier holder fenced to
// let go of the fence (see Fence), and only then returns.
func Acquire(ctx context.Context, conn *pgx.Conn, name string, opts Options) (*Lock, error) {
	key := Key(name)
	start := time.Now()
	err := poll{
		opts: opts, what: "lock", name: name,
		try: func(ctx context.Context) (bool, error) {
			var ok bool
			err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok)
			return ok, err
		},
		holder: func(ctx context.Context) (*Holder, error) { return holder(ctx, conn, key) },
		timeout: func(waited time.Duration, h *Holder) error {
			return &TimeoutError{Name: name, Key: key, Waited: waited, Holder: h}
		},
	}.run(ctx)
	if err != nil {
		return nil, err
	}
	l := &Lock{conn: conn, key: key, name: name}
	if err := l.passFence(ctx, opts, time.Since(start)); err != nil {
		l.Release(context.WithoutCancel(ctx))
		return nil, err
	}
	return l, nil
}

// fenceKey is the advisory lock key of name's fence. The NUL cannot occur
// in a table name, so no tracking table's Key is a fenceKey.
func fenceKey(name string) int64 { return Key(name + "\x00fence") }

// Fence makes work, the session that runs what the lock protects, hold a
// shared session-level advisory lock on the fence key of the lock's name
// until Release or until work's session ends. A later holder of the lock
// passes the fence (Acquire) only when no session holds it: so when this
// lock's own session ends behind the run's back (terminated, its
// connection cut) while work is still in a transaction, that transaction
// may still commit, but always before the next holder reads anything; it
// cannot be lost in a race with the next holder. The run finds out that
// the lock is gone from Check, stops, and lets go of the fence.
func (l *Lock) Fence(ctx context.Context, work *pgx.Conn) error {
	// Shared: it never waits for another fenced session, only for a new
	// holder passing the fence at that moment (for a round trip).
	if _, err := work.Exec(ctx, "SELECT pg_advisory_lock_shared($1)", fenceKey(l.name)); err != nil {
		return fmt.Errorf("lock %s: fence the work session: %w", l.name, err)
	}
	l.mu.Lock()
	l.work = work
	l.mu.Unlock()
	return nil
}

// passFence waits, on the lock's connection, until no session holds the
// fence of an earlier holder: by polling an exclusive try, released at
// once, never by a blocking call (a blocked call holds a snapshot that
// CREATE INDEX CONCURRENTLY waits for). waited is the time the wait for
// the lock itself took, counted against the same timeout.
func (l *Lock) passFence(ctx context.Context, opts Options, waited time.Duration) error {
	fk := fenceKey(l.name)
	opts.Timeout = opts.timeout()
	if opts.Timeout > 0 {
		opts.Timeout = max(opts.Timeout-waited, time.Millisecond)
	}
	// The holder it waits for is a run whose lock session ended while its
	// work session went on: name that session.
	return poll{
		opts: opts, what: "lock fence", name: l.name,
		try: func(ctx context.Context) (bool, error) {
			var ok bool
			err := l.conn.QueryRow(ctx, "SELECT CASE WHEN pg_try_advisory_lock($1) THEN pg_advisory_unlock($1) ELSE false END", fk).Scan(&ok)
			return ok, err
		},
		holder: func(ctx context.Context) (*Holder, error) { return holder(ctx, l.conn, fk) },
		timeout: func(waited time.Duration, h *Holder) error {
			return &TimeoutError{Name: l.name, Key: l.key, Waited: waited, Holder: h, Fenced: true}
		},
	}.run(ctx)
}

// holder finds the session holding the advisory lock key in the current
// database. A bigint key shows in pg_locks split into classid (high half)
// and objid (low half), with objsubid 1.
func holder(ctx context.Context, conn *pgx.Conn, key int64) (*Holder, error) {
	const q = `
SELECT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''),
       coalesce(host(a.client_addr), ''), a.backend_start
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1
LIMIT 1`
	hi := int64(uint64(key) >> 32)
	lo := int64(uint64(key) & 0xffffffff)
	var h Holder
	var start *time.Time
	err := conn.QueryRow(ctx, q, hi, lo).Scan(&h.PID, &h.User, &h.ApplicationName, &h.ClientAddr, &start)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if start != nil {
		h.BackendStart = *start
	}
	return &h, nil
}

// Key returns the advisory lock key.
func (l *Lock) Key() int64 { return l.key }

// Check pings the lock's session: a session-level lock lasts as long as
// its session, so an answer means it is still held.
func (l *Lock) Check(ctx context.Context) error {
	l.use.Lock()
	defer l.use.Unlock()
	return l.lostIf(ctx, l.conn.Ping(ctx))
}

// Probe sends a protocol Sync on the lock's session, a ping the server
// answers with ReadyForQuery, and returns what reads that answer. The
// Sync is one write; the answer is usually there by the time it is read,
// so it is one read that does not wait either. Check and Release wait
// until the answer is read.
//
// The Sync is sent under a context of its own, not ctx: pgconn closes a
// connection whose read a cancelled context interrupts, and a run stopped
// while its work runs must not end the lock's session, and with it the
// lock, under that work. The answer is read under ctx or, when ctx has
// ended by then, within probeGrace.
func (l *Lock) Probe(ctx context.Context) func() error {
	l.use.Lock()
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := l.conn.PgConn().StartPipeline(pctx)
	p.SendPipelineSync()
	if err := p.Flush(); err != nil {
		// Flush has closed the pipeline and the connection with it.
		cancel()
		l.use.Unlock()
		return func() error { return l.lostIf(ctx, err) }
	}
	// Once: the answer unlocks use, and a second Unlock would be a fatal
	// error no caller could recover from.
	return sync.OnceValue(func() error {
		defer l.use.Unlock()
		defer cancel()
		if ctx.Err() == nil {
			defer context.AfterFunc(ctx, cancel)()
		} else {
			defer time.AfterFunc(probeGrace, cancel).Stop()
		}
		_, err := p.GetResults()
		if cerr := p.Close(); err == nil {
			err = cerr
		}
		return l.lostIf(ctx, err)
	})
}

// probeGrace bounds the read of a Probe's answer once the caller's
// context has ended: the answer to a Sync sent before the work began is
// there unless the lock's session is gone.
const probeGrace = time.Second

// lostIf says what err, from pinging the lock's session, means.
func (l *Lock) lostIf(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: the session holding the advisory lock for %s ended (%v)", ErrLost, l.name, err)
}

// Guard returns "": the session lock fences its work session instead.
func (l *Lock) Guard() string { return "" }

// Lost returns nil: the loss of a session lock is found by Check.
func (l *Lock) Lost() <-chan struct{} { return nil }

// Release lets the lock go. Closing the lock's connection releases it too;
// Release is for callers that keep the connection.
func (l *Lock) Release(ctx context.Context) error {
	l.mu.Lock()
	released, work := l.released, l.work
	l.released = true
	l.mu.Unlock()
	if released {
		return nil
	}
	if work != nil && !work.IsClosed() {
		// Closing work lets go of the fence too; this is for callers that
		// keep the connection.
		work.Exec(ctx, "SELECT pg_advisory_unlock_shared($1)", fenceKey(l.name))
	}
	l.use.Lock()
	defer l.use.Unlock()
	var ok bool
	if err := l.conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", l.key).Scan(&ok); err != nil {
		if l.conn.IsClosed() && ctx.Err() == nil {
			// The session, and the lock with it, ended before.
			return fmt.Errorf("unlock %s: %w: the session holding it ended (%v)", l.name, ErrLost, err)
		}
		return fmt.Errorf("unlock %s: %w", l.name, err)
	}
	if !ok {
		return fmt.Errorf("unlock %s: %w: lock was not held by this session", l.name, ErrLost)
	}
	return nil
}
