package source

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
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
// Subdirectories and files not ending in ".sql" (case-sensitively) are
// ignored. fsys is read afresh on every call to Migrations, and the Source
// is as safe for concurrent use as fsys is.
func FromFS(fsys fs.FS) Source { return &fsSource{fsys: fsys} }

// Dir returns the Source reading the .sql files in the directory path, as
// FromFS(os.DirFS(path)) does. A path that does not exist, is not a
// directory or cannot be read makes Migrations return a plain error (not
// ErrInvalid) naming the path.
func Dir(path string) Source { return &fsSource{fsys: os.DirFS(path), dir: path} }

type fsSource struct {
	fsys   fs.FS
	dir    string                      // the directory os.DirFS was given, for messages; "" for FromFS
	lookup func(string) (string, bool) // ENVSUB variables; nil: os.LookupEnv
}

// readers is how many files are read at once.
const readers = 8

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

	// Read and parse the files on a few goroutines: for thousands of small
	// files the time goes to open, read and close, which overlap well. The
	// results keep the directory's order, so errors read the same every run.
	type slot struct {
		pf    parsedFile
		errs  []error
		fatal error // unreadable: the whole source fails
		ok    bool  // a migration file
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	slots := make([]slot, len(names))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(readers, len(names)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				name := names[i]
				fn, err := parseFileName(name)
				if err != nil {
					slots[i].errs = []error{err}
					continue
				}
				content, err := readFile(s.fsys, name)
				if err != nil {
					slots[i].fatal = fmt.Errorf("read migration %s: %w", s.path(name), err)
					continue
				}
				slots[i].pf, slots[i].errs = parseFileEnv(name, fn, content, s.lookup)
				slots[i].ok = true
			}
		}()
	}
	for i := range names {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var (
		files []parsedFile
		errs  []error
	)
	for _, sl := range slots {
		if sl.fatal != nil {
			return nil, sl.fatal
		}
		if sl.ok {
			files = append(files, sl.pf)
		}
		errs = append(errs, sl.errs...)
	}
	migs, gerrs := assemble(files)
	errs = append(errs, gerrs...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return migs, nil
}

func (s *fsSource) path(name string) string {
	if s.dir == "" {
		return name
	}
	return strings.TrimSuffix(s.dir, "/") + "/" + name
}

// assemble groups parsed files by version into migrations, in version
// order, reporting versions claimed twice and down files without their up
// file.
func assemble(files []parsedFile) ([]Migration, []error) {
	byVersion := map[int64][]parsedFile{}
	for _, f := range files {
		byVersion[f.version] = append(byVersion[f.version], f)
	}
	versions := make([]int64, 0, len(byVersion))
	for v := range byVersion {
		versions = append(versions, v)
	}
	slices.Sort(versions)

	var (
		migs []Migration
		errs []error
	)
	for _, v := range versions {
		group := byVersion[v]
		var singles, ups, downs, undos []parsedFile
		for _, f := range group {
			switch {
			case f.kind == kindSingle:
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
			errs = append(errs, &DuplicateVersionError{Version: v, Files: names})
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
				"down file without an up file: expected %s beside it",
				strings.TrimSuffix(d.file, ".down.sql")+".up.sql")})
			continue
		}
		m := slices.Concat(singles, ups)[0]
		mig := Migration{Version: v, Name: m.name, Down: m.down}
		if m.up != nil {
			mig.Up = *m.up
		}
		if len(downs) == 1 {
			d := downs[0]
			// A Flyway undo file pairs with a versioned file only, and a
			// .down.sql file with a .up.sql file only.
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
			if d.name != m.name && !d.flyway {
				errs = append(errs, &FileError{File: d.file, Msg: fmt.Sprintf(
					"name %q does not match %q of its up file %s; expected %s",
					d.name, m.name, m.file, strings.TrimSuffix(m.file, ".up.sql")+".down.sql")})
				continue
			}
			mig.Down = d.down
		}
		mig.Checksum = checksum(m.sum)
		migs = append(migs, mig)
	}
	return migs, errs
}
