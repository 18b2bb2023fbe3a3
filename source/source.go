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
	// Version is the file name's version as an integer: its leading
	// digits, or a Flyway V file's version. It is 0 for a dotted version
	// (see Ver) and for a repeatable migration.
	Version int64
	Name    string // text after the first '_' (Flyway: "__") up to the extension
	Up      Section
	Down    *Section // nil when the migration has no down section
	// Checksum is the hex SHA-256 of the up text with CRLF turned into LF:
	// the whole file for NNN_name.up.sql, the up section for a single file.
	Checksum string

	// Ver is the version as the file name spells it, integer or dotted
	// (Flyway's V1.2.3__name.sql); the zero Version for a repeatable
	// migration. For an integer version it is IntVersion(Version).
	// Dotted versions come only from a Source built with
	// Options.FlywayVersions.
	Ver Version
	// Repeatable is set for Flyway's R__name.sql: no version, no down,
	// applied after the versioned migrations, in name order, whenever its
	// checksum changes. Only from a Source built with
	// Options.FlywayVersions.
	Repeatable bool
	// Go is set for a goose migration written in Go (NNN_name.go): its up
	// and down are Go functions a program registers with the runner, not
	// SQL. Up.File names the .go file and Up.SQL is empty; Down is nil,
	// whatever the registered functions hold; Checksum covers the .go
	// file. Only from a Source built with Options.GoMigrations.
	Go bool
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
	// NoTransactionReason says why NoTransaction is set when no directive
	// or marker option set it: the file's own tool runs a file holding a
	// statement that cannot run inside a transaction block (NoTx) outside
	// one by itself, and pgmig does the same. Empty otherwise.
	NoTransactionReason string
	// NoTx lists the section's statements that PostgreSQL refuses to run
	// inside a transaction block. A transactional section holds only those
	// that depend on the server's version; OnServer decides them.
	NoTx []NoTxStatement
	// Copies are the section's COPY … FROM STDIN statements with their
	// data, in order. Such a section cannot be sent as one query: each
	// COPY goes through the copy protocol with its data, and the SQL
	// between them as before.
	Copies []CopyIn

	// How the file's own tool runs the section when a statement in NoTx
	// that depends on the server's version applies (see OnServer).
	autoNoTx   bool
	autoReason string // a format with the statement's kind and line
	noTxFix    string
}

// ErrInvalid is matched (errors.Is) by every error that reports a problem
// with the migration files themselves, as opposed to failing to read them.
var ErrInvalid = errors.New("invalid migration files")
