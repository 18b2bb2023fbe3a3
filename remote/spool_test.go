package remote

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestSpool(t *testing.T) {
	tests := []struct {
		name string
		size int // bytes of the body
		max  int64
		full bool // readSpool must refuse it
	}{
		{"empty", 0, 10, false},
		{"one byte", 1, 10, false},
		{"a chunk exactly", spoolChunk, spoolChunk, false},
		{"a chunk and a byte", spoolChunk + 1, 4 * spoolChunk, false},
		{"several chunks", 3*spoolChunk + 12345, 4 * spoolChunk, false},
		{"one byte over", spoolChunk + 1, spoolChunk, true},
		{"far over", 5 * spoolChunk, spoolChunk, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := make([]byte, tc.size)
			for i := range want {
				want[i] = byte(i * 7 % 251)
			}
			// One byte a Read, and a Read that returns data with io.EOF.
			for _, r := range []io.Reader{iotest.OneByteReader(bytes.NewReader(want)), iotest.DataErrReader(bytes.NewReader(want))} {
				s, err := readSpool(r, tc.max)
				if tc.full {
					if !errors.Is(err, errSpoolFull) {
						t.Fatalf("got %v, want errSpoolFull", err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if s.size != int64(tc.size) || s.sum != sha256.Sum256(want) {
					t.Fatalf("size %d and digest %x, want %d and %x", s.size, s.sum, tc.size, sha256.Sum256(want))
				}
				got, err := io.ReadAll(s.reader())
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("read back %d bytes (%v), want the %d written", len(got), err, tc.size)
				}
				// ReadAt across a chunk boundary and at the end, as the zip
				// reader does.
				if tc.size >= spoolChunk+5 {
					p := make([]byte, 10)
					if n, err := s.ReadAt(p, spoolChunk-5); n != 10 || err != nil || !bytes.Equal(p, want[spoolChunk-5:spoolChunk+5]) {
						t.Errorf("ReadAt across chunks: %d bytes, %v", n, err)
					}
				}
				p := make([]byte, 4)
				if n, err := s.ReadAt(p, int64(tc.size)-2); tc.size >= 2 && (n != 2 || !errors.Is(err, io.EOF)) {
					t.Errorf("ReadAt past the end: %d bytes, %v; want 2 and io.EOF", n, err)
				}
			}
		})
	}
}
