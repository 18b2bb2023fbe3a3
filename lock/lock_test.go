package lock_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/lock"
)

func connect(t *testing.T, url, app string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = app
	c, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestTimeoutNamesHolder(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	ctx := context.Background()
	holderConn := connect(t, url, "holder-app")
	waiterConn := connect(t, url, "waiter-app")

	held, err := lock.Acquire(ctx, holderConn, "public.t", lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var sawWait atomic.Bool
	_, err = lock.Acquire(ctx, waiterConn, "public.t", lock.Options{
		Timeout: 300 * time.Millisecond,
		OnWait:  func(lock.Holder) { sawWait.Store(true) },
	})
	var te *lock.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("Acquire on a held lock: got %v, want *TimeoutError", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("TimeoutError does not unwrap to context.DeadlineExceeded")
	}
	if te.Holder == nil || te.Holder.PID != int(holderConn.PgConn().PID()) || te.Holder.ApplicationName != "holder-app" || te.Holder.User == "" {
		t.Fatalf("holder = %+v, want pid %d, application holder-app", te.Holder, holderConn.PgConn().PID())
	}
	if te.Waited < 300*time.Millisecond {
		t.Errorf("waited %s, less than the timeout", te.Waited)
	}
	if !sawWait.Load() {
		t.Errorf("OnWait was not called")
	}

	// Once released, the waiter gets it.
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := lock.Acquire(ctx, waiterConn, "public.t", lock.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestClosedConnectionReleases(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	ctx := context.Background()
	c1 := connect(t, url, "a")
	if _, err := lock.Acquire(ctx, c1, "public.t", lock.Options{}); err != nil {
		t.Fatal(err)
	}
	c1.Close(ctx) // as when the process dies
	c2 := connect(t, url, "b")
	if _, err := lock.Acquire(ctx, c2, "public.t", lock.Options{Timeout: 2 * time.Second}); err != nil {
		t.Fatalf("lock of a closed session was not released: %v", err)
	}
}

func TestKeysDifferByName(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	ctx := context.Background()
	c1, c2 := connect(t, url, "a"), connect(t, url, "b")
	if _, err := lock.Acquire(ctx, c1, "public.one", lock.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Acquire(ctx, c2, "public.two", lock.Options{Timeout: -1}); err != nil {
		t.Fatalf("a lock on another table's name blocked: %v", err)
	}
	if lock.Key("public.one") == lock.Key("public.two") {
		t.Fatal("different names give the same key")
	}
}

func TestContendedExclusive(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	ctx := context.Background()
	var contenders []func() (func() error, error)
	for i := 0; i < 5; i++ {
		c := connect(t, url, "w")
		contenders = append(contenders, func() (func() error, error) {
			l, err := lock.Acquire(ctx, c, "public.t", lock.Options{Timeout: 30 * time.Second})
			if err != nil {
				return nil, err
			}
			return func() error { return l.Release(ctx) }, nil
		})
	}
	assertExclusive(t, "sessions", contenders)
}

func TestCancelledWait(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	c1, c2 := connect(t, url, "a"), connect(t, url, "b")
	if _, err := lock.Acquire(context.Background(), c1, "public.t", lock.Options{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := lock.Acquire(ctx, c2, "public.t", lock.Options{Timeout: time.Minute})
	var te *lock.TimeoutError
	if err == nil || errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled wait: got %v, want the context's error", err)
	}
}
