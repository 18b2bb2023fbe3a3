//go:build unix

package source

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dirFS reads what os.ReadFile reads, at every size around its buffer's
// edges, and fails as os.DirFS fails.
func TestDirFSReadsAsOS(t *testing.T) {
	dir := t.TempDir()
	sizes := []int{0, 1, 511, 4095, 4096, 4097, 1 << 20}
	for _, n := range sizes {
		body := strings.Repeat("x", n)
		if err := os.WriteFile(filepath.Join(dir, name(n)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{dir, dir + "/"} {
		fsys := newDirFS(d).(readFileStringFS)
		for _, n := range sizes {
			got, err := fsys.ReadFileString(name(n))
			want, _ := os.ReadFile(filepath.Join(dir, name(n)))
			if err != nil || got != string(want) {
				t.Errorf("%s (dir %q): %d bytes, %v; want %d bytes", name(n), d, len(got), err, len(want))
			}
		}
		_, err := fsys.ReadFileString("missing.sql")
		var pe *fs.PathError
		if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != "missing.sql" || pe.Op != "open" {
			t.Errorf("missing file: %v, want open missing.sql: not exist", err)
		}
		if _, err := fsys.ReadFileString("../x"); err == nil {
			t.Error("a path out of the directory was read")
		}
	}
	// A directory is not a file: read fails, as os.ReadFile's does.
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := newDirFS(dir).(readFileStringFS).ReadFileString("sub"); err == nil {
		t.Error("a directory read as a file")
	}
}

func name(n int) string { return fmt.Sprintf("%07d_size.sql", n) }

// A file swapped for a FIFO or a device after the directory was listed is
// refused when it is opened, with the error such an entry in the listing
// gets, and nothing is read from it: neither open(2) nor read(2) blocks.
func TestDirFSRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "001_fifo.sql"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "002_zero.sql")); err != nil {
		t.Fatal(err)
	}
	fsys := newDirFS(dir).(readFileStringFS)
	for name, kind := range map[string]string{"001_fifo.sql": "a named pipe (FIFO)", "002_zero.sql": "a character device"} {
		done := make(chan error, 1)
		go func() { _, err := fsys.ReadFileString(name); done <- err }()
		select {
		case err := <-done:
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != name || !strings.Contains(fe.Msg, kind) || !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %v, want a *FileError naming it as %s", name, err, kind)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: still reading after 5s", name)
		}
	}
}
