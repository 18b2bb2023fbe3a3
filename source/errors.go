package source

import (
	"fmt"
	"strings"
)

// FileError is a problem with one migration file: its name, its sections or
// its directives. It matches ErrInvalid.
type FileError struct {
	File string // file name, relative to the source root
	Line int    // 1-based line of File; 0 when the problem is not on one line
	Msg  string // what is wrong and what is expected
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Is reports whether target is ErrInvalid, so that errors.Is(err, ErrInvalid)
// holds for every FileError.
func (e *FileError) Is(target error) bool { return target == ErrInvalid }

// DuplicateVersionError reports files that claim the same version. Files are
// sorted by name. It matches ErrInvalid.
type DuplicateVersionError struct {
	Version int64   // 0 for a dotted version
	Ver     Version // the version as the first file spells it
	Files   []string
}

func (e *DuplicateVersionError) Error() string {
	v := e.Ver.String()
	if v == "" {
		v = fmt.Sprint(e.Version)
	}
	var flyway, other bool
	for _, f := range e.Files {
		if isFlywayName(f) {
			flyway = true
		} else {
			other = true
		}
	}
	var hint []string
	if other {
		hint = append(hint, "exactly one NNN_name.sql, or one NNN_name.up.sql with an optional NNN_name.down.sql")
	}
	if flyway {
		hint = append(hint, "exactly one V"+v+"__<description>.sql with an optional U"+v+"__<description>.sql undo file"+
			" (Flyway versions compare as numbers, so V1, V01 and V1.0 are one version)")
	}
	return fmt.Sprintf("version %s is claimed by more than one file: %s (a version needs %s)",
		v, strings.Join(e.Files, ", "), strings.Join(hint, "; or "))
}

// isFlywayName reports whether file is named as Flyway names its files:
// V, U or R, then (for V and U) a version, then "__".
func isFlywayName(file string) bool {
	return len(file) > 1 && strings.IndexByte("VUR", file[0]) >= 0 && strings.Contains(file, "__")
}

// Is reports whether target is ErrInvalid.
func (e *DuplicateVersionError) Is(target error) bool { return target == ErrInvalid }

// Warning is a problem with the files that does not stop them from being
// applied, such as an empty up section or a subdirectory holding
// migration files pgmig does not read. A Source reports warnings to its
// Options.Logger.
type Warning struct {
	File string // file or directory name, relative to the source root
	Line int    // 1-based; 0 when the warning is not about one line
	Msg  string
}

func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg)
	}
	return w.File + ": " + w.Msg
}

// GoMigrationError reports goose migrations written in Go (NNN_name.go
// files that register themselves with goose) in a source read without
// Options.GoMigrations: their code cannot run from the files, so applying
// the SQL migrations around them would leave their changes out. It
// matches ErrInvalid.
type GoMigrationError struct {
	Files    []string // sorted by version
	Versions []int64
}

func (e *GoMigrationError) Error() string {
	return fmt.Sprintf("%s: goose migrations written in Go, which pgmig cannot run from files; "+
		"a Go program can run them by registering their functions with pgmig's library beside these files, "+
		"and adopting a goose history accepts their versions", strings.Join(e.Files, ", "))
}

// Is reports whether target is ErrInvalid.
func (e *GoMigrationError) Is(target error) bool { return target == ErrInvalid }
