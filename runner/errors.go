package runner

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrValidation is matched (errors.Is) by every error that stops a command
// because the files and the history disagree: a changed checksum, a missing
// file, a failed migration, an out-of-order pending migration, a missing
// down section. Problems with the files themselves match source.ErrInvalid.
var ErrValidation = errors.New("validation failed")

// ErrInvalidOption is matched by errors that reject a caller's option, such
// as a malformed table name or a --to version that no migration has.
var ErrInvalidOption = errors.New("invalid option")

// ChecksumMismatchError reports an applied migration whose file changed.
type ChecksumMismatchError struct {
	Version  int64
	Name     string
	File     string
	Recorded string // checksum in the tracking table
	Current  string // checksum of the file now
}

func (e *ChecksumMismatchError) Error() string {
	return fmt.Sprintf("migration %d %s: %s changed since it was applied (checksum recorded %s, file now %s); restore the file, or run `pgmig repair` if the change is intended",
		e.Version, e.Name, e.File, short(e.Recorded), short(e.Current))
}

func (e *ChecksumMismatchError) Is(target error) bool { return target == ErrValidation }

// MissingFileError reports an applied migration whose file is gone.
type MissingFileError struct {
	Version int64
	Name    string
}

func (e *MissingFileError) Error() string {
	return fmt.Sprintf("migration %d %s is applied but its file is missing from the source", e.Version, e.Name)
}

func (e *MissingFileError) Is(target error) bool { return target == ErrValidation }

// DirtyError reports a migration recorded as failed: a no-transaction
// section that stopped half-way, or a run killed during one. Nothing more
// is applied until the database is fixed by hand and `pgmig repair` run.
type DirtyError struct {
	Version   int64
	Name      string
	Statement int    // 1-based statement of the section that failed; 0 when unknown
	Message   string // what was recorded
}

func (e *DirtyError) Error() string {
	msg := fmt.Sprintf("migration %d %s failed part-way and may be half-applied", e.Version, e.Name)
	if e.Statement > 0 {
		msg += fmt.Sprintf(" (statement %d)", e.Statement)
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg + "; fix the database by hand, then run `pgmig repair`"
}

func (e *DirtyError) Is(target error) bool { return target == ErrValidation }

// OutOfOrderError reports a pending migration older than the newest applied
// one, refused unless Options.AllowOutOfOrder is set.
type OutOfOrderError struct {
	Version int64
	Name    string
	Latest  int64 // newest applied version
}

func (e *OutOfOrderError) Error() string {
	return fmt.Sprintf("migration %d %s is pending but %d is already applied; renumber it above %d, or allow out-of-order migrations",
		e.Version, e.Name, e.Latest, e.Latest)
}

func (e *OutOfOrderError) Is(target error) bool { return target == ErrValidation }

// MissingDownError reports a migration to roll back that has no down section.
type MissingDownError struct {
	Version int64
	Name    string
	File    string
}

func (e *MissingDownError) Error() string {
	return fmt.Sprintf("migration %d %s has no down section in %s, so it cannot be rolled back", e.Version, e.Name, e.File)
}

func (e *MissingDownError) Is(target error) bool { return target == ErrValidation }

// HistoryError reports a tracking table in a state the command refuses,
// such as a baseline over an existing history.
type HistoryError struct {
	Msg string
}

func (e *HistoryError) Error() string        { return e.Msg }
func (e *HistoryError) Is(target error) bool { return target == ErrValidation }
func invalidOption(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, a...)...)
}

// MigrationError reports a migration whose SQL failed. Err is the server's
// *pgconn.PgError when the server refused a statement, so errors.As still
// reaches the SQLSTATE.
type MigrationError struct {
	Version   int64
	Name      string
	Direction Direction
	File      string // file holding the section; empty when the failure was not in it
	Line      int    // 1-based line in File; 0 when unknown
	Column    int    // 1-based column, in characters; 0 when unknown
	Statement int    // 1-based statement of the section; 0 when unknown
	// SourceLine is the text of File's line Line, for showing with a caret.
	SourceLine string
	// NoTransaction says the failed section ran without a transaction:
	// the statements before Statement were kept, and the history holds a
	// failed row until the database is fixed and the row repaired.
	NoTransaction bool
	Err           error
}

func (e *MigrationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d %s: ", e.Direction.verb(), e.Version, e.Name)
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Column > 0 {
				fmt.Fprintf(&b, ":%d", e.Column)
			}
		}
		b.WriteString(": ")
	}
	// A server error wrapped with what it means here ("at COMMIT: …") is
	// shown with that; its own text is the same either way.
	if pe, ok := e.Err.(*pgconn.PgError); ok {
		fmt.Fprintf(&b, "%s: %s (SQLSTATE %s)", pe.Severity, pe.Message, pe.Code)
	} else {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *MigrationError) Unwrap() error { return e.Err }

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}
