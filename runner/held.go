package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgmig/pgmig/lock"
)

// ErrLockLost is matched by the error of a run whose lock went away while
// it ran: the session holding the advisory lock ended (terminated by an
// administrator, or its connection dropped), or the lease was taken over
// or not renewed in time, so another run may already be migrating. It is
// lock.ErrLost.
var ErrLockLost = lock.ErrLost

// checkHeld checks the session's lock, if it has one.
func (s *session) checkHeld(ctx context.Context) error {
	if s.held == nil {
		return nil
	}
	return heldErr(s.held.Check(ctx))
}

// probeHeld sends the check of the session's lock and returns what reads
// its answer (lock.Held.Probe); the lock's connection is busy until then.
func (s *session) probeHeld(ctx context.Context) func() error {
	answer := s.held.Probe(ctx)
	return func() error { return heldErr(answer()) }
}

func heldErr(err error) error {
	if errors.Is(err, lock.ErrLost) {
		return fmt.Errorf("%w; stopped before committing, so no other run applies the same migration twice", err)
	}
	return err
}
