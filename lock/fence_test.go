package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/lock"
)

// When a holder's lock session ends behind its back while its work
// session is still in a transaction, the next holder gets the lock only
// once the work session lets go of the fence: the transaction may still
// commit, but never after the next holder started reading.
func TestSessionFenceHoldsOffNextHolder(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t, "CREATE TABLE t (v int)")
	ctx := context.Background()
	lockA, workA := connect(t, url, "a-lock"), connect(t, url, "a-work")
	admin := connect(t, url, "admin")
	if _, err := lock.NewSession(lockA, workA, "public.t", lock.Options{}).Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := workA.Exec(ctx, "BEGIN; INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", int64(lockA.PgConn().PID())); err != nil {
		t.Fatal(err)
	}

	// A waiter with a short timeout is refused, naming the fenced session.
	_, err := lock.Acquire(ctx, connect(t, url, "b-lock"), "public.t", lock.Options{Timeout: 300 * time.Millisecond})
	var te *lock.TimeoutError
	if !errors.As(err, &te) || !te.Fenced || te.Holder == nil || te.Holder.PID != int(workA.PgConn().PID()) {
		t.Fatalf("Acquire while the old holder's work session is fenced: %v (%+v), want a fenced TimeoutError naming pid %d", err, te, workA.PgConn().PID())
	}
	// The lock itself was let go again, or the next try could not take it.
	lockB := connect(t, url, "b-lock")
	got := takeOver(ctx, lock.NewSession(lockB, nil, "public.t", lock.Options{Timeout: 20 * time.Second}), lockB)
	wantHeldOff(t, got, 500*time.Millisecond, "Acquire returned while the old work session was in its transaction")
	if _, err := workA.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	wantHeldOff(t, got, 300*time.Millisecond, "Acquire returned while the old work session still held the fence")
	workA.Close(ctx) // the run stops once it notices: its work session goes
	wantTakenOver(t, got, 5*time.Second, "Acquire did not return after the fenced session ended")
}

// Release lets go of the fence as well, for callers that keep the work
// connection: the next holder does not wait for it.
func TestSessionReleaseLiftsFence(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	ctx := context.Background()
	work := connect(t, url, "work")
	held, err := lock.NewSession(connect(t, url, "lock"), work, "n", lock.Options{}).Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Acquire(ctx, connect(t, url, "next"), "n", lock.Options{Timeout: -1}); err != nil {
		t.Fatalf("Acquire after Release, work connection kept: %v", err)
	}
}

// A lease whose holder's transaction evaluated Guard cannot be taken over
// until that transaction ends, even once it expired; a Guard evaluated
// after a takeover is false.
func TestLeaseGuardHoldsOffTakeover(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t, "CREATE TABLE t (v int)")
	ctx := context.Background()
	p := pool(t, url, "a")
	const ttl = 600 * time.Millisecond
	held, err := lock.NewLease(p, leaseTable, "n", lock.LeaseOptions{TTL: ttl}).Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	guard := held.Guard()
	tx := connect(t, url, "a-work")
	var ok bool
	if _, err := tx.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, "INSERT INTO t SELECT 1 WHERE "+guard+" RETURNING "+guard, pgx.QueryExecModeSimpleProtocol).Scan(&ok); err != nil || !ok {
		t.Fatalf("guard of a held lease: %v, %v", ok, err)
	}
	p.Close() // renewals fail from now on: the lease expires within a TTL

	next := pool(t, url, "b")
	start := time.Now()
	got := takeOver(ctx, lock.NewLease(next, leaseTable, "n", lock.LeaseOptions{TTL: ttl, Timeout: 20 * time.Second}), next)
	wantHeldOff(t, got, 3*ttl, "the lease was taken over while its holder's guarded transaction was open")
	if _, err := tx.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	wantTakenOver(t, got, 10*time.Second, "the lease was not taken over after its holder's transaction ended")
	if d := time.Since(start); d < 3*ttl {
		t.Errorf("taken over after %s", d)
	}
	if err := tx.QueryRow(ctx, "SELECT "+guard, pgx.QueryExecModeSimpleProtocol).Scan(&ok); err != nil || ok {
		t.Fatalf("guard after the takeover: %v, %v; want false", ok, err)
	}
}

// takeOver has next take the lock in the background and, once it holds
// it, read t through db. What a new holder reads first is the old holder's
// commit: t's one row must be there, or it read before the old holder's
// transaction ended. The channel gets the outcome once next let go again.
func takeOver(ctx context.Context, next lock.Locker, db interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) <-chan error {
	got := make(chan error, 1)
	go func() {
		l, err := next.Lock(ctx)
		if err == nil {
			var n int
			err = db.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
			if err == nil && n != 1 {
				err = errors.New("the new holder read before the old holder's transaction ended")
			}
			l.Release(ctx)
		}
		got <- err
	}()
	return got
}

// wantHeldOff fails the test when the takeover reporting on got ends
// within d: the old holder must still hold it off.
func wantHeldOff(t *testing.T, got <-chan error, d time.Duration, failure string) {
	t.Helper()
	select {
	case err := <-got:
		t.Fatalf("%s: %v", failure, err)
	case <-time.After(d):
	}
}

// wantTakenOver fails the test unless the takeover reporting on got
// succeeds within d.
func wantTakenOver(t *testing.T, got <-chan error, d time.Duration, failure string) {
	t.Helper()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(d):
		t.Fatal(failure)
	}
}
