// Package wait holds the one way pgmig's packages pause between attempts:
// a sleep that a cancelled context cuts short.
package wait

import (
	"context"
	"time"
)

// Sleep waits for d, or until ctx is done, and returns ctx's error then.
// Unlike time.Sleep it lets a SIGINT or a deadline end a backoff at once;
// unlike time.After it frees its timer when ctx ends first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
