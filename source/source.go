package source

import (
	"context"
	"errors"
	"time"
)

// Source yields the migrations of one project, parsed and validated as a
// set: versions unique, names well formed, sections well formed.
type Source interface {
	// Migrations returns every migration in ascending version order.
	// Problems with files are reported together, joined (errors.Join),
	// each matching ErrInvalid; an unreadable source is a plain error.
	Migrations(ctx context.Context) ([]Migration, error)
}

// Migration is one versioned migration as read from its file or files.
type Migration struct {
	Version int64  // leading digits of the file name, as an integer
	Name    string // text after the first '_' up to the extension
	Up      Section
	Down    *Section // nil when the migration has no down section
	// Checksum is the hex SHA-256 of the up text with CRLF turned into LF:
	// the whole file for NNN_name.up.sql, the up section for a single file.
	Checksum string
}

// Section is the SQL of one direction of a migration.
type Section struct {
	File string // path of the file holding the section, relative to the source root
	// SQL is the section's text with CRLF turned into LF, exactly as it is
	// sent to the server, so that an error position in it maps to File.
	SQL string
	// Line is the 1-based line of File on which SQL begins; SQL always
	// begins at the start of a line.
	Line int
	// NoTransaction is set by a "-- pgmig:no-transaction" directive: the
	// section then runs outside a transaction, one statement at a time.
	NoTransaction bool
	// LockTimeout is set by a "-- pgmig:lock-timeout DURATION" directive:
	// the section's lock_timeout, overriding the runner's. Zero: not set.
	LockTimeout time.Duration
}

// ErrInvalid is matched (errors.Is) by every error that reports a problem
// with the migration files themselves, as opposed to failing to read them.
var ErrInvalid = errors.New("invalid migration files")
