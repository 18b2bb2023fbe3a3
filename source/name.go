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
)

// fileName is what a file's name says about the migration it holds.
type fileName struct {
	version int64
	width   int // number of digits spelling the version, for NextFileName
	name    string
	kind    fileKind
	flyway  bool // V…__….sql or U…__….sql: an undo pairs with its V file, whatever their names
}

// A nameFormat recognises the file names of one migration tool. It returns
// ok false when file is not in its format at all, so the next format may try;
// when ok is true, err (a *FileError) explains what is wrong with the name.
//
// Other tools' layouts (Flyway's V1__name.sql, say) are added as further
// formats; the file's kind and version are all the rest of the package needs.
type nameFormat func(file string) (fn fileName, ok bool, err error)

// nameFormats lists the recognisers in the order they are tried.
func nameFormats() []nameFormat {
	return []nameFormat{pgmigName, flywayName}
}

const expectedNames = "expected NNN_name.sql, NNN_name.up.sql or NNN_name.down.sql"

// parseFileName parses the name of a .sql file at the root of a source.
func parseFileName(file string) (fileName, error) {
	for _, format := range nameFormats() {
		if fn, ok, err := format(file); ok {
			return fn, err
		}
	}
	return fileName{}, &FileError{File: file, Msg: "file name does not begin with a version number; " + expectedNames}
}

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
	fn := fileName{version: version, width: digits}
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
