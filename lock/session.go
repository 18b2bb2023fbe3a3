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
// (Key(name)) on conn. conn must be a connection of its own for the whole
// time the lock is held: the lock is tied to its session, and goes when
// the session ends, however it ends.
func NewSession(conn *pgx.Conn, name string, opts Options) Locker {
	return sessionLocker{conn: conn, name: name, opts: opts}
}

type sessionLocker struct {
	conn *pgx.Conn
	name string
	opts Options
}

func (s sessionLocker) Lock(ctx context.Context) (Held, error) {
	return Acquire(ctx, s.conn, s.name, s.opts)
}

// Lock is a held advisory lock.
type Lock struct {
	conn *pgx.Conn
	key  int64
	name string

	mu       sync.Mutex
	released bool
}

// Acquire takes the advisory lock for name on conn, as NewSession's Lock
// does, and returns it as the concrete type.
func Acquire(ctx context.Context, conn *pgx.Conn, name string, opts Options) (*Lock, error) {
	key := Key(name)
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
	return &Lock{conn: conn, key: key, name: name}, nil
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
	if err := l.conn.Ping(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: the session holding the advisory lock for %s ended (%v)", ErrLost, l.name, err)
	}
	return nil
}

// Lost returns nil: the loss of a session lock is found by Check.
func (l *Lock) Lost() <-chan struct{} { return nil }

// Release lets the lock go. Closing the lock's connection releases it too;
// Release is for callers that keep the connection.
func (l *Lock) Release(ctx context.Context) error {
	l.mu.Lock()
	released := l.released
	l.released = true
	l.mu.Unlock()
	if released {
		return nil
	}
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
