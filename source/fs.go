package source

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/pgmig/pgmig/internal/regfile"
)

//go:embed core/*.sql
var coreFS embed.FS

// BuiltinFS returns the files of the four core migrations compiled into
// pgmig, at the root of the returned file system.
func BuiltinFS() fs.FS {
	sub, err := fs.Sub(coreFS, "core")
	if err != nil {
		panic(err) // "core" is a valid path: fs.Sub cannot fail
	}
	return sub
}

// Builtin returns the four core migrations compiled into pgmig:
// 001_create_users, 002_create_user_security, 003_create_audit_log and
// 004_create_sessions.
func Builtin() Source { return FromFS(BuiltinFS()) }

// FromFS returns the Source reading the .sql files at the root of fsys.
// Other files and subdirectories are not read, but those that look like
// migrations are reported: a name ending in ".SQL" or another case of it,
// or one that is not UTF-8, is an error, and so is a .sql entry that is
// not a regular file (a FIFO, a device, a link to one), from which nothing
// is read; migration files in a subdirectory are a warning (see Options.Logger).
// goose's NNN_name.go migrations are a *GoMigrationError (see
// Options.GoMigrations). fsys is read afresh on every call to Migrations, and the Source
// is as safe for concurrent use as fsys is.
func FromFS(fsys fs.FS) Source { return &fsSource{fsys: fsys} }

// Dir returns the Source reading the .sql files in the directory dir, as
// FromFS(os.DirFS(dir)) does. A path that does not exist, is not a
// directory or cannot be read makes Migrations return a plain error (not
// ErrInvalid) naming the path.
func Dir(dir string) Source { return &fsSource{fsys: newDirFS(dir), dir: dir} }

type fsSource struct {
	fsys fs.FS
	dir  string // the directory os.DirFS was given, for messages; "" for FromFS
	opts Options
}

// readers is how many files are read at once.
const readers = 8

// candidate is a directory entry that may be a migration file.
type candidate struct {
	entry fs.DirEntry
	goose bool // a NNN_name.go file, a goose Go migration if it registers itself
}

func (s *fsSource) Migrations(ctx context.Context) ([]Migration, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.dir != "" {
		info, err := os.Stat(s.dir)
		if err != nil {
			return nil, fmt.Errorf("read migrations directory: %w", err)
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("read migrations directory %s: not a directory", s.dir)
		}
	}
	entries, err := fs.ReadDir(s.fsys, ".")
	if err != nil {
		if s.dir != "" {
			return nil, fmt.Errorf("read migrations directory %s: %w", s.dir, err)
		}
		return nil, fmt.Errorf("read migrations: %w", err)
	}

	var (
		cands    []candidate
		errs     []error
		warnings []Warning
	)
	for _, e := range entries {
		name := e.Name()
		if !utf8.ValidString(name) {
			// Such a name cannot be printed, stored or matched as the
			// tracking table holds names; say which one it is, quoted.
			if valid := strings.ToValidUTF8(name, "_"); looksLikeMigration(valid) || strings.EqualFold(path.Ext(valid), ".sql") {
				errs = append(errs, &FileError{File: strconv.Quote(name), Msg: "file name is not UTF-8: rename it to UTF-8 text"})
			}
			continue
		}
		switch {
		case strings.HasSuffix(name, ".sql"):
			cands = append(cands, candidate{entry: e})
		case e.IsDir():
			if s.opts.Logger != nil {
				warnings = append(warnings, s.subdirWarning(name)...)
			}
		case strings.EqualFold(path.Ext(name), ".sql") && looksLikeMigration(name):
			errs = append(errs, &FileError{File: name, Msg: fmt.Sprintf(
				"file name ends in %q: pgmig reads only names ending in \".sql\", in lower case; rename it to %s",
				path.Ext(name), strings.TrimSuffix(name, path.Ext(name))+".sql")})
		case strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") && isGooseGoName(name):
			cands = append(cands, candidate{entry: e, goose: true})
		}
	}

	// Read and parse the files on a few goroutines: for thousands of small
	// files the time goes to open, read and close, which overlap well. The
	// results keep the directory's order, so errors read the same every run.
	// Each reader takes the next file from a shared counter: handing them
	// out on a channel woke a parked reader per file, 15 % of the time at
	// 10,000 files.
	type slot struct {
		pf    parsedFile
		errs  []error
		fatal error // unreadable: the whole source fails
		ok    bool  // a migration file
	}
	slots := make([]slot, len(cands))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(readers, len(cands)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(cands) || ctx.Err() != nil {
					return
				}
				c := cands[i]
				name := c.entry.Name()
				var fn fileName
				if !c.goose {
					var err error
					if fn, err = parseFileName(name, flywayExt{dotted: s.opts.FlywayVersions, repeatable: s.opts.FlywayVersions || s.opts.Repeatables}); err != nil {
						slots[i].errs = []error{err}
						continue
					}
				}
				// Only regular files are read: a FIFO would block the read
				// forever and a device (a link to /dev/zero, say) never end.
				if err := s.regular(c.entry); err != nil {
					slots[i].errs = []error{err}
					continue
				}
				content, err := readFile(s.fsys, name)
				var fe *FileError
				if errors.As(err, &fe) {
					// Swapped for a FIFO or a device since the listing:
					// a validation error like any other non-regular file.
					slots[i].errs = []error{err}
					continue
				}
				if err != nil {
					slots[i].fatal = fmt.Errorf("read migration %s: %w", s.path(name), err)
					continue
				}
				if c.goose {
					pf, ok := parseGoFile(name, content)
					slots[i].pf, slots[i].ok = pf, ok
					continue
				}
				slots[i].pf, slots[i].errs = parseFileEnv(name, fn, content, s.opts.LookupEnv)
				slots[i].ok = true
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var files, goFiles []parsedFile
	for _, sl := range slots {
		if sl.fatal != nil {
			return nil, sl.fatal
		}
		if sl.ok {
			files = append(files, sl.pf)
			if sl.pf.kind == kindGo {
				goFiles = append(goFiles, sl.pf)
			}
			warnings = append(warnings, sl.pf.warnings...)
		}
		errs = append(errs, sl.errs...)
	}
	if len(goFiles) > 0 && !s.opts.GoMigrations {
		slices.SortFunc(goFiles, func(a, b parsedFile) int { return cmp.Compare(a.version, b.version) })
		ge := &GoMigrationError{}
		for _, f := range goFiles {
			ge.Files = append(ge.Files, f.file)
			ge.Versions = append(ge.Versions, f.version)
		}
		errs = append(errs, ge)
	}
	migs, gerrs := assemble(files)
	errs = append(errs, gerrs...)
	if s.opts.Logger != nil {
		for _, w := range warnings {
			if w.Line > 0 {
				s.opts.Logger.Warn(w.Msg, "file", s.path(w.File), "line", w.Line)
			} else {
				s.opts.Logger.Warn(w.Msg, "file", s.path(w.File))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return migs, nil
}

// regular returns a *FileError unless the entry is a regular file or a
// symbolic link to one. It reads nothing from the file.
func (s *fsSource) regular(e fs.DirEntry) error {
	t := e.Type()
	if t.IsRegular() {
		return nil
	}
	what := ""
	if t&fs.ModeSymlink != 0 {
		info, err := fs.Stat(s.fsys, e.Name())
		if err != nil {
			return &FileError{File: e.Name(), Msg: fmt.Sprintf("is a symbolic link that cannot be followed: %v", err)}
		}
		if info.Mode().IsRegular() {
			return nil
		}
		t, what = info.Mode().Type(), "a symbolic link to "
	}
	return notRegular(e.Name(), what, t)
}

// notRegular is the *FileError for the file name of type t, which is not
// a regular file; what qualifies it ("a symbolic link to ").
func notRegular(name, what string, t fs.FileMode) error {
	return &FileError{File: name, Msg: fmt.Sprintf("is %s%s, not a regular file: pgmig reads migrations from regular files only, and read nothing from it",
		what, regfile.Kind(t))}
}

// looksLikeMigration reports whether name, whatever its extension, begins
// as a migration file name does: a version and '_', or Flyway's V, U or R
// and a version or "__".
func looksLikeMigration(name string) bool {
	digits := len(name) - len(strings.TrimLeft(name, "0123456789"))
	if digits > 0 {
		return strings.HasPrefix(name[digits:], "_")
	}
	return isFlywayName(name)
}

// subdirWarning reports a subdirectory holding files named as migrations:
// pgmig reads only the root of a source, while Flyway, for one, also
// reads the folders below.
func (s *fsSource) subdirWarning(dir string) []Warning {
	entries, err := fs.ReadDir(s.fsys, dir)
	if err != nil {
		return nil
	}
	var found []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".sql") && looksLikeMigration(e.Name()) {
			found = append(found, e.Name())
		}
	}
	if len(found) == 0 {
		return nil
	}
	more := ""
	if len(found) > 3 {
		found, more = found[:3], fmt.Sprintf(" and %d more", len(found)-3)
	}
	return []Warning{{File: dir, Msg: fmt.Sprintf("subdirectory holds files named as migrations (%s%s) that pgmig does not read: "+
		"only the files at the root of the source are migrations", strings.Join(found, ", "), more)}}
}

func (s *fsSource) path(name string) string {
	if s.dir == "" {
		return name
	}
	return strings.TrimSuffix(s.dir, "/") + "/" + name
}

// assemble groups parsed files by version into migrations, in version
// order, then the repeatable ones in name order, reporting versions
// claimed twice and down files without their up file.
func assemble(files []parsedFile) ([]Migration, []error) {
	// Each version's files, as indexes into files in their order: the
	// first in byVersion, any others chained through more (-1 ends). One
	// file a version is the usual case, and at 10,000 files copying each
	// parsedFile into a slice of its own was most of assemble's time.
	byVersion := make(map[string]int, len(files))
	more := make([]int, len(files))
	last := make(map[string]int) // the last file of a version met twice
	versions := make([]Version, 0, len(files))
	var repeatables []parsedFile
	for i := range files {
		more[i] = -1
		f := &files[i]
		if f.repeatable {
			repeatables = append(repeatables, *f)
			continue
		}
		k := f.ver.Canonical()
		first, ok := byVersion[k]
		if !ok {
			byVersion[k] = i
			versions = append(versions, f.ver)
			continue
		}
		prev, ok := last[k]
		if !ok {
			prev = first
		}
		more[prev], last[k] = i, i
	}
	slices.SortFunc(versions, Version.Compare)

	migs := make([]Migration, 0, len(versions)+len(repeatables))
	var errs []error
	var group, singles, ups, downs, undos []*parsedFile // reused for every version
	for _, ver := range versions {
		group = group[:0]
		for i := byVersion[ver.Canonical()]; i >= 0; i = more[i] {
			group = append(group, &files[i])
		}
		v, _ := ver.Int()
		singles, ups, downs, undos = singles[:0], ups[:0], downs[:0], undos[:0]
		for _, f := range group {
			switch {
			case f.kind == kindSingle, f.kind == kindGo:
				singles = append(singles, f)
			case f.kind == kindUp:
				ups = append(ups, f)
			case f.flyway:
				undos = append(undos, f)
			default:
				downs = append(downs, f)
			}
		}
		downs = append(downs, undos...)
		if len(singles)+len(ups) > 1 || len(downs) > 1 || len(singles) == 1 && len(downs) == 1 && !downs[0].flyway {
			names := make([]string, len(group))
			for i, f := range group {
				names[i] = f.file
			}
			slices.Sort(names)
			errs = append(errs, &DuplicateVersionError{Version: v, Ver: ver, Files: names})
			continue
		}
		if len(singles)+len(ups) == 0 {
			d := downs[0]
			if d.flyway {
				errs = append(errs, &FileError{File: d.file, Msg: fmt.Sprintf(
					"undo file without its versioned file: expected V%s__<description>.sql beside it", d.file[1:1+d.width])})
				continue
			}
			errs = append(errs, &FileError{File: d.file, Msg: fmt.Sprintf(
				"down file without an up file: expected %s beside it (or any .up.sql file of version %d: up and down pair by version)",
				strings.TrimSuffix(d.file, ".down.sql")+".up.sql", v)})
			continue
		}
		var m *parsedFile // exactly one of singles and ups holds one file now
		if len(singles) > 0 {
			m = singles[0]
		} else {
			m = ups[0]
		}
		mig := Migration{Version: v, Ver: ver, Name: m.name, Down: m.down, Go: m.kind == kindGo}
		if m.up != nil {
			mig.Up = *m.up
		}
		if len(downs) == 1 {
			d := downs[0]
			// A Flyway undo file pairs with a versioned file only, and a
			// .down.sql file with a .up.sql file only; golang-migrate pairs
			// them by version alone, whatever their names.
			if d.flyway && !m.flyway {
				errs = append(errs, &FileError{File: d.file, Msg: fmt.Sprintf(
					"undo file without its versioned file: expected V%s__<description>.sql beside it, not %s", d.file[1:1+d.width], m.file)})
				continue
			}
			if !d.flyway && m.flyway {
				errs = append(errs, &FileError{File: d.file, Msg: fmt.Sprintf(
					"down file without an up file: expected %s beside it; the undo of %s is a U%s__<description>.sql file",
					strings.TrimSuffix(d.file, ".down.sql")+".up.sql", m.file, m.file[1:1+m.width])})
				continue
			}
			mig.Down = d.down
		}
		mig.Checksum = checksum(m.sum)
		migs = append(migs, mig)
	}
	slices.SortFunc(repeatables, func(a, b parsedFile) int { return strings.Compare(a.name, b.name) })
	for _, r := range repeatables {
		mig := Migration{Name: r.name, Repeatable: true, Checksum: checksum(r.sum)}
		if r.up != nil {
			mig.Up = *r.up
		}
		migs = append(migs, mig)
	}
	if len(migs) == 0 {
		migs = nil // as before the preallocation: no migrations is nil
	}
	return migs, errs
}
