package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgmig/pgmig/fleet"
)

func targets(n int) []fleet.Target {
	ts := make([]fleet.Target, n)
	for i := range ts {
		ts[i] = fleet.Target{Name: fmt.Sprint(i)}
	}
	return ts
}

func outcomes[T any](rs []fleet.Result[T]) string {
	s := ""
	for _, r := range rs {
		s += string(r.Outcome[0])
	}
	return s
}

func TestRun(t *testing.T) {
	fail := func(bad ...string) func(context.Context, fleet.Target) (int, error) {
		return func(_ context.Context, tg fleet.Target) (int, error) {
			for _, b := range bad {
				if tg.Name == b {
					return 0, errors.New("boom")
				}
			}
			return len(tg.Name), nil
		}
	}
	tests := []struct {
		name string
		opts fleet.Options
		fn   func(context.Context, fleet.Target) (int, error)
		want string // o: ok, f: failed, s: skipped
	}{
		{"all ok", fleet.Options{}, fail(), "oooooo"},
		{"a failure does not stop the others", fleet.Options{Parallel: 3}, fail("2"), "oofooo"},
		{"fail fast, one at a time", fleet.Options{FailFast: true}, fail("2"), "oofsss"},
		{"canary fails: nothing else runs", fleet.Options{Canary: 2, Parallel: 4}, fail("1"), "ofssss"},
		{"canaries pass, a later failure is reported", fleet.Options{Canary: 2, Parallel: 4}, fail("4"), "oooofo"},
		{"canary larger than the fleet", fleet.Options{Canary: 10}, fail(), "oooooo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := fleet.Run(context.Background(), targets(6), tc.opts, tc.fn)
			if got := outcomes(rs); got != tc.want {
				t.Fatalf("outcomes %s, want %s", got, tc.want)
			}
			for i, r := range rs {
				if r.Target.Name != fmt.Sprint(i) {
					t.Fatalf("result %d is for target %s: order lost", i, r.Target.Name)
				}
				if r.Outcome == fleet.OK && r.Value != 1 {
					t.Errorf("target %d value %d", i, r.Value)
				}
				if r.Outcome == fleet.Failed && r.Err == nil {
					t.Errorf("target %d failed without an error", i)
				}
			}
		})
	}
}

func TestParallelBoundAndCanariesAlone(t *testing.T) {
	var running, most atomic.Int32
	var canaryOverlap atomic.Bool
	fn := func(_ context.Context, tg fleet.Target) (int, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		if (tg.Name == "0" || tg.Name == "1") && n > 1 {
			canaryOverlap.Store(true)
		}
		time.Sleep(10 * time.Millisecond)
		return 0, nil
	}
	var last fleet.Progress
	calls := 0
	fleet.Run(context.Background(), targets(20), fleet.Options{Parallel: 4, Canary: 2, OnProgress: func(p fleet.Progress) {
		calls++
		last = p
	}}, fn)
	if most.Load() != 4 {
		t.Errorf("at most %d ran at once, want exactly 4", most.Load())
	}
	if canaryOverlap.Load() {
		t.Error("a canary ran alongside another target")
	}
	if last.Done != 20 || last.Running != 0 || last.Total != 20 || calls != 40 {
		t.Errorf("last progress %+v after %d calls", last, calls)
	}
}

func TestCancelledRunSkipsTheRest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	rs := fleet.Run(ctx, targets(5), fleet.Options{}, func(_ context.Context, tg fleet.Target) (int, error) {
		if tg.Name == "1" {
			cancel()
		}
		return 0, nil
	})
	if got := outcomes(rs); got != "oosss" {
		t.Fatalf("outcomes %s, want oosss", got)
	}
}
