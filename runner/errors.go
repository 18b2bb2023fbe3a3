package runner

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/source"
)

// ErrValidation is matched (errors.Is) by every error that stops a command
// because the files and the history disagree: a changed checksum, a missing
// file, a failed migration, an out-of-order pending migration, a missing
// down section. Problems with the files themselves match source.ErrInvalid.
var ErrValidation = errors.New("validation failed")

// ErrInvalidOption is matched by errors that reject a caller's option, such
// as a malformed table name or an UpOptions.To version that no migration
// has. Most are an *OptionError, which names the option.
var ErrInvalidOption = errors.New("invalid option")

// ChecksumMismatchError reports an applied migration whose file changed.
type ChecksumMismatchError struct {
	Version  int64
	Ver      source.Version // the version as the file spells it; may be unset (then Version)
	Name     string
	File     string
	Recorded string // checksum in the tracking table
	Current  string // checksum of the file now
}

func (e *ChecksumMismatchError) Error() string { return e.Text(goName) }

// Text is the message with the remedy it advises, a Runner method
// (MethodRepair), named as name renders it: Error names the method, a
// CLI names the command that calls it.
func (e *ChecksumMismatchError) Text(name func(method string) string) string {
	return fmt.Sprintf("migration %s %s: %s changed since it was applied (checksum recorded %s, file now %s); restore the file, or run %s if the change is intended",
		verText(e.Version, e.Ver), e.Name, e.File, short(e.Recorded), short(e.Current), name(MethodRepair))
}

func (e *ChecksumMismatchError) Is(target error) bool { return target == ErrValidation }

// MissingFileError reports an applied migration whose file is gone.
type MissingFileError struct {
	Version int64
	Ver     source.Version // the version as the history records it; may be unset (then Version)
	Name    string
}

func (e *MissingFileError) Error() string {
	return fmt.Sprintf("migration %s %s is applied but its file is missing from the source", verText(e.Version, e.Ver), e.Name)
}

func (e *MissingFileError) Is(target error) bool { return target == ErrValidation }

// DirtyError reports a migration recorded as failed: a no-transaction
// section that stopped half-way, or a run killed during one. Nothing more
// is applied until the database is fixed by hand and the row repaired
// (Runner.Repair).
type DirtyError struct {
	Version   int64
	Ver       source.Version // may be unset (then Version); zero for a repeatable migration
	Name      string
	Statement int    // 1-based statement of the section that failed; 0 when unknown
	Message   string // what was recorded
}

func (e *DirtyError) Error() string { return e.Text(goName) }

// Text is the message with the remedy it advises, a Runner method
// (MethodRepair), named as name renders it, as ChecksumMismatchError's.
func (e *DirtyError) Text(name func(method string) string) string {
	msg := fmt.Sprintf("migration %s %s failed part-way and may be half-applied", verText(e.Version, e.Ver), e.Name)
	if e.Statement > 0 {
		msg += fmt.Sprintf(" (statement %d)", e.Statement)
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg + "; fix the database by hand, then run " + name(MethodRepair)
}

func (e *DirtyError) Is(target error) bool { return target == ErrValidation }

// OutOfOrderError reports a pending migration older than the newest applied
// one, refused unless Options.AllowOutOfOrder is set.
type OutOfOrderError struct {
	Version   int64
	Ver       source.Version // may be unset (then Version)
	Name      string
	Latest    int64          // newest applied version; 0 when dotted
	LatestVer source.Version // newest applied version, any form; may be unset (then Latest)
}

func (e *OutOfOrderError) Error() string {
	latest := verText(e.Latest, e.LatestVer)
	return fmt.Sprintf("migration %s %s is pending but %s is already applied; renumber it above %s, or allow out-of-order migrations",
		verText(e.Version, e.Ver), e.Name, latest, latest)
}

func (e *OutOfOrderError) Is(target error) bool { return target == ErrValidation }

// MissingDownError reports a migration to roll back that has no down section.
type MissingDownError struct {
	Version int64
	Ver     source.Version // may be unset (then Version)
	Name    string
	File    string
}

func (e *MissingDownError) Error() string {
	return fmt.Sprintf("migration %s %s has no down section in %s, so it cannot be rolled back", verText(e.Version, e.Ver), e.Name, e.File)
}

func (e *MissingDownError) Is(target error) bool { return target == ErrValidation }

// HistoryError reports a tracking table in a state the command refuses,
// such as a baseline over an existing history.
type HistoryError struct {
	Msg string
}

func (e *HistoryError) Error() string        { return e.Msg }
func (e *HistoryError) Is(target error) bool { return target == ErrValidation }

// The Runner methods that the messages of ChecksumMismatchError,
// DirtyError and InvalidIndexError advise, as their Text methods name
// them: the engine's messages name no CLI command (a program that offers
// the methods as commands renders them through Text).
const (
	MethodRepair = "Runner.Repair"
	MethodUp     = "Runner.Up"
)

// goName names a method as the Go API does, for Error.
func goName(method string) string { return method }

func invalidOption(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, a...)...)
}

// OptionError rejects a caller's option, naming it as the Go API does:
// a field as Type.Field ("UpOptions.To", "RollbackOptions.Steps"), a
// method's argument as Method.argument ("Baseline.version",
// "Adopt.from"). It matches ErrInvalidOption. A program that offers the
// options under other names (a CLI's flags) renders the message with
// those through Message, so that the engine's messages name no flag.
type OptionError struct {
	// Option is the option at fault: the first one the message names.
	Option string
	// Options are all the options the message names, in its order, when
	// the fault is a combination of them ("choose one of …").
	Options []string
	format  string // the message; {Type.Field} stands for each option
	args    []any
}

// optionError makes an *OptionError; format names each option in braces,
// {UpOptions.To}, and its verbs take args.
func optionError(format string, args ...any) *OptionError {
	e := &OptionError{format: format, args: args}
	for _, m := range optionRE.FindAllStringSubmatch(format, -1) {
		e.Options = append(e.Options, m[1])
	}
	if len(e.Options) > 0 {
		e.Option = e.Options[0]
	}
	return e
}

// optionNamed makes an *OptionError about option whose message speaks of
// it in words rather than by name.
func optionNamed(option, format string, args ...any) *OptionError {
	e := optionError(format, args...)
	e.Option, e.Options = option, append([]string{option}, e.Options...)
	return e
}

var optionRE = regexp.MustCompile(`\{([A-Za-z]+\.[A-Za-z]+)\}`)

// Message is the message with each option named as name renders it.
func (e *OptionError) Message(name func(option string) string) string {
	f := optionRE.ReplaceAllStringFunc(e.format, func(m string) string {
		return strings.ReplaceAll(name(m[1:len(m)-1]), "%", "%%")
	})
	return fmt.Sprintf(f, e.args...)
}

func (e *OptionError) Error() string {
	return ErrInvalidOption.Error() + ": " + e.Message(func(o string) string { return o })
}

func (e *OptionError) Is(target error) bool { return target == ErrInvalidOption }

// MigrationError reports a migration whose SQL failed. Err is the server's
// *pgconn.PgError when the server refused a statement, so errors.As still
// reaches the SQLSTATE.
type MigrationError struct {
	Version   int64
	Ver       source.Version // the version as the file spells it; may be unset (then Version)
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
	fmt.Fprintf(&b, "%s %s %s: ", e.Direction.verb(), verText(e.Version, e.Ver), e.Name)
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
