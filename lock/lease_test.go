package lock_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/lock"
)

var leaseTable = pgx.Identifier{"public", "pgmig_migrations_lock"}

func pool(t *testing.T, url, app string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestLeaseTimeoutNamesHolder(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	ctx := context.Background()
	holder, waiter := pool(t, url, "holder-app"), pool(t, url, "waiter-app")

	held, err := lock.AcquireLease(ctx, holder, leaseTable, "public.pgmig_migrations", lock.LeaseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var seen lock.Holder
	_, err = lock.AcquireLease(ctx, waiter, leaseTable, "public.pgmig_migrations", lock.LeaseOptions{
		Timeout: 300 * time.Millisecond,
		OnWait:  func(h lock.Holder) { seen = h },
	})
	var te *lock.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("AcquireLease on a held lease: got %v, want *TimeoutError", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("TimeoutError does not unwrap to context.DeadlineExceeded")
	}
	h := te.Holder
	if h == nil || h.Owner != held.Owner() || h.PID != os.Getpid() || h.ApplicationName != "holder-app" || h.User == "" || h.Host == "" {
		t.Fatalf("holder = %+v, want owner %s, pid %d, application holder-app", h, held.Owner(), os.Getpid())
	}
	if h.ExpiresIn <= 20*time.Second || h.ExpiresIn > lock.DefaultTTL {
		t.Errorf("holder's lease expires in %s, want about the default TTL", h.ExpiresIn)
	}
	if seen.Owner != held.Owner() {
		t.Errorf("OnWait saw %+v", seen)
	}
	for _, want := range []string{"lock lease for public.pgmig_migrations", "public.pgmig_migrations_lock", held.Owner(), `application_name "holder-app"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %q", err, want)
		}
	}

	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := held.Release(ctx); err != nil {
		t.Errorf("second Release: %v", err)
	}
	l, err := lock.AcquireLease(ctx, waiter, leaseTable, "public.pgmig_migrations", lock.LeaseOptions{Timeout: time.Second})
	if err != nil {
		t.Fatalf("AcquireLease after release: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// A holder that stops renewing (a killed process) blocks others only until
// its lease expires; then it is taken over.
func TestLeaseExpiredIsTakenOver(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	ctx := context.Background()
	dead := pool(t, url, "dead")
	const ttl = time.Second
	lost := make(chan error, 1)
	l1, err := lock.AcquireLease(ctx, dead, leaseTable, "n", lock.LeaseOptions{TTL: ttl, OnLost: func(err error) { lost <- err }})
	if err != nil {
		t.Fatal(err)
	}
	dead.Close() // renewals fail from now on, as if the process were frozen or gone

	start := time.Now()
	l2, err := lock.AcquireLease(ctx, pool(t, url, "next"), leaseTable, "n", lock.LeaseOptions{TTL: ttl, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("expired lease was not taken over: %v", err)
	}
	defer l2.Release(ctx)
	if w := time.Since(start); w < ttl/2 {
		t.Errorf("took over after %s, before the lease (TTL %s) could have expired", w, ttl)
	}
	// The frozen holder finds out by itself: it could not renew for a TTL.
	select {
	case err := <-lost:
		if !errors.Is(err, lock.ErrLeaseLost) {
			t.Errorf("OnLost got %v, want ErrLeaseLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the holder that could not renew never noticed it lost the lease")
	}
	if err := l1.Release(ctx); !errors.Is(err, lock.ErrLeaseLost) {
		t.Errorf("Release of a lost lease: %v, want ErrLeaseLost", err)
	}
}

// Renewal keeps a lease well past its TTL.
func TestLeaseRenewalKeepsItAlive(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	ctx := context.Background()
	const ttl = 600 * time.Millisecond
	l, err := lock.AcquireLease(ctx, pool(t, url, "holder"), leaseTable, "n", lock.LeaseOptions{TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	other := pool(t, url, "other")
	deadline := time.Now().Add(4 * ttl)
	for time.Now().Before(deadline) {
		if _, err := lock.AcquireLease(ctx, other, leaseTable, "n", lock.LeaseOptions{TTL: ttl, Timeout: -1}); err == nil {
			t.Fatal("a renewed lease was taken over")
		} else if !errors.As(err, new(*lock.TimeoutError)) {
			t.Fatal(err)
		}
		time.Sleep(ttl / 5)
	}
	if err := l.Err(); err != nil {
		t.Fatalf("lease lost: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// stallingDB passes statements through, but after the first renewal
// returns it holds the caller for stall, as a process stopped (SIGSTOP)
// or starved of CPU holds its renewal goroutine; it counts the renewals.
type stallingDB struct {
	*pgxpool.Pool
	stall    time.Duration
	renewals atomic.Int32
}

func (d *stallingDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := d.Pool.Exec(ctx, sql, args...)
	if strings.Contains(sql, "SET heartbeat_at") && d.renewals.Add(1) == 1 {
		time.Sleep(d.stall)
	}
	return tag, err
}

// A renewal that comes due after the lease may have expired is not sent:
// the loss is declared with the row left as it was, to expire on the
// server's clock. Sent late with what little time was left, a renewal
// that timed out after the server applied it left the row held while the
// run believed it lost, and the run then wrote rows under a lease it had
// given up (issue 16's stalled holder).
func TestLeaseRenewalDueTooLateIsNotSent(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	ctx := context.Background()
	const ttl = 600 * time.Millisecond
	db := &stallingDB{Pool: pool(t, url, "holder"), stall: 2 * ttl}
	lost := make(chan error, 1)
	l, err := lock.AcquireLease(ctx, db, leaseTable, "n", lock.LeaseOptions{TTL: ttl, OnLost: func(err error) { lost <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	select {
	case err := <-lost:
		if !errors.Is(err, lock.ErrLeaseLost) || !strings.Contains(err.Error(), "not renewed for") {
			t.Errorf("OnLost got %v, want a lease not renewed in time", err)
		}
	case <-time.After(10 * ttl):
		t.Fatal("a lease not renewed for twice its TTL was not declared lost")
	}
	if n := db.renewals.Load(); n != 1 {
		t.Errorf("%d renewals sent, want 1: the one due after the stall must not be sent", n)
	}
	var ms float64
	if err := db.QueryRow(ctx, `SELECT extract(epoch FROM expires_at - now()) * 1000 FROM public.pgmig_migrations_lock WHERE name = 'n'`).Scan(&ms); err != nil {
		t.Fatal(err)
	}
	if left := time.Duration(ms * float64(time.Millisecond)); left > 0 {
		t.Errorf("the lease row expires in %s: renewed after the stall", left)
	}
}

// A lease whose row is taken by someone else is reported lost.
func TestLeaseStolenIsLost(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	ctx := context.Background()
	p := pool(t, url, "holder")
	lost := make(chan error, 1)
	l, err := lock.AcquireLease(ctx, p, leaseTable, "n", lock.LeaseOptions{TTL: 900 * time.Millisecond, OnLost: func(err error) { lost <- err }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exec(ctx, `UPDATE public.pgmig_migrations_lock SET owner = 'thief' WHERE name = 'n'`); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		if !errors.Is(err, lock.ErrLeaseLost) || !strings.Contains(err.Error(), l.Owner()) {
			t.Errorf("OnLost got %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("stolen lease not noticed")
	}
	select {
	case <-l.Lost():
	default:
		t.Error("Lost() not closed")
	}
	if !errors.Is(l.Err(), lock.ErrLeaseLost) {
		t.Errorf("Err() = %v", l.Err())
	}
	if err := l.Release(ctx); !errors.Is(err, lock.ErrLeaseLost) {
		t.Errorf("Release: %v, want ErrLeaseLost", err)
	}
	var owner string
	if err := p.QueryRow(ctx, `SELECT owner FROM public.pgmig_migrations_lock WHERE name = 'n'`).Scan(&owner); err != nil || owner != "thief" {
		t.Errorf("Release of a lost lease touched the thief's row: owner %q, %v", owner, err)
	}
}

// Runs starting at once, on a database without the lease table, create it
// once and hold the lease one at a time.
func TestLeaseContendedExclusive(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	ctx := context.Background()
	table := pgx.Identifier{"new_schema", "t_lock"}
	var contenders []func() (func() error, error)
	for i := 0; i < 8; i++ {
		p := pool(t, url, "w")
		contenders = append(contenders, func() (func() error, error) {
			l, err := lock.AcquireLease(ctx, p, table, "new_schema.t", lock.LeaseOptions{Timeout: 30 * time.Second})
			if err != nil {
				return nil, err
			}
			return func() error { return l.Release(ctx) }, nil
		})
	}
	assertExclusive(t, "owners", contenders)
}

func TestLeaseCancelledWait(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	if _, err := lock.AcquireLease(context.Background(), pool(t, url, "a"), leaseTable, "n", lock.LeaseOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := lock.AcquireLease(ctx, pool(t, url, "b"), leaseTable, "n", lock.LeaseOptions{Timeout: time.Minute})
	if err == nil || errors.As(err, new(*lock.TimeoutError)) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled wait: got %v, want the context's error", err)
	}
}

func TestLeaseTableName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"default", "pgmig_migrations", "pgmig_migrations_lock"},
		{"longest", strings.Repeat("a", 63), strings.Repeat("a", 58) + "_lock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := lock.LeaseTableName(tc.in); got != tc.want {
				t.Errorf("LeaseTableName(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// Two direct connections each have a backend of their own: no pooler.
func TestDetectPoolerDirect(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	ctx := context.Background()
	a, b := connect(t, url, "a"), connect(t, url, "b")
	if err := lock.DetectPooler(ctx, a, b, "public.t"); err != nil {
		t.Fatalf("direct connections: %v", err)
	}
	if proxied, err := lock.Proxied(ctx, a); err != nil || proxied {
		t.Fatalf("Proxied on a direct connection = %v, %v", proxied, err)
	}
}
