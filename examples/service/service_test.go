package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/pgdb"
)

// testWriter sends the service's log to the test's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type client struct {
	t   *testing.T
	url string
}

// do sends a request as user 0000…0001 and decodes the JSON answer.
func (c client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.url+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("X-User-ID", "00000000-0000-0000-0000-000000000001")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			c.t.Fatalf("%s %s: %d, body not JSON: %v", method, path, resp.StatusCode, err)
		}
	}
	return resp.StatusCode, out
}

func start(t *testing.T, dbURL string) (*Service, client) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc, err := Open(t.Context(), Config{DatabaseURL: dbURL, CursorKey: []byte("test key, 16 bytes or more"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return svc, client{t, srv.URL}
}

func TestService(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	// Two instances start at once: the lock makes one migrate, the other
	// find nothing to do.
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			svc, err := Open(t.Context(), Config{DatabaseURL: dbURL})
			if err != nil {
				t.Error(err)
				return
			}
			svc.Close()
		})
	}
	wg.Wait()
	svc, c := start(t, dbURL)

	if code, body := c.do("GET", "/healthz", nil); code != 200 || len(body) != 1 || body["status"] != "ok" {
		t.Errorf("healthz: %d %v", code, body)
	}
	code, a := c.do("POST", "/notes", map[string]any{"slug": "a", "title": "First"})
	if code != 201 || a["id"] == "" {
		t.Fatalf("create: %d %v", code, a)
	}
	id := a["id"].(string)
	for i := range 6 {
		if code, body := c.do("POST", "/notes", map[string]any{"slug": fmt.Sprint("n", i), "title": fmt.Sprint("Note ", i)}); code != 201 {
			t.Fatalf("create n%d: %d %v", i, code, body)
		}
	}

	tests := []struct {
		name, method, path string
		body               any
		code               int
	}{
		{"get", "GET", "/notes/" + id, nil, 200},
		{"by slug", "GET", "/notes/by-slug/a", nil, 200},
		{"by unknown slug", "GET", "/notes/by-slug/zz", nil, 404},
		{"get a bad id", "GET", "/notes/nope", nil, 400},
		{"get a hostile id", "GET", "/notes/1%20OR%201=1", nil, 400},
		{"get an unknown id", "GET", "/notes/00000000-0000-0000-0000-00000000abcd", nil, 404},
		{"duplicate slug", "POST", "/notes", map[string]any{"slug": "a", "title": "again"}, 409},
		{"empty title breaks a check", "POST", "/notes", map[string]any{"slug": "b", "title": ""}, 409},
		{"malformed body", "POST", "/notes", "not an object", 400},
		{"filter on a closed column", "GET", "/notes?body=x", nil, 400},
		{"filter on an unknown column", "GET", "/notes?password_hash=x", nil, 400},
		{"filter with a bad timestamp", "GET", "/notes?created_at=yesterday", nil, 400},
		{"sort on a closed column", "GET", "/notes?sort=body", nil, 400},
		{"forged cursor", "GET", "/notes?after=eyJzIjoiaWQiLCJ2IjpbIjEiXX0", nil, 400},
		{"patch an unknown column", "PATCH", "/notes/" + id, map[string]any{"nope": 1}, 400},
		{"patch", "PATCH", "/notes/" + id, map[string]any{"title": "Renamed"}, 200},
		{"patch a bad id", "PATCH", "/notes/nope", map[string]any{"title": "x"}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := client{t, c.url}
			if code, body := c.do(tc.method, tc.path, tc.body); code != tc.code {
				t.Errorf("%s %s: %d %v, want %d", tc.method, tc.path, code, body, tc.code)
			}
		})
	}

	// Pages, newest first, followed by their signed cursors.
	seen := map[string]bool{}
	next := ""
	for range 10 {
		code, p := c.do("GET", "/notes?limit=2&after="+url.QueryEscape(next), nil)
		if code != 200 {
			t.Fatalf("page: %d %v", code, p)
		}
		for _, it := range p["items"].([]any) {
			seen[it.(map[string]any)["id"].(string)] = true
		}
		n, _ := p["next"].(string)
		if next = n; next == "" {
			break
		}
	}
	total, _ := pgdb.QueryValue[int](t.Context(), svc.db.Pool(), "SELECT count(*)::int FROM notes")
	if len(seen) != total[0] {
		t.Errorf("pages showed %d notes of %d", len(seen), total[0])
	}

	// Soft delete: gone for the API, kept in the table, and audited.
	if code, _ := c.do("DELETE", "/notes/"+id, nil); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code, _ := c.do("GET", "/notes/"+id, nil); code != 404 {
		t.Errorf("get after delete: %d", code)
	}
	if code, _ := c.do("DELETE", "/notes/"+id, nil); code != 404 {
		t.Errorf("second delete: %d", code)
	}
	actions, err := pgdb.QueryValue[string](t.Context(), svc.db.Pool(),
		"SELECT action || ' by ' || user_id FROM notes_audit WHERE resource_id = $1 ORDER BY id", id)
	want := "create by 00000000-0000-0000-0000-000000000001,update by 00000000-0000-0000-0000-000000000001,delete by 00000000-0000-0000-0000-000000000001"
	if err != nil || strings.Join(actions, ",") != want {
		t.Errorf("audit trail %v, %v; want %s", actions, err, want)
	}
}

// TestServiceLostServer: when the database goes away under a running
// service, requests get 503, not 500, and so does /healthz.
func TestServiceLostServer(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr
	_, c := start(t, u.String())
	if code, body := c.do("GET", "/notes/00000000-0000-0000-0000-000000000001", nil); code != 404 {
		t.Fatalf("before: %d %v", code, body)
	}
	p.stop()
	for _, path := range []string{"/notes/00000000-0000-0000-0000-000000000001", "/notes", "/healthz"} {
		if code, body := c.do("GET", path, nil); code != http.StatusServiceUnavailable {
			t.Errorf("GET %s with the server gone: %d %v, want 503", path, code, body)
		}
	}
}

// proxy forwards TCP to the database until stopped, then refuses new
// connections and cuts the ones it carries: a server that went away.
type proxy struct {
	addr  string
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: l.Addr().String(), l: l}
	t.Cleanup(p.stop)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) stop() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
