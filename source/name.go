package source

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// fileKind says which part of a migration a file holds.
type fileKind int

const (
	kindSingle fileKind = iota // NNN_name.sql: up and optional down sections in one file
	kindUp                     // NNN_name.up.sql: the whole file is the up section
	kindDown                   // NNN_name.down.sql: the whole file is the down section
	kindGo                     // NNN_name.go: a goose migration written in Go
)

// fileName is what a file's name says about the migration it holds.
type fileName struct {
	version int64
	width   int // number of digits spelling the version, for NextFileName
	name    string
	kind    fileKind
	flyway  bool // V…__….sql or U…__….sql: an undo pairs with its V file, whatever their names
	ver     Version
	// repeatable: Flyway's R__name.sql, with no version.
	repeatable bool
}

// parseFileName parses the name of a .sql file at the root of a source;
// ext admits Flyway's dotted versions and repeatable migrations.
func parseFileName(file string, ext bool) (fileName, error) {
	fn, ok, err := pgmigName(file)
	if !ok {
		fn, ok, err = flywayName(file, ext)
	}
	if !ok {
		return fileName{}, &FileError{File: file, Msg: "file name does not begin with a version number; " + expectedNames}
	}
	return fn, err
}

const expectedNames = "expected NNN_name.sql, NNN_name.up.sql or NNN_name.down.sql"

// pgmigName recognises NNN_name.sql, NNN_name.up.sql and NNN_name.down.sql,
// which golang-migrate's N_name.up.sql/N_name.down.sql also satisfy.
func pgmigName(file string) (fileName, bool, error) {
	digits := len(file) - len(strings.TrimLeft(file, "0123456789"))
	if digits == 0 {
		return fileName{}, false, nil
	}
	fail := func(format string, args ...any) (fileName, bool, error) {
		return fileName{}, true, &FileError{File: file, Msg: fmt.Sprintf(format, args...)}
	}
	version, err := strconv.ParseInt(file[:digits], 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return fail("version %s is too large (at most %d)", file[:digits], int64(1<<63-1))
	}
	if version == 0 {
		return fail("version %s is not allowed: versions start at 1", file[:digits])
	}
	rest := file[digits:]
	if !strings.HasPrefix(rest, "_") {
		return fail("expected '_' right after the version %s; %s", file[:digits], expectedNames)
	}
	fn := fileName{version: version, width: digits, ver: IntVersion(version)}
	stem := rest[1:]
	switch {
	case strings.HasSuffix(stem, ".up.sql"):
		fn.kind, fn.name = kindUp, strings.TrimSuffix(stem, ".up.sql")
	case strings.HasSuffix(stem, ".down.sql"):
		fn.kind, fn.name = kindDown, strings.TrimSuffix(stem, ".down.sql")
	default:
		fn.kind, fn.name = kindSingle, strings.TrimSuffix(stem, ".sql")
	}
	if fn.name == "" {
		return fail("missing name after '_'; %s", expectedNames)
	}
	return fn, true, nil
}
