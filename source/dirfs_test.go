//go:build unix

package source

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
