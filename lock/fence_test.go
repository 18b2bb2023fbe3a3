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
	got := make(chan error, 1)
	go func() {
		l, err := lock.Acquire(ctx, lockB, "public.t", lock.Options{Timeout: 20 * time.Second})
		if err == nil {
			var n int
			// What a new holder reads first: the old holder's commit.
			err = lockB.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
			if err == nil && n != 1 {
				err = errors.New("the new holder read before the old holder's transaction ended")
			}
			l.Release(ctx)
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Acquire returned while the old work session was in its transaction: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	if _, err := workA.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		t.Fatalf("Acquire returned while the old work session still held the fence: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	workA.Close(ctx) // the run stops once it notices: its work session goes
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Acquire did not return after the fenced session ended")
	}
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
	got := make(chan error, 1)
	start := time.Now()
	go func() {
		l, err := lock.AcquireLease(ctx, next, leaseTable, "n", lock.LeaseOptions{TTL: ttl, Timeout: 20 * time.Second})
		if err == nil {
			var n int
			err = next.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
			if err == nil && n != 1 {
				err = errors.New("took the lease over before the holder's transaction ended")
			}
			l.Release(ctx)
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("the lease was taken over while its holder's guarded transaction was open: %v", err)
	case <-time.After(3 * ttl):
	}
	if _, err := tx.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the lease was not taken over after its holder's transaction ended")
	}
	if d := time.Since(start); d < 3*ttl {
		t.Errorf("taken over after %s", d)
	}
	if err := tx.QueryRow(ctx, "SELECT "+guard, pgx.QueryExecModeSimpleProtocol).Scan(&ok); err != nil || ok {
		t.Fatalf("guard after the takeover: %v, %v; want false", ok, err)
	}
}
