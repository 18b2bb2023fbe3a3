package remote

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"unicode/utf8"
)

// limits bound the work and memory an archive may cost.
type limits struct {
	maxUnpacked int64 // total of all entries' sizes, declared and decompressed
	maxFiles    int   // number of entries
}

// entry is one accepted archive member.
type entry struct {
	raw  string   // the name as stored, for messages
	elem []string // the cleaned path's elements
	dir  bool
	sql  bool   // a .sql file, whose content was read
	data []byte // content of a .sql file
}

// collector checks entries as they come and builds the result.
type collector struct {
	lim      limits
	log      *slog.Logger
	entries  []entry
	count    int             // entries seen, duplicates and metadata included
	seen     map[string]bool // cleaned names of files and directories
	declared int64           // total of declared sizes
	read     int64           // total of bytes decompressed for .sql files
}

func newCollector(lim limits, log *slog.Logger) *collector {
	return &collector{lim: lim, log: log, seen: map[string]bool{}}
}

// cleanName splits an entry name into its path elements, refusing names
// that could point outside the root. "./" prefixes and empty elements (as
// in tar's "./001_a.sql" or "dir//a.sql") are harmless and dropped.
func cleanName(raw string) ([]string, error) {
	switch {
	case raw == "":
		return nil, unsafeEntry(raw, "empty name")
	case strings.ContainsRune(raw, '\\'):
		return nil, unsafeEntry(raw, "backslash in name (a Windows path separator)")
	case strings.HasPrefix(raw, "/"):
		return nil, unsafeEntry(raw, "absolute path")
	case len(raw) >= 2 && raw[1] == ':':
		return nil, unsafeEntry(raw, "drive letter in name")
	case strings.ContainsRune(raw, 0):
		return nil, unsafeEntry(raw, "NUL byte in name")
	case !utf8.ValidString(raw):
		// io/fs names are UTF-8: such a file could be listed, never opened.
		return nil, unsafeEntry(raw, "name is not UTF-8")
	}
	var elem []string
	for _, e := range strings.Split(raw, "/") {
		switch e {
		case "", ".":
		case "..":
			return nil, unsafeEntry(raw, `".." in path`)
		default:
			elem = append(elem, e)
		}
	}
	return elem, nil
}

// tick counts an entry against the limit on their number.
func (c *collector) tick(raw string) error {
	c.count++
	if c.count > c.lim.maxFiles {
		return unsafeEntry(raw, "more than %d entries", c.lim.maxFiles)
	}
	return nil
}

// add registers an entry; size is the declared size. It reports whether
// the entry's content is wanted (a .sql file).
func (c *collector) add(raw string, dir bool, size int64) (wanted bool, elem []string, err error) {
	if err := c.tick(raw); err != nil {
		return false, nil, err
	}
	elem, err = cleanName(raw)
	if err != nil {
		return false, nil, err
	}
	if len(elem) == 0 {
		if dir {
			// "./": the root itself.
			c.entries = append(c.entries, entry{raw: raw, dir: true})
			return false, nil, nil
		}
		return false, nil, unsafeEntry(raw, "file with no name")
	}
	if size < 0 || size > c.lim.maxUnpacked-c.declared {
		return false, nil, unsafeEntry(raw, "entries total more than the %s limit", humanSize(c.lim.maxUnpacked))
	}
	c.declared += size
	key := strings.Join(elem, "/")
	if c.seen[key] {
		if dir {
			// A directory listed twice changes nothing.
			return false, nil, nil
		}
		return false, nil, unsafeEntry(raw, "duplicate entry")
	}
	c.seen[key] = true
	wanted = !dir && strings.HasSuffix(elem[len(elem)-1], ".sql")
	c.entries = append(c.entries, entry{raw: raw, elem: elem, dir: dir, sql: wanted})
	return wanted, elem, nil
}

// readBody reads a wanted entry's content, of declared size size (which
// add checked against the limits). The buffer is allocated once at that
// size: io.ReadAll would grow it by doubling, copying the content each
// time and holding up to three times the entry at the peak. The bytes
// actually decompressed are counted all the same, since a header may lie:
// short content is a corrupt entry, and Go's tar and zip readers refuse
// content beyond the declared size (the zip reader checks the CRC there).
func (c *collector) readBody(raw string, r io.Reader, size int64) error {
	if size > c.lim.maxUnpacked-c.read {
		return unsafeEntry(raw, "entries total more than the %s limit", humanSize(c.lim.maxUnpacked))
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return corrupt(raw, "cannot be read", err)
	}
	var extra [1]byte
	switch n, err := r.Read(extra[:]); {
	case n > 0:
		return corrupt(raw, "cannot be read", fmt.Errorf("content longer than the declared %d bytes", size))
	case err != nil && !errors.Is(err, io.EOF):
		// A zip bomb whose header understates its size ends here.
		return corrupt(raw, "cannot be read", err)
	}
	c.read += size
	c.entries[len(c.entries)-1].data = data
	return nil
}

// result applies the layout rule: files at the root, or everything in one
// top folder, which becomes the root.
func (c *collector) result() (*memFS, error) {
	var top string      // the first element of the first entry with a folder
	var rootFile string // a file at the root
	for _, e := range c.entries {
		switch {
		case len(e.elem) == 0:
			continue
		case len(e.elem) == 1 && !e.dir:
			if rootFile == "" {
				rootFile = e.raw
			}
			if top != "" {
				return nil, unsafeEntry(e.raw, "files both at the root and in the folder %q; want one or the other", top)
			}
			continue
		}
		if rootFile != "" {
			return nil, unsafeEntry(e.raw, "files both at the root and in a folder (%q is at the root); want one or the other", rootFile)
		}
		if top == "" {
			top = e.elem[0]
		} else if e.elem[0] != top {
			return nil, unsafeEntry(e.raw, "more than one top folder (%q and %q); want the files at the root or in one folder", top, e.elem[0])
		}
	}
	depth := 1
	if top != "" {
		depth = 2
	}
	fsys := &memFS{files: map[string][]byte{}}
	for _, e := range c.entries {
		if !e.sql {
			continue
		}
		if len(e.elem) != depth {
			c.log.Warn("ignoring a .sql file not at the archive's root", "entry", e.raw)
			continue
		}
		name := e.elem[depth-1]
		fsys.files[name] = e.data
		fsys.names = append(fsys.names, name)
	}
	slices.Sort(fsys.names)
	return fsys, nil
}

// unpackTarGz unpacks a gzip-compressed tar archive.
func unpackTarGz(data io.Reader, lim limits, log *slog.Logger) (*memFS, error) {
	zr, err := gzip.NewReader(data)
	if err != nil {
		return nil, corrupt("", "not a gzip stream", err)
	}
	// The tar stream holds headers, padding and the entries that are
	// skipped, all of which gzip must produce: bound it as a whole, with
	// room for a header, padding and a modest pax record per entry.
	streamMax := lim.maxUnpacked + int64(lim.maxFiles+2)*4096
	stream := &countingReader{r: zr, left: streamMax}
	tr := tar.NewReader(stream)
	c := newCollector(lim, log)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if stream.over {
			return nil, &UnsafeArchiveError{Reason: fmt.Sprintf("decompresses to more than %s", humanSize(streamMax))}
		}
		if err != nil {
			if hdr != nil && errors.Is(err, tar.ErrInsecurePath) {
				return nil, unsafeEntry(hdr.Name, "insecure path")
			}
			return nil, corrupt("", "not a readable tar.gz", err)
		}
		var dir bool
		switch hdr.Typeflag {
		case tar.TypeReg:
		case tar.TypeDir:
			dir = true
		case tar.TypeXGlobalHeader:
			// git archive writes the commit id in one: metadata only.
			if err := c.tick(hdr.Name); err != nil {
				return nil, err
			}
			continue
		case tar.TypeSymlink:
			return nil, unsafeEntry(hdr.Name, "symlink to %q", hdr.Linkname)
		case tar.TypeLink:
			return nil, unsafeEntry(hdr.Name, "hard link to %q", hdr.Linkname)
		case tar.TypeChar, tar.TypeBlock:
			return nil, unsafeEntry(hdr.Name, "device file")
		case tar.TypeFifo:
			return nil, unsafeEntry(hdr.Name, "fifo")
		default:
			return nil, unsafeEntry(hdr.Name, "not a regular file (tar type %q)", hdr.Typeflag)
		}
		size := hdr.Size
		if dir {
			size = 0
		}
		wanted, _, err := c.add(hdr.Name, dir, size)
		if err != nil {
			return nil, err
		}
		if wanted {
			if err := c.readBody(hdr.Name, tr, size); err != nil {
				if stream.over {
					return nil, &UnsafeArchiveError{Reason: fmt.Sprintf("decompresses to more than %s", humanSize(streamMax))}
				}
				return nil, err
			}
		}
	}
	return c.result()
}

// corrupt reports an archive or entry that does not decode: a bad source,
// like a hostile one.
func corrupt(entry, what string, err error) error {
	return &UnsafeArchiveError{Entry: entry, Reason: fmt.Sprintf("%s: %v", what, err)}
}

// countingReader stops a stream after left bytes, remembering that it did.
type countingReader struct {
	r    io.Reader
	left int64
	over bool
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		r.over = true
		return 0, errTooLong
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.r.Read(p)
	r.left -= int64(n)
	return n, err
}

var errTooLong = errors.New("archive stream too long")

// unpackZip unpacks a zip archive. Only .sql entries are decompressed;
// the others count toward the limits by their declared size.
func unpackZip(data io.ReaderAt, size int64, lim limits, log *slog.Logger) (*memFS, error) {
	if n, ok := zipEntryCount(data, size); ok && n > lim.maxFiles {
		// Refuse before zip.NewReader allocates the whole directory.
		return nil, &UnsafeArchiveError{Reason: fmt.Sprintf("%d entries, more than %d", n, lim.maxFiles)}
	}
	zr, err := zip.NewReader(data, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, corrupt("", "not a readable zip", err)
	}
	// With GODEBUG=zipinsecurepath=0 the reader comes with ErrInsecurePath;
	// cleanName below names the entry either way.
	c := newCollector(lim, log)
	for _, f := range zr.File {
		mode := f.Mode()
		dir := strings.HasSuffix(f.Name, "/")
		switch {
		case f.Flags&0x41 != 0: // traditional or strong encryption
			return nil, unsafeEntry(f.Name, "encrypted")
		case mode.Type()&^fs.ModeDir != 0:
			if mode&fs.ModeSymlink != 0 {
				return nil, unsafeEntry(f.Name, "symlink")
			}
			return nil, unsafeEntry(f.Name, "not a regular file (mode %s)", mode)
		case mode.IsDir() != dir:
			return nil, unsafeEntry(f.Name, "directory flag and name disagree")
		}
		size := int64(f.UncompressedSize64)
		if f.UncompressedSize64 > uint64(lim.maxUnpacked) {
			size = -1 // refused by add without overflowing
		}
		if dir {
			size = 0
		}
		wanted, _, err := c.add(f.Name, dir, size)
		if err != nil {
			return nil, err
		}
		if !wanted {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, corrupt(f.Name, "cannot be read", err)
		}
		err = c.readBody(f.Name, rc, size)
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	return c.result()
}

// zipEntryCount reads the entry count from a zip's end of central
// directory record, when it finds one that is not zip64's placeholder.
func zipEntryCount(r io.ReaderAt, size int64) (int, bool) {
	const eocdLen = 22
	// The record ends the file, after a comment of at most 64 KiB.
	off := max(0, size-eocdLen-0xffff)
	data := make([]byte, size-off)
	if n, _ := r.ReadAt(data, off); n < len(data) {
		return 0, false
	}
	for i := len(data) - eocdLen; i >= 0; i-- {
		if data[i] == 'P' && data[i+1] == 'K' && data[i+2] == 5 && data[i+3] == 6 {
			n := int(data[i+10]) | int(data[i+11])<<8
			if n == 0xffff {
				return 0, false
			}
			return n, true
		}
	}
	return 0, false
}
