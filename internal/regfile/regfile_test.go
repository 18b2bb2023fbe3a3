package regfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A regular file reads whole; a FIFO, a device and a directory are each
// refused at once as a *fs.PathError wrapping ErrNotRegular and naming
// their kind, without blocking on the FIFO.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("one\ntwo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(plain); err != nil || string(b) != "one\ntwo\n" {
		t.Fatalf("ReadFile(plain) = %q, %v", b, err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{fifo: "a named pipe (FIFO)", "/dev/zero": "a character device", dir: "a directory"} {
		_, err := ReadFile(path)
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Path != path || !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "is "+kind+", not a regular file") {
			t.Errorf("ReadFile(%s) = %v: want a *fs.PathError naming it as %s", path, err, kind)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}
