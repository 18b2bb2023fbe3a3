package remote

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// largeAllocated returns the bytes the process allocated in objects over
// 32 KiB while fn ran: the buffers that hold a download or an entry, and
// not the small, pooled buffers of TLS and HTTP, whose count varies (the
// race detector, for one, makes sync.Pool drop items). The Go runtime
// counts a small object as its size class's size, so what TotalAlloc has
// beyond the size classes' total is large objects alone. The tests using
// it are not parallel, so that other tests' allocations stay out of the
// count (parallel tests start only once these have finished).
func largeAllocated(fn func()) uint64 {
	large := func() uint64 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		n := m.TotalAlloc
		for _, c := range m.BySize {
			n -= c.Mallocs * uint64(c.Size)
		}
		return n
	}
	runtime.GC()
	before := large()
	fn()
	return large() - before
}

// TestFetchMemory bounds the large buffers a fetch allocates, in all,
// against the bytes it must hold: a download grown by doubling, or an
// entry read with io.ReadAll, allocates about four times that (every
// smaller buffer on the way there), and at the peak holds three.
// Allocation is counted by the runtime, not timed: the same input always
// allocates the same.
func TestFetchMemory(t *testing.T) {
	srv := newServer(t, true)
	const limit = 8 << 20
	endless := srv.Handle("/endless.tar.gz", func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 32<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(buf); err != nil {
				return
			}
			w.(http.Flusher).Flush() // chunked: no Content-Length to go by
		}
	})
	entry := 8 << 20
	big := srv.Put("/big.tar.gz", tarGzOf(t, member{name: "001_a.sql", body: strings.Repeat("SELECT 1;\n", entry/10)}))
	bigZip := srv.Put("/big.zip", zipOf(t, member{name: "001_a.sql", body: strings.Repeat("SELECT 1;\n", entry/10)}))

	cases := []struct {
		name  string
		url   string
		opts  Options
		holds int // bytes the fetch must hold: the download, or the content
		ok    bool
	}{
		{"an endless response refused at the limit", endless, Options{MaxDownload: limit, Retries: -1}, limit, false},
		{"a tar.gz entry read whole", big, Options{}, entry, true},
		{"a zip entry read whole", bigZip, Options{}, entry, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Client = srv.Client()
			var err error
			n := largeAllocated(func() { _, err = Fetch(context.Background(), tc.url, opts) })
			t.Logf("%.1f MiB in large buffers to hold %d MiB", float64(n)/(1<<20), tc.holds>>20)
			if (err == nil) != tc.ok {
				t.Fatalf("fetch: %v", err)
			}
			// What the fetch must hold, plus 1 MiB for the spool's last
			// chunk and the little else that is large.
			if max := uint64(tc.holds) + 1<<20; n > max {
				t.Errorf("allocated %d MiB to hold %d MiB; want at most %d MiB", n>>20, tc.holds>>20, max>>20)
			}
		})
	}
}
