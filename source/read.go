package source

import (
	"io/fs"
	"unsafe"
)

// readFileStringFS is a file system that hands out a file's content as a
// string it already holds, as remote's unpacked archives do: an entry of
// hundreds of MiB is then not copied once into a []byte for fs.ReadFile
// and again into the string parsing works on.
type readFileStringFS interface {
	fs.FS
	ReadFileString(name string) (string, error)
}

// readFile returns the content of the file name in fsys, as a string
// costing no copy beyond the one fs.ReadFile makes, or none at all when
// fsys has a ReadFileString method.
func readFile(fsys fs.FS, name string) (string, error) {
	if sfs, ok := fsys.(readFileStringFS); ok {
		return sfs.ReadFileString(name)
	}
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return "", err
	}
	// The bytes are ours alone and never written again: fs.ReadFile returns
	// a fresh slice (fs.ReadFileFS requires ReadFile to return a copy the
	// caller may modify), and nothing here keeps b. string(b) would hold
	// the file twice, which for a local file of millions of statements is
	// the largest allocation of a run.
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}
