package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/pgmig/pgmig/runner"
)

// Signaled is the cause (context.Cause) of a context cancelled because the
// process got a signal: main cancels Run's context with it on SIGINT or
// SIGTERM, and Run then exits 128 plus the signal's number (130, 143) with
// a message saying what was applied and what was not.
type Signaled struct {
	Signal os.Signal
}

func (s *Signaled) Error() string { return "stopped by " + signalName(s.Signal) }

// code is the exit code of a process stopped by the signal, as shells
// report one killed by it.
func (s *Signaled) code() int {
	if sig, ok := s.Signal.(syscall.Signal); ok {
		return 128 + int(sig)
	}
	return 130
}

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// signaled returns the signal that cancelled ctx, if one did.
func signaled(ctx context.Context) *Signaled {
	var s *Signaled
	if errors.As(context.Cause(ctx), &s) {
		return s
	}
	return nil
}

// interrupted is the error of a run a signal stopped: what finished before
// it, what became of the migration in flight, and that the lock is gone
// (the command's session is closed by the time Run prints it).
func interrupted(sig *Signaled, err error, done []runner.Step) error {
	var parts []string
	if len(done) > 0 {
		verb := "applied"
		if done[len(done)-1].Direction == runner.Down {
			verb = "rolled back"
		}
		names := make([]string, len(done))
		for i, s := range done {
			names[i] = fmtVer(s.Version, s.Ver, s.Repeatable) + " " + s.Name
		}
		parts = append(parts, verb+" "+strings.Join(names, ", "))
	}
	var me *runner.MigrationError
	switch {
	case errors.As(err, &me) && me.NoTransaction:
		parts = append(parts, fmt.Sprintf("%s %s ran without a transaction: its statement in flight was cancelled, the statements before it were kept, and its history row is marked failed (fix the database by hand, then run `pgmig repair`)", fmtV(me.Version, me.Ver), me.Name))
	case errors.As(err, &me) && me.Direction == runner.Up:
		parts = append(parts, fmt.Sprintf("%s %s was rolled back: nothing of it was kept; it and the migrations after it are not applied", fmtV(me.Version, me.Ver), me.Name))
	case errors.As(err, &me):
		parts = append(parts, fmt.Sprintf("rolling back %s %s was undone: it is still applied", fmtV(me.Version, me.Ver), me.Name))
	case len(done) == 0:
		parts = append(parts, "nothing was changed")
	default:
		parts = append(parts, "nothing else was changed")
	}
	parts = append(parts, "the migration lock is released")
	return &exitError{code: sig.code(), err: fmt.Errorf("%s: %s", sig, strings.Join(parts, "; "))}
}
