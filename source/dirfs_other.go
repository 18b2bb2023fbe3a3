//go:build !unix

package source

import (
	"io/fs"
	"os"
)

func newDirFS(dir string) fs.FS { return os.DirFS(dir) }
