package lock

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/jackc/pgx/v5"
)

// Options tunes Acquire. The zero value works.
type Options struct {
	// Timeout bounds the wait for a lock another session holds. Zero means
	// 5 minutes; a negative value means a single try.
	Timeout time.Duration
	// Logger receives a line when the lock is busy and when it is taken.
	// Nil discards.
	Logger *slog.Logger
	// OnWait, when set, is called once, when the first try finds the lock
	// held, with the holder if it could be identified.
	OnWait func(Holder)
}

// DefaultTimeout is the wait Acquire allows when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Minute

// Holder describes the session holding a lock. For a lease (AcquireLease)
// PID is the holding process's pid on Host, not a server backend's, and
// Owner and ExpiresIn are set.
type Holder struct {
	PID             int
	User            string
	ApplicationName string
	ClientAddr      string    // empty for a unix-socket client
	BackendStart    time.Time // when the holder's session began

	Owner     string        // lease only: the owner id recorded in the lease row
	Host      string        // lease only: the holding process's host name
	ExpiresIn time.Duration // lease only: time left until the lease lapses, by the server's clock
}

func (h Holder) String() string {
	if h.Owner != "" {
		return fmt.Sprintf("pid %d on host %q (user %q, application_name %q, lease owner %q, expires in %s unless renewed)",
			h.PID, h.Host, h.User, h.ApplicationName, h.Owner, h.ExpiresIn.Round(time.Millisecond))
	}
	s := fmt.Sprintf("pid %d (user %q, application_name %q", h.PID, h.User, h.ApplicationName)
	if h.ClientAddr != "" {
		s += ", client " + h.ClientAddr
	}
	return s + ")"
}

// TimeoutError reports a lock that was not acquired in time. It unwraps to
// context.DeadlineExceeded.
type TimeoutError struct {
	Name   string // what the lock protects: the tracking table's qualified name
	Key    int64  // the advisory lock key
	Table  string // lease only: the lease table; empty for the advisory lock
	Waited time.Duration
	Holder *Holder // nil when the holder could not be identified (it let go meanwhile)
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("advisory lock for %s (key %d) not acquired within %s", e.Name, e.Key, e.Waited.Round(time.Millisecond))
	if e.Table != "" {
		msg = fmt.Sprintf("lock lease for %s (table %s) not acquired within %s", e.Name, e.Table, e.Waited.Round(time.Millisecond))
	}
	if e.Holder != nil {
		msg += "; held by " + e.Holder.String()
	}
	return msg
}

func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// Key derives the advisory lock key for name: the first eight bytes of its
// SHA-256, so that every pgmig build and every tool that follows this
// package computes the same key for the same tracking table.
func Key(name string) int64 {
	sum := sha256.Sum256([]byte("pgmig:" + name))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// Lock is a held advisory lock.
type Lock struct {
	conn *pgx.Conn
	key  int64
	name string
}

// Acquire takes the advisory lock for name on conn, waiting up to
// opts.Timeout while another session holds it. conn must be a connection
// of its own for the whole time the lock is held: the lock is tied to its
// session.
func Acquire(ctx context.Context, conn *pgx.Conn, name string, opts Options) (*Lock, error) {
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	key := Key(name)
	start := time.Now()

	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 25 * time.Millisecond
	b.MaxInterval = time.Second
	b.MaxElapsedTime = 0 // the deadline below bounds the wait
	b.Reset()

	waited := false
	for {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		if ok {
			if waited {
				logger.Info("lock acquired", "lock", name, "waited", time.Since(start))
			}
			return &Lock{conn: conn, key: key, name: name}, nil
		}
		elapsed := time.Since(start)
		if !waited {
			waited = true
			h, _ := holder(ctx, conn, key)
			if h != nil {
				logger.Info("waiting for lock", "lock", name, "holder_pid", h.PID, "holder_user", h.User, "holder_application", h.ApplicationName)
				if opts.OnWait != nil {
					opts.OnWait(*h)
				}
			} else if opts.OnWait != nil {
				opts.OnWait(Holder{})
			}
		}
		if timeout < 0 || elapsed >= timeout {
			h, err := holder(ctx, conn, key)
			if err != nil && ctx.Err() != nil {
				return nil, fmt.Errorf("lock %s: %w", name, ctx.Err())
			}
			return nil, &TimeoutError{Name: name, Key: key, Waited: elapsed, Holder: h}
		}
		wait := b.NextBackOff()
		if rest := timeout - elapsed; wait > rest {
			wait = rest
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
	}
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

// Release lets the lock go. Closing the lock's connection releases it too;
// Release is for callers that keep the connection.
func (l *Lock) Release(ctx context.Context) error {
	var ok bool
	if err := l.conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", l.key).Scan(&ok); err != nil {
		return fmt.Errorf("unlock %s: %w", l.name, err)
	}
	if !ok {
		return fmt.Errorf("unlock %s: lock was not held by this session", l.name)
	}
	return nil
}

// sleep waits for d, or until ctx is done, and returns ctx's error then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
