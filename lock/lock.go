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

	"github.com/pgmig/pgmig/internal/wait"
)

// Locker takes the lock that lets one run at a time change the history of
// one tracking table. NewSession (a session advisory lock) and NewLease (a
// lease row, for connection poolers) make the two kinds.
type Locker interface {
	// Lock takes the lock, waiting while another run holds it, up to the
	// timeout the Locker was made with; a *TimeoutError when it runs out.
	Lock(ctx context.Context) (Held, error)
}

// Held is a lock this run holds. Its methods are safe for concurrent use.
type Held interface {
	// Check returns an error matching ErrLost when the lock is found lost,
	// else nil. It may take a round trip to the server.
	Check(ctx context.Context) error
	// Probe is Check in two halves: it sends the question and returns
	// the function that reads the answer, which the caller must call;
	// Check and Release wait for it, and a second call returns the
	// first's answer. In between the caller may run
	// the work the check guards, so the check costs neither a round trip
	// of its own nor a goroutine to overlap one.
	Probe(ctx context.Context) (answer func() error)
	// Lost returns a channel closed when the lock is found lost while held
	// (a lease noticing it from its renewals); nil when loss is only found
	// by Check.
	Lost() <-chan struct{}
	// Release lets the lock go. It returns an error matching ErrLost when
	// the lock was lost meanwhile. Calls after the first do nothing.
	Release(ctx context.Context) error
	// Guard returns a SQL boolean expression, true only while this lock is
	// held, for the statements that record what the lock protects: a row
	// written WHERE Guard() is written only under the lock, and evaluating
	// it keeps any new holder from taking the lock until the transaction
	// that evaluated it ends. So a transaction that wrote its row commits
	// before anyone else can take the lock, and a transaction that finds
	// the lock gone writes nothing. It is "" for a lock that needs no
	// guard: a session lock fences its work session instead (Lock.Fence).
	Guard() string
}

// ErrLost is matched (errors.Is) by the error of a lock that went away
// while held: the session holding the advisory lock ended, or the lease
// was taken over or not renewed in time. Another run may be migrating.
var ErrLost = errors.New("the migration lock was lost")

// Options tunes how a Locker waits. The zero value works.
type Options struct {
	// Timeout bounds the wait for a lock another run holds. Zero means
	// DefaultTimeout; a negative value means a single try.
	Timeout time.Duration
	// Logger receives a line when the lock is busy and when it is taken.
	// Nil discards.
	Logger *slog.Logger
	// OnWait, when set, is called once, when the first try finds the lock
	// held, with the holder if it could be identified.
	OnWait func(Holder)
}

// DefaultTimeout is the wait for a busy lock when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Minute

func (o Options) timeout() time.Duration {
	if o.Timeout == 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

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
	// Fenced says the lock itself was taken, but an earlier holder's work
	// session, still alive after that holder's lock session ended, did not
	// let go of the fence in time (see Lock.Fence); Holder is that session.
	Fenced bool
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("advisory lock for %s (key %d) not acquired within %s", e.Name, e.Key, e.Waited.Round(time.Millisecond))
	if e.Table != "" {
		msg = fmt.Sprintf("lock lease for %s (table %s) not acquired within %s", e.Name, e.Table, e.Waited.Round(time.Millisecond))
	}
	if e.Fenced {
		msg = fmt.Sprintf("advisory lock for %s (key %d) taken, but the session of an earlier run that lost it did not end within %s", e.Name, e.Key, e.Waited.Round(time.Millisecond))
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

// poll is the one wait loop of both kinds of lock: it calls try until it
// takes the lock, with exponential backoff, asking who holds it after each
// failed try so that OnWait, the log and a timeout can name the holder. A
// holder whose lease lapses sooner than the next backoff is tried again
// right then. what ("lock", "lock lease") prefixes the log lines.
type poll struct {
	opts    Options
	what    string
	name    string
	try     func(context.Context) (bool, error)
	holder  func(context.Context) (*Holder, error)
	timeout func(waited time.Duration, h *Holder) error
}

func (p poll) run(ctx context.Context) error {
	timeout := p.opts.timeout()
	logger := p.opts.logger()
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 25 * time.Millisecond
	b.MaxInterval = time.Second
	b.MaxElapsedTime = 0 // the deadline below bounds the wait
	b.Reset()
	start := time.Now()
	var last *Holder // the holder seen last
	for tries := 0; ; tries++ {
		ok, err := p.try(ctx)
		if err != nil {
			return fmt.Errorf("%s %s: %w", p.what, p.name, err)
		}
		if ok {
			switch {
			case last != nil && last.Owner != "" && last.ExpiresIn <= 0:
				logger.Warn("took over an expired "+p.what, "lock", p.name, "previous_owner", last.Owner)
			case tries > 0:
				logger.Info(p.what+" acquired", "lock", p.name, "waited", time.Since(start))
			}
			return nil
		}
		if h, err := p.holder(ctx); err == nil {
			last = h
		}
		elapsed := time.Since(start)
		if tries == 0 {
			h := Holder{}
			if last != nil {
				h = *last
				logger.Info("waiting for "+p.what, "lock", p.name, "holder_pid", h.PID, "holder_user", h.User,
					"holder_application", h.ApplicationName, "holder_owner", h.Owner)
			}
			if p.opts.OnWait != nil {
				p.opts.OnWait(h)
			}
		}
		if timeout < 0 || elapsed >= timeout {
			if ctx.Err() != nil {
				return fmt.Errorf("%s %s: %w", p.what, p.name, ctx.Err())
			}
			return p.timeout(elapsed, last)
		}
		pause := b.NextBackOff()
		if last != nil && last.ExpiresIn > 0 && last.ExpiresIn < pause {
			pause = last.ExpiresIn + 10*time.Millisecond
		}
		if rest := timeout - elapsed; pause > rest {
			pause = rest
		}
		if err := wait.Sleep(ctx, pause); err != nil {
			return fmt.Errorf("%s %s: %w", p.what, p.name, err)
		}
	}
}
