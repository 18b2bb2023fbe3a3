//go:build unix

package source

import (
	"io/fs"
	"os"
	"syscall"
	"unsafe"
)

// dirFS is os.DirFS(dir) whose files are read in four system calls:
// open, fstat, one read, close. os.ReadFile spends ten on a small file
// (four fcntl and a failing epoll_ctl as it offers the descriptor to the
// network poller, which refuses regular files, and a second read to see
// the end), and for a directory of 10,000 migrations those calls are most
// of what `pgmig status` costs its machine.
type dirFS struct {
	osDirFS
	dir string
}

// osDirFS is what os.DirFS's file system implements besides Open; dirFS
// passes it all on.
type osDirFS interface {
	fs.StatFS
	fs.ReadDirFS
	fs.ReadFileFS
}

func newDirFS(dir string) fs.FS { return dirFS{osDirFS: os.DirFS(dir).(osDirFS), dir: dir} }

// ReadFileString returns the content of the file name, as os.DirFS's
// ReadFile would, with its errors.
func (d dirFS) ReadFileString(name string) (string, error) {
	if d.dir == "" || !fs.ValidPath(name) {
		b, err := d.ReadFile(name) // os.DirFS's own error
		return string(b), err
	}
	full := d.dir + "/" + name
	if d.dir[len(d.dir)-1] == '/' {
		full = d.dir + name
	}
	// O_NONBLOCK: a FIFO put in place of the file after the directory was
	// listed would block open(2) until a writer came, out of reach of any
	// signal. Regular files ignore the flag, and anything else is refused
	// below before a byte is read.
	fd, err := retry(func() (int, error) {
		return syscall.Open(full, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	})
	if err != nil {
		return "", &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if _, err := retry(func() (int, error) { return 0, syscall.Fstat(fd, &st) }); err != nil {
		return "", &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		// A device (a link to /dev/zero) would never end, a FIFO never
		// begin: the same refusal as for such an entry in the listing.
		return "", notRegular(name, "", fileType(uint32(st.Mode)))
	}
	// One byte more than the size: a read that stops short of filling
	// the buffer once the size is reached is the end of the file.
	size := max(int(st.Size), 0)
	b := make([]byte, 0, size+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // the file grew: go on to its end
		}
		want := cap(b) - len(b)
		n, err := retry(func() (int, error) { return syscall.Read(fd, b[len(b):cap(b)]) })
		if err != nil {
			return "", &fs.PathError{Op: "read", Path: name, Err: err}
		}
		b = b[:len(b)+n]
		if n == 0 || (n < want && len(b) >= size) {
			break
		}
	}
	// The bytes are ours alone and never written again (see readFile).
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

// fileType is the fs.FileMode type bits of a stat(2) mode.
func fileType(mode uint32) fs.FileMode {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		return fs.ModeDevice
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	case syscall.S_IFLNK:
		return fs.ModeSymlink
	}
	return fs.ModeIrregular
}

// retry runs a system call again while it is interrupted by a signal.
func retry(call func() (int, error)) (int, error) {
	for {
		n, err := call()
		if err != syscall.EINTR {
			return n, err
		}
	}
}
