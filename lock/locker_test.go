package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/lock"
)

// Both kinds of lock, used through the Locker interface, exclude a second
// taker, and report a loss the same way: Check and Release match ErrLost.
func TestLockersReportLossAlike(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// make returns a Locker on a connection or pool of its own, and a
		// function that takes the held lock away behind its back.
		make func(t *testing.T, url string, opts lock.Options) (lock.Locker, func(ctx context.Context) error)
	}{
		{"session", func(t *testing.T, url string, opts lock.Options) (lock.Locker, func(context.Context) error) {
			c := connect(t, url, "locker")
			admin := connect(t, url, "admin")
			pid := c.PgConn().PID()
			return lock.NewSession(c, nil, "public.t", opts), func(ctx context.Context) error {
				_, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", int64(pid))
				return err
			}
		}},
		{"lease", func(t *testing.T, url string, opts lock.Options) (lock.Locker, func(context.Context) error) {
			p := pool(t, url, "locker")
			return lock.NewLease(p, leaseTable, "public.t", lock.LeaseOptions{Timeout: opts.Timeout, TTL: 600 * time.Millisecond}),
				func(ctx context.Context) error {
					_, err := p.Exec(ctx, `UPDATE public.pgmig_migrations_lock SET owner = 'thief' WHERE name = 'public.t'`)
					return err
				}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := pgtest.NewDB(t)
			ctx := context.Background()
			first, takeAway := tc.make(t, url, lock.Options{})
			held, err := first.Lock(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := held.Check(ctx); err != nil {
				t.Fatalf("Check of a held lock: %v", err)
			}
			second, _ := tc.make(t, url, lock.Options{Timeout: -1})
			if _, err := second.Lock(ctx); !errors.As(err, new(*lock.TimeoutError)) {
				t.Fatalf("second Lock of a held lock: %v, want *TimeoutError", err)
			}
			if err := takeAway(ctx); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				err := held.Check(ctx)
				if errors.Is(err, lock.ErrLost) {
					break
				}
				if err != nil || time.Now().After(deadline) {
					t.Fatalf("Check after the lock was taken away: %v, want ErrLost", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err := held.Release(ctx); !errors.Is(err, lock.ErrLost) {
				t.Errorf("Release of a lost lock: %v, want ErrLost", err)
			}
			if err := held.Release(ctx); err != nil {
				t.Errorf("second Release: %v, want nil", err)
			}
		})
	}
}
