package remote

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pgmig/pgmig/source"
)

const (
	up1 = "-- pgmig:up\nCREATE TABLE a (id int);\n-- pgmig:down\nDROP TABLE a;\n"
	up2 = "CREATE TABLE b (id int);\n"
)

func TestFetch(t *testing.T) {
	t.Parallel()
	srv := newServer(t, true)
	good := tarGzOf(t, member{name: "001_a.sql", body: up1}, member{name: "002_b.sql", body: up2})
	pinned := srv.Put("/pinned.tar.gz", good)
	cases := []struct {
		name  string
		path  string
		data  []byte
		pin   string
		want  map[string]string
		check func(t *testing.T, fsys fs.FS)
	}{
		{
			name: "tar.gz at root",
			path: "/m.tar.gz",
			data: good,
			want: map[string]string{"001_a.sql": up1, "002_b.sql": up2},
		},
		{
			name: "zip with one top folder",
			path: "/m.zip",
			data: zipOf(t, member{name: "proj/"}, member{name: "proj/001_a.sql", body: up1},
				member{name: "proj/README.md", body: "ignored"}, member{name: "proj/002_b.sql", body: up2}),
			want: map[string]string{"001_a.sql": up1, "002_b.sql": up2},
		},
		{
			name: ".tgz with ./ prefixes, a pax global header and nested files",
			path: "/release-v1.TGZ",
			data: tarGzOf(t,
				member{name: "pax_global_header", typ: tar.TypeXGlobalHeader},
				member{name: "./", typ: tar.TypeDir},
				member{name: "./rel/", typ: tar.TypeDir},
				member{name: "./rel/001_a.sql", body: up1},
				member{name: "./rel/docs/", typ: tar.TypeDir},
				member{name: "./rel/docs/999_nested.sql", body: "nested: ignored"},
				member{name: "./rel/notes.txt", body: "ignored"}),
			want: map[string]string{"001_a.sql": up1},
		},
		{
			name: "pin matches, in upper case",
			path: "/pinned.tar.gz",
			pin:  strings.ToUpper(digest(good)),
			want: map[string]string{"001_a.sql": up1, "002_b.sql": up2},
			check: func(t *testing.T, fsys fs.FS) {
				ms, err := source.FromFS(fsys).Migrations(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if len(ms) != 2 || ms[0].Name != "a" || ms[1].Version != 2 || ms[0].Down == nil {
					t.Errorf("migrations = %+v", ms)
				}
				if err := fstest.TestFS(fsys, "001_a.sql", "002_b.sql"); err != nil {
					t.Error(err)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := pinned
			if tc.data != nil {
				u = srv.Put(tc.path, tc.data)
			}
			if tc.pin != "" {
				u += "#sha256=" + tc.pin
			}
			fsys, err := Fetch(context.Background(), u, srv.opts())
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			es, err := fs.ReadDir(fsys, ".")
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				b, err := fs.ReadFile(fsys, e.Name())
				if err != nil {
					t.Fatal(err)
				}
				got[e.Name()] = string(b)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("files = %q, want %q", got, tc.want)
			}
			if tc.check != nil {
				tc.check(t, fsys)
			}
		})
	}
	for _, uri := range srv.URIs() {
		if strings.Contains(uri, "sha256") {
			t.Errorf("the pin was sent to the server: %s", uri)
		}
	}
}

func TestFetchDigestMismatch(t *testing.T) {
	t.Parallel()
	srv := newServer(t, true)
	good := tarGzOf(t, member{name: "001_a.sql", body: up1})
	pin := digest(good)
	// The same name, other content: what an attacker or a re-release serves.
	u := srv.Put("/m.tar.gz", tarGzOf(t, member{name: "001_a.sql", body: up1 + "DROP TABLE users;\n"}))
	fsys, err := Fetch(context.Background(), u+"#sha256="+pin, srv.opts())
	var dm *DigestMismatchError
	if !errors.As(err, &dm) || fsys != nil {
		t.Fatalf("Fetch = %v, %v; want nil and *DigestMismatchError", fsys, err)
	}
	if dm.Want != pin || dm.Got == pin || len(dm.Got) != 64 {
		t.Errorf("DigestMismatchError = %+v", dm)
	}
	if errors.Is(err, ErrUnsafeArchive) || errors.Is(err, ErrInvalidURL) {
		t.Errorf("%v matches another error class", err)
	}
}

func TestFetchURLErrors(t *testing.T) {
	t.Parallel()
	srv := newServer(t, true)
	plain := newServer(t, false)
	good := tarGzOf(t, member{name: "001_a.sql", body: up1})
	u := srv.Put("/m.tar.gz", good)
	hu := plain.Put("/m.tar.gz", good)
	cases := []struct {
		name string
		url  string
		want error
	}{
		{"short pin", u + "#sha256=abc", ErrInvalidURL},
		{"non-hex pin", u + "#sha256=" + strings.Repeat("g", 64), ErrInvalidURL},
		{"long pin", u + "#sha256=" + digest(good) + "0", ErrInvalidURL},
		{"other fragment", u + "#md5=" + digest(good), ErrInvalidURL},
		{"empty fragment", u + "#", ErrInvalidURL},
		{"http refused", hu, ErrInsecure},
		{"ftp", "ftp://example.com/m.tar.gz", ErrInvalidURL},
		{"no host", "https:///m.tar.gz", ErrInvalidURL},
		{"unknown suffix", srv.URL + "/m.tar.bz2", ErrInvalidURL},
		{"suffix only in the query", srv.URL + "/download?file=m.tar.gz", ErrInvalidURL},
		{"unparseable", "https://exa mple.com/%zz.tar.gz", ErrInvalidURL},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fetch(context.Background(), tc.url, srv.opts())
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	if n := srv.Count("/m.tar.gz") + plain.Count("/m.tar.gz"); n != 0 {
		t.Errorf("%d requests made for refused URLs", n)
	}
	if _, err := Fetch(context.Background(), hu, srv.opts()); !strings.Contains(err.Error(), "AllowInsecure") {
		t.Errorf("http refusal does not say how to allow it: %v", err)
	}
	t.Run("http allowed", func(t *testing.T) {
		opts := srv.opts()
		opts.AllowInsecure = true
		if _, err := Fetch(context.Background(), hu, opts); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("redirect from https to http refused", func(t *testing.T) {
		r := srv.Handle("/redirect.tar.gz", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, hu, http.StatusFound)
		})
		_, err := Fetch(context.Background(), r, srv.opts())
		if !errors.Is(err, ErrInsecure) || srv.Count("/redirect.tar.gz") != 1 {
			t.Fatalf("error %v after %d requests, want ErrInsecure after 1", err, srv.Count("/redirect.tar.gz"))
		}
	})
}

func TestFetchRetries(t *testing.T) {
	t.Parallel()
	good := tarGzOf(t, member{name: "001_a.sql", body: up1})
	// statuses: the responses in order; after them, the archive.
	cases := []struct {
		name     string
		statuses []int
		retries  int
		requests int
		status   int // of the StatusError wanted; 0 for success
	}{
		{name: "404 not retried", statuses: []int{404}, requests: 1, status: 404},
		{name: "403 not retried", statuses: []int{403}, requests: 1, status: 403},
		{name: "503 then 200", statuses: []int{503, 503}, requests: 3},
		{name: "429 then 200", statuses: []int{429}, requests: 2},
		{name: "503 until retries run out", statuses: []int{503, 502, 500, 504, 503}, requests: 4, status: 504},
		{name: "no retries", statuses: []int{503}, retries: -1, requests: 1, status: 503},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, true)
			u := srv.Handle("/m.tar.gz", func(w http.ResponseWriter, r *http.Request) {
				if n := srv.Count("/m.tar.gz"); n <= len(tc.statuses) {
					http.Error(w, "no", tc.statuses[n-1])
					return
				}
				w.Write(good)
			})
			opts := srv.opts()
			opts.Retries = tc.retries
			fsys, err := Fetch(context.Background(), u, opts)
			if got := srv.Count("/m.tar.gz"); got != tc.requests {
				t.Errorf("%d requests, want %d", got, tc.requests)
			}
			if tc.status == 0 {
				if err != nil || fsys == nil {
					t.Fatalf("Fetch: %v", err)
				}
				return
			}
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != tc.status {
				t.Fatalf("error %v, want a StatusError %d", err, tc.status)
			}
			if !strings.Contains(err.Error(), fmt.Sprint(tc.status)) || !strings.Contains(err.Error(), srv.URL) {
				t.Errorf("error %q does not name the status and URL", err)
			}
		})
	}
}

func TestFetchTimeout(t *testing.T) {
	t.Parallel()
	srv := newServer(t, true)
	u := srv.Handle("/slow.tar.gz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	opts := srv.opts()
	opts.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := Fetch(context.Background(), u, opts)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Fatalf("error %v, want a timeout wrapping context.DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %s with a 300ms timeout", el)
	}
	if n := srv.Count("/slow.tar.gz"); n != 1 {
		t.Errorf("%d requests; the timeout covers the whole fetch", n)
	}
}

func TestFetchNetworkError(t *testing.T) {
	t.Parallel()
	srv := newServer(t, true)
	u := srv.URL + "/m.tar.gz"
	srv.Close() // connection refused from now on
	opts := Options{RetryWait: time.Millisecond, Retries: 2}
	var logs bytes.Buffer
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, err := Fetch(context.Background(), u, opts)
	if err == nil || errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), u) {
		t.Fatalf("error %v, want a network error naming %s", err, u)
	}
	if n := strings.Count(logs.String(), "retrying source download"); n != 2 {
		t.Errorf("%d retries logged, want 2:\n%s", n, logs.String())
	}
	t.Run("untrusted certificate is not retried", func(t *testing.T) {
		srv := newServer(t, true)
		u := srv.Put("/m.tar.gz", tarGzOf(t, member{name: "001_a.sql", body: up1}))
		_, err := Fetch(context.Background(), u, Options{RetryWait: time.Millisecond}) // system roots only
		if err == nil || srv.Count("/m.tar.gz") > 1 {
			t.Fatalf("error %v after %d requests, want a certificate error at once", err, srv.Count("/m.tar.gz"))
		}
	})
}

func TestFetchTooLarge(t *testing.T) {
	t.Parallel()
	srv := newServer(t, true)
	big := bytes.Repeat([]byte("x"), 4096)
	cases := []struct {
		name string
		h    http.HandlerFunc
	}{
		{"honest Content-Length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			w.Write(big)
		}},
		{"no Content-Length", func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush() // chunked: the size is known only by counting
			w.Write(big)
		}},
		{"Content-Length hiding the size", func(w http.ResponseWriter, r *http.Request) {
			// Write the response by hand: net/http would not send more
			// than the header says, and a lying server might.
			conn, bw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
			bw.Write(big)
			bw.Flush()
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := fmt.Sprintf("/big%d.tar.gz", i)
			u := srv.Handle(path, tc.h)
			opts := srv.opts()
			opts.MaxDownload = 1024
			_, err := Fetch(context.Background(), u, opts)
			if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), "1 KiB limit") {
				t.Fatalf("error %v, want ErrUnsafeArchive naming the limit", err)
			}
			if n := srv.Count(path); n != 1 {
				t.Errorf("%d requests: a size refusal is not retried", n)
			}
		})
	}
}

func TestFetchRedacts(t *testing.T) {
	t.Parallel()
	srv := newServer(t, true)
	good := tarGzOf(t, member{name: "001_a.sql", body: up1})
	srv.Put("/m.tar.gz", good)
	secrets := []string{"hunter2", "s3cr3tsig", "tok123"}
	base := strings.Replace(srv.URL, "https://", "https://alice:hunter2@", 1)
	query := "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=s3cr3tsig&access_token=tok123"
	var logs bytes.Buffer
	opts := srv.opts()
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.RetryWait = time.Millisecond
	cases := []struct{ name, url string }{
		{"404", base + "/missing.tar.gz" + query},
		{"digest mismatch", base + "/m.tar.gz" + query + "#sha256=" + strings.Repeat("0", 64)},
		{"bad pin", base + "/m.tar.gz" + query + "#sha256=1"},
		{"bad suffix", base + "/m.rar" + query},
		{"http refused", "http://alice:hunter2@example.com/m.tar.gz" + query},
		{"connection refused", "https://alice:hunter2@127.0.0.1:1/m.tar.gz" + query},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fetch(context.Background(), tc.url, opts)
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error shows %q: %v", s, err)
				}
			}
			if !strings.Contains(err.Error(), "alice:xxxxx@") {
				t.Errorf("error does not name the redacted URL: %v", err)
			}
		})
	}
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("log shows %q:\n%s", s, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "X-Amz-Signature=xxxxx") {
		t.Errorf("log lacks the redacted URL:\n%s", logs.String())
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"https://example.com/m.tar.gz", "https://example.com/m.tar.gz"},
		{"https://bob:pw@example.com/m.tar.gz", "https://bob:xxxxx@example.com/m.tar.gz"},
		{"https://bob@example.com/m.tar.gz", "https://bob@example.com/m.tar.gz"},
		{"https://b.s3.amazonaws.com/m.tar.gz?X-Amz-Date=1&X-Amz-Signature=abc&X-Amz-Security-Token=t", "https://b.s3.amazonaws.com/m.tar.gz?X-Amz-Date=1&X-Amz-Signature=xxxxx&X-Amz-Security-Token=xxxxx"},
		{"https://x.blob.core.windows.net/c/m.zip?sv=2020&sig=abc%2F", "https://x.blob.core.windows.net/c/m.zip?sv=2020&sig=xxxxx"},
		{"https://e.com/m.zip?api_key=1&Password=2&GoogleAccessId=3&X-Goog-Credential=4", "https://e.com/m.zip?api_key=xxxxx&Password=xxxxx&GoogleAccessId=3&X-Goog-Credential=xxxxx"},
		{"https://e.com/m.zip?token#sha256=ab", "https://e.com/m.zip?token#sha256=ab"},
		{"https://bob:pw@exa mple.com/%zz?token=1", "https://xxxxx@exa mple.com/%zz?xxxxx"},
	}
	for _, tc := range cases {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
