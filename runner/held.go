package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrLockLost is matched by the error of a run whose lock went away while
// it ran: the session holding the advisory lock ended (terminated by an
// administrator, or its connection dropped), so another run may already
// be migrating. The step in flight is rolled back instead of committed.
var ErrLockLost = errors.New("the migration lock was lost")

// sessionHeld checks, with one round trip on the lock's connection, that
// the session holding the advisory lock is still there. A session-level
// lock lasts as long as its session, so an answer means it is still held.
func sessionHeld(lockConn *pgx.Conn, name string) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := lockConn.Ping(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: the session holding the advisory lock for %s ended (%v); stopped before committing, so no other run applies the same migration twice", ErrLockLost, name, err)
		}
		return nil
	}
}

// checkHeld runs the session's lock check, if it has one.
func (s *session) checkHeld(ctx context.Context) error {
	if s.held == nil {
		return nil
	}
	return s.held(ctx)
}
