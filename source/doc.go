// Package source finds and parses migration files: versions, names, up and
// down sections, directives and checksums. It reads from any fs.FS
// (os.DirFS, embed.FS, fstest.MapFS) and imports no database code, so it
// can be tested and fuzzed on its own.
//
// # Files
//
// Only the .sql files at the root of the file system are read (and, with
// Options.GoMigrations, goose's .go migrations); of the other files and
// subdirectories, those that look like migrations are reported (see
// FromFS). A file name begins with the
// version, digits compared as an integer (1, 001 and 0001 are the same
// version), then '_' and the migration's name:
//
//	001_create_users.sql        up and down sections in one file
//	002_add_index.up.sql        the up section ...
//	002_add_index.down.sql      ... and its optional down section
//
// Any other .sql name is an error naming the file. Versions start at 1.
//
// # Sections and directives
//
// In a single file, the lines "-- pgmig:up" and "-- pgmig:down" (spaces
// around them and after "--" optional) begin the sections, each at most
// once and in either order; only comments and blank lines may come before
// the first. A file with neither marker is all up, with no down section. A
// file with only "-- pgmig:down" is an error. The markers have no place in
// .up.sql and .down.sql files.
//
// "-- pgmig:no-transaction" among a section's leading comment lines (before
// its first SQL token) runs that section outside a transaction, one
// statement at a time. Placed before the first marker of a single file it
// applies to both sections. Anywhere else it is an error. The same placement
// rules hold for "-- pgmig:lock-timeout DURATION" (Section.LockTimeout). Any
// other "-- pgmig:" directive is an error; "pgmig:" is recognised in any case
// so that a misspelt directive is reported, but directive names are
// case-sensitive.
// Directive lines are found line by line, without regard to quotes.
//
// A Section's SQL is its text with CRLF turned into LF (and a leading byte
// order mark dropped), marker lines excluded, so PostgreSQL's error
// positions map back to the file through Section.Line, Position and LineCol.
// Text that is not UTF-8 or holds a NUL byte is reported as an error.
//
// # Other tools' files
//
// golang-migrate, goose, dbmate and Flyway files are read as they are (see
// docs/files.md, "Other tools' migration files"): goose's "-- +goose Up"/"Down" and dbmate's
// "-- migrate:up"/"down" mark sections, goose's NO TRANSACTION and dbmate's
// "transaction:false" run them outside a transaction, goose's
// StatementBegin/End blocks are one statement in Section.Statements, goose's
// ENVSUB regions are substituted (FromFSWith supplies the variables),
// Flyway's V<n>__name.sql and U<n>__name.sql are up and down files, and a
// whole-file section wrapped in BEGIN; … COMMIT; loses the wrapper. A file
// uses one tool's markers. An up and a down file pair by version alone, as
// golang-migrate pairs them (3_add_x.up.sql with 3_drop_x.down.sql). dbmate's
// markers count only at column 1 and outside quoted and dollar-quoted text.
// Flyway's dotted versions (V1.2__x.sql; see Version) and repeatable
// migrations (R__x.sql) are read with Options.FlywayVersions, goose's Go
// migrations (NNN_name.go) with Options.GoMigrations; without them such
// files are errors naming them.
//
// # Statements outside a transaction
//
// Statements that PostgreSQL refuses inside a transaction block (CREATE and
// DROP INDEX CONCURRENTLY, REINDEX … CONCURRENTLY, VACUUM, CREATE and DROP
// DATABASE or TABLESPACE, ALTER SYSTEM, …) are found while parsing, before
// anything runs, and listed in Section.NoTx. A section that would run one
// inside a transaction is handled as the file's own tool handles it:
// Flyway runs such a file outside a transaction, and golang-migrate sends a
// file that is that one statement alone, so pgmig sets NoTransaction (with
// NoTransactionReason) for them; anywhere else (pgmig's, goose's and
// dbmate's files) it is an error naming the file, the line and the marking
// that fixes it. ALTER TYPE … ADD VALUE is refused only by servers before
// PostgreSQL 12, so it is decided by Section.OnServer.
//
// # pg_dump output
//
// A file that pg_dump wrote is a migration: the data lines after COPY …
// FROM stdin, up to the line "\.", travel with their statement in
// Section.Copies (blanked in Section.SQL, so that it still splits and maps
// to the file line for line), and pg_dump's \restrict and \unrestrict lines
// are skipped. Any other line beginning with a psql meta-command outside
// quotes is an error naming the file and line.
//
// # Checksums
//
// Migration.Checksum is the hex SHA-256 of the up text as written: for an
// .up.sql file, the whole file; for a single file, its up section only, so
// comments before the first marker and the down section may change freely.
// It is Up.SQL except where ENVSUB substituted variables (the checksum is
// of the text before) or a BEGIN/COMMIT wrapper was dropped (the checksum
// covers the whole file).
//
// # Errors
//
// Migrations reports every problem in the files at once, joined with
// errors.Join; each is a *FileError, *DuplicateVersionError or
// *GoMigrationError and matches ErrInvalid. A source that cannot be read at
// all gives a plain error. Problems that do not stop the files from being
// applied (an empty up section, migration files in a subdirectory) are
// Warnings, logged to Options.Logger.
//
// # Usage
//
//	migs, err := source.Dir("migrations").Migrations(ctx)
//	if errors.Is(err, source.ErrInvalid) {
//		// bad file names, sections, directives or duplicate versions
//	}
//	for _, m := range migs {
//		for _, st := range source.Split(m.Up.SQL) {
//			if !st.Empty() {
//				line, col := source.LineCol(m.Up.SQL, st.Start)
//				fmt.Printf("%s:%d:%d\n", m.Up.File, m.Up.Line+line-1, col)
//			}
//		}
//	}
package source
