package lock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/internal/wait"
)

// DefaultTTL is a lease's time to live when LeaseOptions.TTL is zero.
const DefaultTTL = 30 * time.Second

// ErrLeaseLost is matched (errors.Is) by the error of a lease that was
// lost while held: another owner took the row over after it expired, it
// was deleted, or it could not be renewed for a whole time to live. It
// matches ErrLost too.
var ErrLeaseLost error = leaseLost{}

type leaseLost struct{}

func (leaseLost) Error() string        { return "lock lease lost" }
func (leaseLost) Is(target error) bool { return target == ErrLost }

// simple makes every lease statement go over the simple protocol: no
// server-side prepared statement, so a transaction-pooling connection
// pooler (PgBouncer) may hand each statement to any server connection.
const simple = pgx.QueryExecModeSimpleProtocol

// DB runs a lease's statements, each in a transaction of its own.
// *pgxpool.Pool satisfies it. A *pgx.Conn does too, but the lease renews
// itself from a goroutine of its own, so the connection must not be used
// by anything else while the lease is held.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// LeaseOptions tunes AcquireLease. The zero value works.
type LeaseOptions struct {
	// Timeout bounds the wait for a lease another owner holds, as
	// Options.Timeout does.
	Timeout time.Duration
	// TTL is how long the lease lasts unless renewed; it is renewed every
	// TTL/3. A holder killed without releasing it blocks others for at most
	// TTL. Zero means DefaultTTL (30s).
	TTL time.Duration
	// Logger receives a line when the lease is busy, taken over, lost or
	// not renewed. Nil discards.
	Logger *slog.Logger
	// OnWait, when set, is called once, when the first try finds the lease
	// held, with the holder if it could be identified.
	OnWait func(Holder)
	// OnLost, when set, is called once, from the renewal goroutine, when
	// the lease is lost (the error matches ErrLeaseLost). The holder must
	// stop what the lease protects, typically by cancelling a context.
	OnLost func(error)
}

// Lease is a held lock lease: a row of the lease table naming this owner,
// renewed in the background until Release. It is safe for concurrent use.
type Lease struct {
	db     DB
	table  string // quoted, for SQL
	tname  string // for messages
	name   string
	owner  string
	ttl    time.Duration
	log    *slog.Logger
	onLost func(error)

	cancel   context.CancelFunc // stops the renewal and any statement it runs
	done     chan struct{}      // closed when the renewal goroutine ends
	lost     chan struct{}      // closed when the lease is found lost
	mu       sync.Mutex
	err      error // why the lease was lost
	released bool
}

// LeaseTableName is the lease table kept next to a tracking table: its
// name with "_lock" appended, shortened to PostgreSQL's 63-byte limit.
func LeaseTableName(tracking string) string {
	const suffix = "_lock"
	if len(tracking)+len(suffix) > 63 {
		tracking = tracking[:63-len(suffix)]
	}
	return tracking + suffix
}

// NewOwner returns an owner id for a lease: host name, process id and a
// random part, so that two runs never share one.
func NewOwner() string {
	host, _ := os.Hostname()
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// NewLease returns a Locker taking the lease on name in the lease table
// table, as AcquireLease does.
func NewLease(db DB, table pgx.Identifier, name string, opts LeaseOptions) Locker {
	return leaseLocker{db: db, table: table, name: name, opts: opts}
}

type leaseLocker struct {
	db    DB
	table pgx.Identifier
	name  string
	opts  LeaseOptions
}

func (l leaseLocker) Lock(ctx context.Context) (Held, error) {
	return AcquireLease(ctx, l.db, l.table, l.name, l.opts)
}

// AcquireLease takes the lease on name in the lease table table (schema,
// table; created, with its schema, when missing), waiting up to
// opts.Timeout while another owner holds it unexpired. An expired lease,
// left by a process that died holding it, is taken over. Expiry is judged
// by the server's clock only.
//
// Each statement runs in a transaction of its own over the simple
// protocol, so the lease works through a transaction-pooling connection
// pooler, where a session advisory lock does not. The lease renews itself
// every TTL/3 until Release; call Release when done, even after a loss.
func AcquireLease(ctx context.Context, db DB, table pgx.Identifier, name string, opts LeaseOptions) (*Lease, error) {
	ttl := opts.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < 0 {
		return nil, fmt.Errorf("lease %s: negative time to live %s", name, ttl)
	}
	wait := Options{Timeout: opts.Timeout, Logger: opts.Logger, OnWait: opts.OnWait}
	l := &Lease{
		db: db, table: table.Sanitize(), tname: strings.Join(table, "."), name: name,
		owner: NewOwner(), ttl: ttl, log: wait.logger(), onLost: opts.OnLost,
		done: make(chan struct{}), lost: make(chan struct{}),
	}
	if err := ensureLeaseTable(ctx, db, table); err != nil {
		return nil, fmt.Errorf("lease %s: %w", name, err)
	}
	host, _ := os.Hostname()
	// name = excluded.name sets the key column to itself on purpose: an
	// update naming a key column locks the row FOR UPDATE, which waits for
	// the FOR KEY SHARE lock that Guard takes in the holder's transaction,
	// so an expired lease is never taken over while its holder's last
	// transaction is still open. The holder's renewal, which names no key
	// column, locks FOR NO KEY UPDATE and does not wait for it.
	//
	// The values are literals, and SET LOCAL shares the one implicit
	// transaction, so the try is one simple query: fit for a pooler.
	acquireSQL := func(lockTimeout time.Duration) string {
		return fmt.Sprintf(`SET LOCAL lock_timeout = '%dms';
INSERT INTO %s AS l
  (name, owner, pid, host, username, application_name, acquired_at, heartbeat_at, expires_at)
VALUES (%s, %s, %d, %s, current_user, current_setting('application_name'), now(), now(), now() + %d * interval '1 millisecond')
ON CONFLICT (name) DO UPDATE SET name = excluded.name, owner = excluded.owner, pid = excluded.pid, host = excluded.host,
  username = excluded.username, application_name = excluded.application_name,
  acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at
WHERE l.expires_at < now()`, lockTimeout.Milliseconds(), l.table, quote(name), quote(l.owner), os.Getpid(), quote(host), ttl.Milliseconds())
	}
	start := time.Now()
	deadline := start.Add(wait.timeout())
	err := poll{
		opts: wait, what: "lock lease", name: name,
		try: func(ctx context.Context) (bool, error) {
			// Waiting for a holder's open transaction counts against the
			// timeout, and never blocks past it.
			lt := min(max(time.Until(deadline), 10*time.Millisecond), time.Second)
			tag, err := db.Exec(ctx, acquireSQL(lt), simple)
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "55P03" {
				return false, nil // the holder's transaction is still open
			}
			return tag.RowsAffected() == 1, err
		},
		holder: l.holder,
		timeout: func(waited time.Duration, h *Holder) error {
			return &TimeoutError{Name: name, Key: Key(name), Table: l.tname, Waited: waited, Holder: h}
		},
	}.run(ctx)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	go l.renew(rctx)
	return l, nil
}

// holder reads the lease row of l.name; nil, nil when there is none.
func (l *Lease) holder(ctx context.Context) (*Holder, error) {
	var h Holder
	var ms float64
	err := l.db.QueryRow(ctx, `SELECT owner, pid, host, username, application_name,
  extract(epoch FROM expires_at - now()) * 1000 FROM `+l.table+` WHERE name = $1`, simple, l.name).
		Scan(&h.Owner, &h.PID, &h.Host, &h.User, &h.ApplicationName, &ms)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	h.ExpiresIn = time.Duration(ms * float64(time.Millisecond))
	return &h, nil
}

// renew extends the lease every TTL/3 until ctx ends. A renewal that finds
// another owner's row, or none, means the lease is lost; so does a whole
// TTL without a successful renewal, since by then it may have expired and
// been taken over.
func (l *Lease) renew(ctx context.Context) {
	defer close(l.done)
	interval := l.ttl / 3
	retry := max(l.ttl/10, 10*time.Millisecond)
	renewSQL := `UPDATE ` + l.table + ` SET heartbeat_at = now(), expires_at = now() + $3 * interval '1 millisecond'
WHERE name = $1 AND owner = $2`
	last := time.Now() // before the acquiring statement returned: errs on the safe side
	pause := interval
	for {
		if wait.Sleep(ctx, pause) != nil {
			return
		}
		if since := time.Since(last); since+retry >= l.ttl {
			// Too late to renew: the sleep overran (the process was
			// stopped, or starved of CPU). A renewal sent now could only
			// get the moments before the lease may expire, and one that
			// timed out after the server applied it would leave the row
			// held while this run believes it lost. Declare the loss
			// without touching the row: the server's copy then expires
			// on its own clock, as the other runs expect.
			l.lose(fmt.Errorf("%w: %s: not renewed for %s (the renewal was due after %s), so it may have expired and been taken over",
				ErrLeaseLost, l.name, since.Round(time.Millisecond), interval.Round(time.Millisecond)))
			return
		}
		sent := time.Now()
		sctx, cancel := context.WithTimeout(ctx, l.ttl-time.Since(last))
		tag, err := l.db.Exec(sctx, renewSQL, simple, l.name, l.owner, l.ttl.Milliseconds())
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && tag.RowsAffected() == 1:
			last, pause = sent, interval
		case err == nil:
			l.lose(fmt.Errorf("%w: %s: the row in %s no longer names this run (%s); another run took it over after it expired, or it was deleted",
				ErrLeaseLost, l.name, l.tname, l.owner))
			return
		default:
			if time.Since(last)+retry >= l.ttl {
				l.lose(fmt.Errorf("%w: %s: not renewed for %s, so it may have expired and been taken over: %w",
					ErrLeaseLost, l.name, time.Since(last).Round(time.Millisecond), err))
				return
			}
			l.log.Warn("renew lock lease", "lock", l.name, "err", err)
			pause = retry
		}
	}
}

func (l *Lease) lose(err error) {
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
	close(l.lost)
	l.log.Error("lock lease lost", "lock", l.name, "err", err)
	if l.onLost != nil {
		l.onLost(err)
	}
}

// Owner returns the owner id written in the lease row.
func (l *Lease) Owner() string { return l.owner }

// Lost returns a channel closed when the lease is found lost.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Guard returns an expression true while the lease row names this owner
// and has not expired by the server's clock, locking the row FOR KEY SHARE
// (see Held.Guard): a new owner can take an expired lease over only once
// the transaction that evaluated Guard has ended.
func (l *Lease) Guard() string {
	return "EXISTS (SELECT 1 FROM " + l.table + " WHERE name = " + quote(l.name) + " AND owner = " + quote(l.owner) +
		" AND expires_at > clock_timestamp() FOR KEY SHARE)"
}

// quote quotes s as an E'…' literal, whose meaning does not depend on
// standard_conforming_strings.
func quote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `''`)
	return "E'" + s + "'"
}

// Check returns why the lease was lost (matching ErrLeaseLost and
// ErrLost), or nil; it asks the server nothing.
func (l *Lease) Check(context.Context) error { return l.Err() }

// Probe returns Err, to be called when the answer is wanted: a lease
// knows its loss from its renewals, and later is fresher.
func (l *Lease) Probe(context.Context) func() error { return l.Err }

// Err returns why the lease was lost (matching ErrLeaseLost), or nil.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Release stops the renewal and deletes the lease row if it still names
// this owner. It returns the loss error when the lease was lost, and is a
// no-op after the first call.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	released := l.released
	l.released = true
	l.mu.Unlock()
	if released {
		return nil
	}
	l.cancel()
	<-l.done
	if err := l.Err(); err != nil {
		return err
	}
	tag, err := l.db.Exec(ctx, `DELETE FROM `+l.table+` WHERE name = $1 AND owner = $2`, simple, l.name, l.owner)
	if err != nil {
		return fmt.Errorf("release lease %s: %w", l.name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("release lease %s: %w: the row in %s no longer names this run", l.name, ErrLeaseLost, l.tname)
	}
	return nil
}

// ensureLeaseTable creates the lease table, and its schema, when missing.
// Runs starting together may race to create it; the loser's error is
// dropped once the table is seen to exist.
func ensureLeaseTable(ctx context.Context, db DB, table pgx.Identifier) error {
	ident := table.Sanitize()
	exists := func() (bool, error) {
		var reg *string
		err := db.QueryRow(ctx, "SELECT to_regclass($1)::text", simple, ident).Scan(&reg)
		return reg != nil, err
	}
	ddl := `CREATE TABLE IF NOT EXISTS ` + ident + ` (
  name             text PRIMARY KEY,
  owner            text NOT NULL,
  pid              integer NOT NULL,
  host             text NOT NULL,
  username         text NOT NULL DEFAULT current_user,
  application_name text NOT NULL DEFAULT '',
  acquired_at      timestamptz NOT NULL DEFAULT now(),
  heartbeat_at     timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL
);
COMMENT ON TABLE ` + ident + ` IS 'pgmig lock leases (lock mode table): one row per locked tracking table'`
	for attempt := 1; ; attempt++ {
		ok, err := exists()
		if err != nil || ok {
			return err
		}
		stmt := ddl
		if len(table) == 2 {
			var schema bool
			if err := db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", simple, table[0]).Scan(&schema); err != nil {
				return fmt.Errorf("create lease table %s: %w", strings.Join(table, "."), err)
			}
			if !schema {
				// Only when missing: CREATE SCHEMA checks the CREATE
				// privilege before it notices the schema exists.
				stmt = `CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{table[0]}.Sanitize() + ";\n" + ddl
			}
		}
		_, err = db.Exec(ctx, stmt)
		if err == nil {
			return nil
		}
		var pe *pgconn.PgError
		if attempt < 3 && errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "42P07" || pe.Code == "42P06") {
			// Another run created the table or its schema at the same
			// moment: look again.
			continue
		}
		return fmt.Errorf("create lease table %s: %w", strings.Join(table, "."), err)
	}
}

// String describes the lease for logs.
func (l *Lease) String() string {
	return l.name + " (owner " + strconv.Quote(l.owner) + ", table " + l.tname + ")"
}
