package fleet_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pgmig/pgmig/fleet"
	"github.com/pgmig/pgmig/lock"
)

// busyFor makes fn report the lock of each named target held by another
// run for its first n tries.
type busyFor struct {
	mu    sync.Mutex
	left  map[string]int
	order []string // targets in the order their runs ended, busy ones too
}

func (b *busyFor) fn(_ context.Context, tg fleet.Target) (int, error) {
	time.Sleep(5 * time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.order = append(b.order, tg.Name)
	if b.left[tg.Name] != 0 {
		b.left[tg.Name]--
		return 0, &lock.TimeoutError{Name: "public.pgmig_migrations", Waited: 0}
	}
	return 1, nil
}

func TestSkipLocked(t *testing.T) {
	b := &busyFor{left: map[string]int{
		"0": 2,  // a canary: waited for before anything else starts
		"2": 3,  // put aside three times, then done
		"4": -1, // held for good: reported locked once LockWait is over
	}}
	var most fleet.Progress
	rs := fleet.Run(context.Background(), targets(6), fleet.Options{
		Canary: 1, Parallel: 2, SkipLocked: true, LockWait: 600 * time.Millisecond,
		OnProgress: func(p fleet.Progress) {
			if p.Waiting > most.Waiting {
				most = p
			}
		},
	}, b.fn)
	if got := outcomes(rs); got != "oooolo" {
		t.Fatalf("outcomes %s, want oooolo", got)
	}
	for i, want := range []int{2, 0, 3, 0} {
		if rs[i].LockBusy != want {
			t.Errorf("target %d LockBusy %d, want %d", i, rs[i].LockBusy, want)
		}
	}
	var te *lock.TimeoutError
	if !errors.As(rs[4].Err, &te) || rs[4].LockBusy < 3 {
		t.Errorf("target 4: err %v, LockBusy %d; want its lock timeout, after several tries", rs[4].Err, rs[4].LockBusy)
	}
	if b.order[0] != "0" || b.order[1] != "0" || b.order[2] != "0" {
		t.Errorf("runs ended in order %v: the canary was not waited for first", b.order)
	}
	// Target 2 was put aside while the next ones ran.
	first2, done3 := -1, -1
	for i, n := range b.order {
		if n == "2" && first2 < 0 {
			first2 = i
		}
		if n == "3" && done3 < 0 {
			done3 = i
		}
	}
	last2 := 0
	for i, n := range b.order {
		if n == "2" {
			last2 = i
		}
	}
	if !(first2 < done3 && done3 < last2) {
		t.Errorf("runs ended in order %v: target 3 did not run while 2 was locked", b.order)
	}
	if most.Waiting < 2 {
		t.Errorf("at most %d targets waiting at once, want 2 (targets 2 and 4)", most.Waiting)
	}
}

// Without SkipLocked a lock timeout is a failure like any other.
func TestLockTimeoutFailsWithoutSkipLocked(t *testing.T) {
	b := &busyFor{left: map[string]int{"1": 1}}
	rs := fleet.Run(context.Background(), targets(3), fleet.Options{}, b.fn)
	if got := outcomes(rs); got != "ofo" {
		t.Fatalf("outcomes %s, want ofo", got)
	}
}

// A cancelled run leaves a put-aside target skipped, not locked.
func TestSkipLockedCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b := &busyFor{left: map[string]int{"0": -1}}
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	rs := fleet.Run(ctx, targets(2), fleet.Options{SkipLocked: true}, b.fn)
	if got := outcomes(rs); got != "so" {
		t.Fatalf("outcomes %s, want so", got)
	}
	if rs[0].LockBusy == 0 {
		t.Error("the locked target was never tried")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the cancelled run took %s to end", time.Since(start))
	}
}
