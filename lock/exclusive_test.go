package lock_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// assertExclusive starts every contender at once; each takes the lock,
// holds it a moment and lets it go. It fails when two ever held it
// together.
func assertExclusive(t *testing.T, what string, contenders []func() (release func() error, err error)) {
	t.Helper()
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for _, take := range contenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := take()
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
			inside.Add(-1)
			if err := release(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d %s held the lock at once", most.Load(), what)
	}
}
