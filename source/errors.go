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
	Version int64
	Files   []string
}

func (e *DuplicateVersionError) Error() string {
	return fmt.Sprintf("version %d is claimed by more than one file: %s "+
		"(a version needs exactly one NNN_name.sql, or one NNN_name.up.sql with an optional NNN_name.down.sql)",
		e.Version, strings.Join(e.Files, ", "))
}

// Is reports whether target is ErrInvalid.
func (e *DuplicateVersionError) Is(target error) bool { return target == ErrInvalid }
