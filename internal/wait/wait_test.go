package wait_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pgmig/pgmig/internal/wait"
)

func TestSleep(t *testing.T) {
	t.Parallel()
	if err := wait.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("a sleep that ran out: %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	start := time.Now()
	err := wait.Sleep(ctx, time.Hour)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled sleep: %v, want context.Canceled", err)
	}
	// Bounded far below the hour asked for, not a timing assertion.
	if time.Since(start) > time.Minute {
		t.Fatalf("the cancel did not cut the sleep short")
	}
}
