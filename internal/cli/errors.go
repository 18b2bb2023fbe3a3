package cli

import (
	"errors"
	"fmt"

	"github.com/pgmig/pgmig/lint"
	"github.com/pgmig/pgmig/lock"
	"github.com/pgmig/pgmig/remote"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// exitError is a failed command as the process reports it: its exit code,
// and whether the command already printed what went wrong (then only the
// code is left to give). Every error a command's action returns becomes
// one (see exit); any other error is urfave/cli refusing the command line.
type exitError struct {
	code    int
	printed bool
	err     error
}

func (e *exitError) Error() string { return e.err.Error() }

func (e *exitError) Unwrap() error { return e.err }

// usage is a bad command line: unknown command or flag, bad value (exit 2).
func usage(err error) error { return &exitError{code: 2, err: err} }

func usagef(format string, a ...any) error { return usage(fmt.Errorf(format, a...)) }

// invalid is a verdict on the migrations themselves, such as a lint error
// or a down that does not restore the schema (exit 3).
func invalid(err error) error { return &exitError{code: 3, err: err} }

// reported is err with its output already printed; its code is the one
// err gives.
func reported(err error) error { return &exitError{code: exitCode(err), printed: true, err: err} }

// exit gives err its exit code, keeping the code and printed flag of an
// exitError it wraps.
func exit(err error) *exitError {
	var ee *exitError
	if errors.As(err, &ee) {
		return &exitError{code: ee.code, printed: ee.printed, err: err}
	}
	return &exitError{code: exitCode(err), err: err}
}

// exitCode is the code err gives (CONTRACT.md, "Exit codes").
func exitCode(err error) int {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, runner.ErrInvalidOption):
		return 2
	case errors.As(err, new(*lock.PoolerError)):
		// The remedy is a flag: --lock-mode table.
		return 2
	case isLockTimeout(err):
		return 4
	case errors.Is(err, source.ErrInvalid), errors.Is(err, runner.ErrValidation), errors.As(err, new(*lint.GateError)):
		return 3
	case errors.Is(err, remote.ErrUnsafeArchive), errors.As(err, new(*remote.DigestMismatchError)):
		// The archive is not the pinned one, or is hostile: a bad source.
		return 3
	default:
		return 1
	}
}

func isLockTimeout(err error) bool {
	var te *lock.TimeoutError
	return errors.As(err, &te)
}
