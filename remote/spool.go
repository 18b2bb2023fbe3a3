package remote

import (
	"crypto/sha256"
	"errors"
	"io"
)

// spoolChunk is the size of a spool's chunks: small enough that the last,
// partly filled one wastes little, large enough that a 64 MiB archive is
// a few hundred of them.
const spoolChunk = 256 << 10

// spool holds a downloaded archive in fixed-size chunks, with the SHA-256
// of its bytes. One contiguous buffer grown to an unknown size copies
// itself at every doubling and at its peak holds three times the bytes
// (an endless response refused at 64 MiB cost 267 MiB); chunks cost the
// bytes received, one chunk more at most, and nothing is ever copied.
type spool struct {
	chunks [][]byte // all full but the last
	size   int64
	sum    [sha256.Size]byte
}

// errSpoolFull is readSpool's error for a body longer than its limit.
var errSpoolFull = errors.New("spool: over the limit")

// readSpool reads r to its end into a spool, or fails with errSpoolFull
// as soon as more than max bytes have arrived.
func readSpool(r io.Reader, max int64) (*spool, error) {
	s := &spool{}
	h := sha256.New()
	for {
		if s.size > max {
			return nil, errSpoolFull
		}
		if len(s.chunks) == 0 || len(s.chunks[len(s.chunks)-1]) == spoolChunk {
			s.chunks = append(s.chunks, make([]byte, 0, spoolChunk))
		}
		last := &s.chunks[len(s.chunks)-1]
		n, err := r.Read((*last)[len(*last):spoolChunk])
		h.Write((*last)[len(*last) : len(*last)+n])
		*last = (*last)[:len(*last)+n]
		s.size += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if s.size > max {
		return nil, errSpoolFull
	}
	h.Sum(s.sum[:0])
	return s, nil
}

// ReadAt implements io.ReaderAt, for the zip reader.
func (s *spool) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("spool: negative offset")
	}
	n := 0
	for n < len(p) && off < s.size {
		c := s.chunks[off/spoolChunk]
		m := copy(p[n:], c[off%spoolChunk:])
		n += m
		off += int64(m)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// reader reads the spool from its start.
func (s *spool) reader() io.Reader { return io.NewSectionReader(s, 0, s.size) }
