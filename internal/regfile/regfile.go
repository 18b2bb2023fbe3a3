// Package regfile opens files that must be regular files (a targets
// list, a desired schema) without hanging on anything else: a FIFO
// blocks open(2) until a writer comes, in a system call no signal ends,
// and a device such as /dev/zero never ends.
package regfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular is wrapped by the error for a path that is not a regular
// file; the error is a *fs.PathError naming the path.
var ErrNotRegular = errors.New("not a regular file")

// Open opens path for reading if it is a regular file (after symbolic
// links), and reads nothing from it otherwise.
func Open(path string) (*os.File, error) {
	// O_NONBLOCK: a FIFO opens at once instead of waiting for a writer;
	// a regular file ignores the flag.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("is %s, %w: read nothing from it", Kind(st.Mode()), ErrNotRegular)}
	}
	return f, nil
}

// ReadFile is os.ReadFile for a file that must be regular.
func ReadFile(path string) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Kind names the type of a file that is not regular, for messages: "a
// named pipe (FIFO)".
func Kind(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a device"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "an irregular file"
}
