package pgdb

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNotFound is returned by QueryOne, and by the repo package, when no
// row matches. It also matches pgx.ErrNoRows through errors.Is.
var ErrNotFound error = notFoundError{}

type notFoundError struct{}

func (notFoundError) Error() string        { return "not found" }
func (notFoundError) Is(target error) bool { return target == pgx.ErrNoRows }

// Sentinels matched (errors.Is) by a *ConstraintError of the matching kind.
var (
	ErrUniqueViolation     = errors.New("unique violation")      // 23505
	ErrForeignKeyViolation = errors.New("foreign key violation") // 23503
	ErrNotNullViolation    = errors.New("not null violation")    // 23502
	ErrCheckViolation      = errors.New("check violation")       // 23514
	ErrExclusionViolation  = errors.New("exclusion violation")   // 23P01
)

var constraintSentinels = map[string]error{
	"23505": ErrUniqueViolation,
	"23503": ErrForeignKeyViolation,
	"23502": ErrNotNullViolation,
	"23514": ErrCheckViolation,
	"23P01": ErrExclusionViolation,
}

// ConstraintError reports a statement rejected by an integrity constraint
// (SQLSTATE class 23). It matches the sentinel of its kind, such as
// ErrUniqueViolation, with errors.Is, and unwraps to the *pgconn.PgError.
type ConstraintError struct {
	Constraint string // name of the constraint, e.g. "users_email_key"
	Table      string
	// Column is the column at fault: the server's column name when it
	// gives one (not null), else the key of the detail for unique and
	// foreign key violations, e.g. "email" or "tenant_id, email".
	Column string
	Err    *pgconn.PgError
}

func (e *ConstraintError) Error() string {
	return fmt.Sprintf("%s on %s (constraint %s): %s", kindOf(e.Err.Code), e.Table, e.Constraint, e.Err.Message)
}

func (e *ConstraintError) Unwrap() error { return e.Err }

// Is matches the sentinel of the violation's kind.
func (e *ConstraintError) Is(target error) bool {
	s, ok := constraintSentinels[e.Err.Code]
	return ok && s == target
}

func kindOf(code string) string {
	if s, ok := constraintSentinels[code]; ok {
		return s.Error()
	}
	return "integrity constraint violation"
}

// ErrInvalidInput is matched (errors.Is) by every error that blames the
// values a statement was given rather than the database: a *DataError from
// the server, and the repo package's invalid queries. A service answers it
// with 400, not 500.
var ErrInvalidInput = errors.New("invalid input")

// DataError reports a statement the server rejected for one of its values
// (SQLSTATE class 22, data exception): text that is not a uuid (22P02), a
// timestamp out of range (22007, 22008), a string too long for its column
// (22001), a division by zero (22012). It matches ErrInvalidInput and
// unwraps to the *pgconn.PgError.
type DataError struct {
	// Column is the column at fault when the server names one; it often
	// does not, as the value is parsed before it meets a column.
	Column string
	Err    *pgconn.PgError
}

// Error names the condition, never the server's message: that quotes the
// value (invalid input syntax for type uuid: "…"), and a service answers
// this text to its client, who may not be the one who sent the value, or
// logs it where values must not go. The message is on the unwrapped
// *pgconn.PgError for whoever needs it.
func (e *DataError) Error() string {
	what := dataConditions[e.Err.Code]
	if what == "" {
		what = "data exception"
	}
	if e.Column != "" {
		return fmt.Sprintf("invalid input for %s: %s (SQLSTATE %s)", e.Column, what, e.Err.Code)
	}
	return fmt.Sprintf("invalid input: %s (SQLSTATE %s)", what, e.Err.Code)
}

// dataConditions are PostgreSQL's names (Appendix A) for the class 22
// codes a client's values cause most often.
var dataConditions = map[string]string{
	"22001": "value too long for its type",
	"22003": "numeric value out of range",
	"22007": "invalid datetime format",
	"22008": "datetime field out of range",
	"22012": "division by zero",
	"22023": "invalid parameter value",
	"22P02": "invalid text representation",
	"22P05": "untranslatable character",
	"22021": "character not in repertoire",
	"22004": "null value not allowed",
	"2200N": "invalid XML content",
	"22030": "duplicate JSON object key value",
	"22032": "invalid JSON text",
}

func (e *DataError) Unwrap() error { return e.Err }

// Is matches ErrInvalidInput.
func (e *DataError) Is(target error) bool { return target == ErrInvalidInput }

var detailKey = regexp.MustCompile(`^Key \((.+?)\)=`)

// Classify returns err with an integrity constraint violation (class 23)
// turned into a *ConstraintError and a data exception (class 22) into a
// *DataError; any other error, nil included, comes back as it is. The
// helpers of this package and the repo package classify their errors
// already; call it on errors from plain pgx calls.
func Classify(err error) error {
	var pgErr *pgconn.PgError
	if err == nil || !errors.As(err, &pgErr) || len(pgErr.Code) != 5 {
		return err
	}
	switch pgErr.Code[:2] {
	case "22":
		var de *DataError
		if errors.As(err, &de) {
			return err
		}
		return &DataError{Column: pgErr.ColumnName, Err: pgErr}
	case "23":
	default:
		return err
	}
	var ce *ConstraintError
	if errors.As(err, &ce) {
		return err
	}
	col := pgErr.ColumnName
	if col == "" {
		if m := detailKey.FindStringSubmatch(pgErr.Detail); m != nil {
			col = m[1]
		}
	}
	return &ConstraintError{Constraint: pgErr.ConstraintName, Table: pgErr.TableName, Column: col, Err: pgErr}
}

// wrapErr classifies err and makes sure that an error caused by the end of
// ctx matches ctx.Err() (context.Canceled or context.DeadlineExceeded):
// pgx may report a cancelled query as the server's 57014 alone.
func wrapErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return Classify(err)
}
