package source

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// CreateOptions choose how NewMigration numbers a new migration. The zero
// value follows the directory's style.
type CreateOptions struct {
	// Timestamp numbers it with the current UTC time (YYYYMMDDHHMMSS),
	// Sequential with the next number after the newest version, whatever
	// the directory does. At most one may be set.
	Timestamp, Sequential bool
	// Now is the clock a timestamp version is read from; zero means
	// time.Now.
	Now time.Time
}

// NewFile is one file NewMigration asks the caller to write.
type NewFile struct {
	Name string // at the root of the directory
	Body string
}

// Styles of a migrations directory, as NewMigration reads them from its
// newest file.
var (
	flywayFile = regexp.MustCompile(`^V([0-9]+(?:[._][0-9]+)*)__.+\.sql$`)
	pairFile   = regexp.MustCompile(`^([0-9]+)_.+\.(?:up|down)\.sql$`)
	singleFile = regexp.MustCompile(`^([0-9]+)_.+\.sql$`)
)

// timestampLayout is the version of timestamped directories (goose's,
// dbmate's and golang-migrate's -format default): 14 digits, UTC.
const timestampLayout = "20060102150405"

// NewMigration returns the files that "pgmig create" writes for a new
// migration called name in fsys, following the style of the directory's
// newest migration:
//   - Flyway V files give V<next>__name.sql (next: the newest version's
//     first part plus one);
//   - .up.sql/.down.sql pairs give a pair;
//   - otherwise one NNN_name.sql with empty up and down sections.
//
// Versions of 14 digits that read as a time (YYYYMMDDHHMMSS) give the
// current UTC time; others the next number, zero-padded to the width of
// the newest version. An empty (or missing) directory gets 001_name.sql.
// opts.Timestamp and opts.Sequential choose the numbering instead.
//
// Surrounding spaces of name are trimmed and each run of inner spaces
// becomes one '_'; the name must then be non-empty ASCII letters, digits,
// '_' and '-' (a *NameError otherwise). Files whose names are not
// migration names are skipped: "pgmig validate" reports them.
func NewMigration(fsys fs.FS, name string, opts CreateOptions) ([]NewFile, error) {
	name = strings.Join(strings.Fields(name), "_")
	if name == "" {
		return nil, &NameError{Name: name, Msg: "migration name is empty"}
	}
	for _, r := range name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-') {
			return nil, &NameError{Name: name, Msg: fmt.Sprintf("migration name %q: %q is not allowed; use ASCII letters, digits, '_' and '-'", name, r)}
		}
	}
	if opts.Timestamp && opts.Sequential {
		return nil, &NameError{Name: name, Msg: "choose one of timestamp and sequential numbering"}
	}
	newest, err := newestMigration(fsys)
	if err != nil {
		return nil, err
	}
	timestamp := opts.Timestamp || !opts.Sequential && newest.timestamp()
	var version string
	if timestamp {
		now := opts.Now
		if now.IsZero() {
			now = time.Now()
		}
		version = now.UTC().Format(timestampLayout)
		if newest.parts != nil && newest.parts[0] >= mustInt(version) {
			// Two in one second, or a clock behind the newest file: the
			// new migration must still sort last.
			version = strconv.FormatInt(newest.parts[0]+1, 10)
		}
	} else {
		if newest.parts != nil && newest.parts[0] == 1<<63-1 {
			return nil, fmt.Errorf("no version left after %d", newest.parts[0])
		}
		next, width := int64(1), 3
		if newest.parts != nil {
			next, width = newest.parts[0]+1, newest.width
		}
		version = fmt.Sprintf("%0*d", width, next)
	}
	switch newest.style {
	case styleFlyway:
		return []NewFile{{Name: "V" + version + "__" + name + ".sql", Body: ""}}, nil
	case stylePair:
		return []NewFile{
			{Name: version + "_" + name + ".up.sql", Body: ""},
			{Name: version + "_" + name + ".down.sql", Body: ""},
		}, nil
	}
	return []NewFile{{Name: version + "_" + name + ".sql", Body: Template()}}, nil
}

// NextFileName returns the name of the first file NewMigration writes
// with the zero CreateOptions: "005_add_orders.sql" in a directory whose
// newest file is 004_….sql.
func NextFileName(fsys fs.FS, name string) (string, error) {
	files, err := NewMigration(fsys, name, CreateOptions{})
	if err != nil {
		return "", err
	}
	return files[0].Name, nil
}

type createStyle int

const (
	styleSingle createStyle = iota
	stylePair
	styleFlyway
)

// newest is the newest migration of a directory, as NewMigration sees it.
type newest struct {
	parts []int64 // the version, part by part (Flyway's may be dotted); nil when none
	width int     // digits spelling its first part
	style createStyle
}

func (n newest) timestamp() bool {
	if n.parts == nil || len(n.parts) != 1 || n.width != len(timestampLayout) {
		return false
	}
	_, err := time.Parse(timestampLayout, strconv.FormatInt(n.parts[0], 10))
	return err == nil
}

// newestMigration finds the migration file of fsys's root with the highest
// version; for one version spelt twice, the widest spelling.
func newestMigration(fsys fs.FS) (newest, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return newest{}, fmt.Errorf("read migrations: %w", err)
	}
	var best newest
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		n, ok := classify(e.Name())
		if !ok {
			continue
		}
		switch c := compareParts(n.parts, best.parts); {
		case best.parts == nil, c > 0, c == 0 && n.width > best.width:
			best = n
		}
	}
	return best, nil
}

// classify reads a migration file name's version and style.
func classify(file string) (newest, bool) {
	var m []string
	style := styleSingle
	switch {
	case flywayFile.MatchString(file):
		m, style = flywayFile.FindStringSubmatch(file), styleFlyway
	case pairFile.MatchString(file):
		m, style = pairFile.FindStringSubmatch(file), stylePair
	case singleFile.MatchString(file):
		m = singleFile.FindStringSubmatch(file)
	default:
		return newest{}, false
	}
	var parts []int64
	for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == '.' || r == '_' }) {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return newest{}, false
		}
		parts = append(parts, v)
	}
	if len(parts) == 0 || parts[0] == 0 && len(parts) == 1 {
		return newest{}, false
	}
	width := len(m[1])
	if i := strings.IndexAny(m[1], "._"); i >= 0 {
		width = i
	}
	return newest{parts: parts, width: width, style: style}, true
}

// compareParts orders versions as Flyway does: part by part, as integers,
// a missing part counting as 0.
func compareParts(a, b []int64) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y int64
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func mustInt(s string) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}

// Template returns the body of a new single-file migration: empty up and
// down sections.
func Template() string {
	return "-- pgmig:up\n\n-- pgmig:down\n"
}

// NameError reports a name given to NewMigration that cannot make a
// migration file name. It is the caller's input that is wrong, not the
// files, so it does not match ErrInvalid.
type NameError struct {
	Name string
	Msg  string
}

func (e *NameError) Error() string { return e.Msg }
