package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pgmig/pgmig/runner"
)

// Signaled is the cause (context.Cause) of a context cancelled because the
// process got a signal: main cancels Run's context with it on SIGINT or
// SIGTERM, and Run then exits 128 plus the signal's number (130, 143) with
// a message saying what was applied and what was not.
type Signaled struct {
	Signal os.Signal
}

// StopGrace is how long a run may take to stop after SIGINT or SIGTERM
// before the process exits without waiting for it. Stopping in order
// (cancel the statement in flight, roll back, release the lock) is bounded
// by the runner's own cleanup timeouts, the longest 10 s; the grace is
// longer, so it only ends a run stuck where no context reaches (a system
// call that blocks), and shorter than Kubernetes' 30 s, so pgmig still
// exits with its own code and message before a SIGKILL would.
const StopGrace = 20 * time.Second

// SignalContext returns a context that the first SIGINT or SIGTERM cancels
// with a *Signaled cause; a second one kills the process outright, as the
// signal's default does. If the run has not stopped StopGrace after the
// signal, the process says so on stderr and exits with the signal's code:
// SIGINT and SIGTERM end pgmig at any point. stop releases the signals
// and must be called when the run has returned.
func SignalContext(parent context.Context, stderr io.Writer) (context.Context, func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	release := func() { signal.Stop(sigs) } // the default disposition again: a second signal kills
	ctx, unwatch := watchSignals(parent, sigs, release, StopGrace, func(s *Signaled) {
		fmt.Fprintf(stderr, "error: %s, and the run did not stop within %s: pgmig exits without waiting for it; the server rolls back a transaction it has not been asked to commit, and `pgmig status` shows what was applied\n", s, StopGrace)
		os.Exit(s.code())
	})
	return ctx, func() {
		release()
		unwatch()
	}
}

// watchSignals is SignalContext's logic over a channel of signals: the
// first calls release and cancels ctx, and stuck runs when stop has not
// been called grace later.
func watchSignals(parent context.Context, sigs <-chan os.Signal, release func(), grace time.Duration, stuck func(*Signaled)) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	done := make(chan struct{})
	go func() {
		var s os.Signal
		select {
		case s = <-sigs:
		case <-done:
			return
		}
		release()
		sig := &Signaled{Signal: s}
		cancel(sig)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			stuck(sig)
		case <-done:
		}
	}()
	var once bool
	return ctx, func() {
		if !once {
			once = true
			close(done)
		}
		cancel(nil)
	}
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
// it, what became of the migration in flight, and, for a command that
// takes the lock (locked), that the lock is gone (the command's session is
// closed by the time Run prints it).
func interrupted(sig *Signaled, err error, done []runner.Step, locked bool) error {
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
	if locked {
		parts = append(parts, "the migration lock is released")
	}
	return &exitError{code: sig.code(), err: fmt.Errorf("%s: %s", sig, strings.Join(parts, "; "))}
}
