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

// Probe is the lock check the runner sends before a migration's query and
// reads after it: it must say the same as Check, and a stop while the work
// runs must not end the lock's session under that work.
func TestProbe(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	ctx := context.Background()
	admin := connect(t, url, "admin")
	acquire := func(t *testing.T, app string) (*lock.Lock, *pgx.Conn) {
		c := connect(t, url, app)
		l, err := lock.Acquire(ctx, c, "public."+app, lock.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return l, c
	}

	t.Run("held", func(t *testing.T) {
		l, _ := acquire(t, "probe_held")
		answer := l.Probe(ctx)
		if _, err := admin.Exec(ctx, "SELECT pg_sleep(0.05)"); err != nil { // the work
			t.Fatal(err)
		}
		if err := answer(); err != nil {
			t.Fatalf("probe of a held lock: %v", err)
		}
		if err := l.Check(ctx); err != nil {
			t.Fatalf("check after a probe: %v", err)
		}
		// Read twice, the answer is the first's, and the lock stays usable
		// (a second unlock of what serialises it would kill the process).
		if err := answer(); err != nil {
			t.Fatalf("probe answer read again: %v", err)
		}
		if err := l.Check(ctx); err != nil {
			t.Fatalf("check after the answer was read twice: %v", err)
		}
	})

	// Held's methods are safe for concurrent use: a Check while a Probe
	// is out waits for its answer instead of meeting a busy connection.
	t.Run("check during a probe", func(t *testing.T) {
		l, _ := acquire(t, "probe_check")
		answer := l.Probe(ctx)
		checked := make(chan error, 1)
		go func() { checked <- l.Check(ctx) }()
		time.Sleep(50 * time.Millisecond) // the Check is waiting now
		if err := answer(); err != nil {
			t.Fatalf("probe: %v", err)
		}
		if err := <-checked; err != nil {
			t.Fatalf("check during a probe: %v", err)
		}
	})

	t.Run("lost", func(t *testing.T) {
		l, c := acquire(t, "probe_lost")
		pid := c.PgConn().PID()
		if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", int64(pid)); err != nil {
			t.Fatal(err)
		}
		// Gone before the probe (pg_terminate_backend's own wait is 14+).
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var alive bool
			if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", int64(pid)).Scan(&alive); err != nil {
				t.Fatal(err)
			}
			if !alive {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("backend %d still there 5 s after pg_terminate_backend", pid)
			}
		}
		if err := l.Probe(ctx)(); !errors.Is(err, lock.ErrLost) {
			t.Fatalf("probe after the lock's session was terminated: %v, want ErrLost", err)
		}
	})

	t.Run("stopped", func(t *testing.T) {
		l, _ := acquire(t, "probe_stopped")
		stop, cancel := context.WithCancel(ctx)
		answer := l.Probe(stop)
		cancel() // the run is stopped while its work runs
		if err := answer(); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("probe of a stopped run: %v, want nil or context.Canceled", err)
		}
		if err := l.Check(ctx); err != nil {
			t.Fatalf("the stop ended the lock's session: %v", err)
		}
		var free bool
		if err := admin.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", l.Key()).Scan(&free); err != nil {
			t.Fatal(err)
		}
		if free {
			t.Fatal("the lock was free after a stopped probe")
		}
	})
}
