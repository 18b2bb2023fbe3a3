package source

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// NextFileName returns the file name for a new migration called name in
// fsys, for "pgmig create": the highest version among the migration files
// at the root of fsys plus one, zero-padded to the width of that file's
// version (3 digits when there is none), then "_", name and ".sql", as in
// "005_add_orders.sql".
//
// Surrounding spaces are trimmed and each run of inner spaces becomes one
// '_'; the name must then be non-empty ASCII letters, digits, '_' and '-'.
// A root that does not exist counts as empty, so the caller may create the
// directory when writing the file. Files whose names are not migration
// names are skipped: "pgmig validate" reports them.
func NextFileName(fsys fs.FS, name string) (string, error) {
	name = strings.Join(strings.Fields(name), "_")
	if name == "" {
		return "", &NameError{Name: name, Msg: "migration name is empty"}
	}
	for _, r := range name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-') {
			return "", &NameError{Name: name, Msg: fmt.Sprintf("migration name %q: %q is not allowed; use ASCII letters, digits, '_' and '-'", name, r)}
		}
	}

	entries, err := fs.ReadDir(fsys, ".")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read migrations: %w", err)
	}
	var latest fileName
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		fn, err := parseFileName(e.Name(), false)
		if err != nil {
			continue
		}
		if fn.version > latest.version || fn.version == latest.version && fn.width > latest.width {
			latest = fn
		}
	}
	if latest.version == 1<<63-1 {
		return "", fmt.Errorf("no version left after %d", latest.version)
	}
	width := latest.width
	if width == 0 {
		width = 3
	}
	return fmt.Sprintf("%0*d_%s.sql", width, latest.version+1, name), nil
}

// Template returns the body of a new migration file: empty up and down
// sections.
func Template() string {
	return "-- pgmig:up\n\n-- pgmig:down\n"
}

// NameError reports a name given to NextFileName that cannot make a
// migration file name. It is the caller's input that is wrong, not the
// files, so it does not match ErrInvalid.
type NameError struct {
	Name string
	Msg  string
}

func (e *NameError) Error() string { return e.Msg }
