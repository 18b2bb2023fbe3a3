// Package testserve serves test archives over HTTP(S), for the tests of
// remote sources: the remote package's and the CLI's.
package testserve

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Server serves archives (or any bytes) by path, over TLS or not, and
// counts requests per path. It is safe for concurrent use.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	files    map[string][]byte
	handlers map[string]http.HandlerFunc
	hits     map[string]*atomic.Int32
	uris     []string // every RequestURI received
}

// New starts a Server, closed when the test ends.
func New(t testing.TB, tls bool) *Server {
	s := &Server{files: map[string][]byte{}, handlers: map[string]http.HandlerFunc{}, hits: map[string]*atomic.Int32{}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.uris = append(s.uris, r.RequestURI)
		n := s.hits[r.URL.Path]
		if n == nil {
			n = new(atomic.Int32)
			s.hits[r.URL.Path] = n
		}
		h, data, ok := s.handlers[r.URL.Path], s.files[r.URL.Path], false
		if data != nil {
			ok = true
		}
		s.mu.Unlock()
		n.Add(1)
		switch {
		case h != nil:
			h(w, r)
		case ok:
			w.Header().Set("Content-Type", "text/html") // not trusted
			w.Write(data)
		default:
			http.NotFound(w, r)
		}
	})
	s.Server = httptest.NewUnstartedServer(h)
	// Handshakes that a test makes fail on purpose are not news.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// Put serves data at path and returns its URL.
func (s *Server) Put(path string, data []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = data
	return s.URL + path
}

// Handle serves path with h and returns its URL.
func (s *Server) Handle(path string, h http.HandlerFunc) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[path] = h
	return s.URL + path
}

// Count is the number of requests for path so far.
func (s *Server) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.hits[path]; n != nil {
		return int(n.Load())
	}
	return 0
}

// URIs are the request URIs received so far, in order.
func (s *Server) URIs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.uris...)
}
