package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgmig/pgmig/internal/testserve"
)

// remoteArchive is a tar.gz holding files (name, content pairs) in a
// top folder, as a release tarball does.
func remoteArchive(t *testing.T, files ...string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for i := 0; i < len(files); i += 2 {
		body := []byte(files[i+1])
		if err := tw.WriteHeader(&tar.Header{Name: "release/" + files[i], Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), hex.EncodeToString(sum[:])
}

var remoteFiles = []string{
	"001_widgets.sql", "-- pgmig:up\nCREATE TABLE widgets (id int PRIMARY KEY);\n-- pgmig:down\nDROP TABLE widgets;\n",
	"002_gadgets.sql", "-- pgmig:up\nCREATE TABLE gadgets (id int PRIMARY KEY);\n-- pgmig:down\nDROP TABLE gadgets;\n",
}

// TestHTTPSSourceEndToEnd runs the built binary against a TLS server that
// it trusts only through SSL_CERT_FILE, as a CI runner with a private CA
// would, then serves a tampered archive under the old pin.
func TestHTTPSSourceEndToEnd(t *testing.T) {
	t.Parallel()
	good, pin := remoteArchive(t, remoteFiles...)
	srv := testserve.New(t, true)
	srv.Put("/m.tar.gz", good)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	// An empty SSL_CERT_DIR, so that only SSL_CERT_FILE can add trust.
	empty := t.TempDir()
	trust := []string{"SSL_CERT_FILE=" + ca, "SSL_CERT_DIR=" + empty}
	db := newDB(t)
	src := srv.URL + "/m.tar.gz#sha256=" + pin

	r := exe(t, []string{"SSL_CERT_DIR=" + empty}, on(db, src, "up")...)
	wantCode(t, r, 1)
	wantContains(t, "stderr without the CA", r.stderr, "certificate")

	r = exe(t, trust, on(db, src, "up")...)
	wantCode(t, r, 0)
	wantContains(t, "up stdout", r.stdout, "widgets", "gadgets")
	c := connect(t, db)
	wantRelations(t, c, true, "widgets", "gadgets")
	wantVersions(t, c, 1, 2)

	r = exe(t, trust, on(db, src, "status", "--format", "json")...)
	wantCode(t, r, 0)
	wantContains(t, "status stdout", r.stdout, `"current": 2`, `"state": "applied"`)

	// Same URL, same pin, other bytes: nothing is applied.
	tampered, _ := remoteArchive(t, append(remoteFiles, "003_evil.sql", "CREATE TABLE evil (id int);\n")...)
	srv.Put("/m.tar.gz", tampered)
	r = exe(t, trust, on(db, src, "up")...)
	wantCode(t, r, 3)
	wantContains(t, "stderr", r.stderr, "sha256", pin)
	wantRelations(t, c, false, "evil")
	wantVersions(t, c, 1, 2)
	je := wantJSONError(t, exe(t, trust, on(db, src, "--format", "json", "up")...), 3)
	if !strings.Contains(je.Error.Message, pin) {
		t.Errorf("JSON error does not name the pin: %s", je.Error.Message)
	}
}

func TestRemoteSourceCLI(t *testing.T) {
	t.Parallel()
	good, pin := remoteArchive(t, remoteFiles...)
	plain := testserve.New(t, false)
	plain.Put("/m.tar.gz", good)
	plain.Put("/m.tgz", good)
	hostile, _ := remoteArchive(t, "001_a.sql", "SELECT 1;", "../../evil.sql", "SELECT 1;")
	bad := testserve.New(t, false)
	bad.Put("/m.tar.gz", hostile)
	cases := []struct {
		name string
		args []string // after --database-url DB
		code int
		say  string // in stderr
	}{
		{"http refused", []string{"--source", plain.URL + "/m.tar.gz", "up"}, 2, "--allow-insecure-source"},
		{"malformed pin", []string{"--source", plain.URL + "/m.tar.gz#sha256=abc", "--allow-insecure-source", "up"}, 2, "64 hex digits"},
		{"unknown archive type", []string{"--source", plain.URL + "/m.rar", "--allow-insecure-source", "up"}, 2, ".tar.gz, .tgz or .zip"},
		{"bad max size", []string{"--source", plain.URL + "/m.tar.gz", "--allow-insecure-source", "--source-max-size", "0", "up"}, 2, "--source-max-size"},
		{"not found", []string{"--source", plain.URL + "/missing.tar.gz", "--allow-insecure-source", "up"}, 1, "404"},
		{"hostile archive", []string{"--source", bad.URL + "/m.tar.gz", "--allow-insecure-source", "up"}, 3, `"release/../../evil.sql"`},
		{"http allowed", []string{"--source", plain.URL + "/m.tar.gz", "--allow-insecure-source", "up", "--source-max-size", "1"}, 0, ""},
		{"secrets redacted", []string{"--source", "https://bob:hunter2@127.0.0.1:1/m.tar.gz?X-Amz-Signature=s3cr3t", "--source-timeout", "2s", "up"}, 1, "bob:xxxxx@127.0.0.1:1/m.tar.gz?X-Amz-Signature=xxxxx"},
	}
	db := newDB(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := inproc(t, append([]string{"--database-url", db}, tc.args...)...)
			wantCode(t, r, tc.code)
			wantContains(t, "stderr", r.stderr, tc.say)
			for _, s := range []string{"hunter2", "s3cr3t"} {
				if strings.Contains(r.stderr+r.stdout, s) {
					t.Errorf("output shows %q:\n%s", s, r)
				}
			}
		})
	}
	c := connect(t, db)
	wantRelations(t, c, true, "widgets", "gadgets")

	t.Run("flags after the command, pinned, over plain http", func(t *testing.T) {
		db := newDB(t)
		r := inproc(t, "--database-url", db, "up", "--source", plain.URL+"/m.tgz#sha256="+pin, "--allow-insecure-source", "--source-timeout", "10s")
		wantCode(t, r, 0)
		wantRelations(t, connect(t, db), true, "widgets", "gadgets")
	})
}

// TestUpLintJudgesTheBytesItApplies: up --lint reads a remote source once,
// so an unpinned archive that changes between two downloads cannot be
// linted clean and then applied unsafe. The server hands out the unsafe
// project first and a clean one after.
func TestUpLintJudgesTheBytesItApplies(t *testing.T) {
	t.Parallel()
	unsafe, _ := remoteArchive(t, "001_users.sql", lintUnsafe["001_users.sql"], "002_email.sql", lintUnsafe["002_email.sql"])
	clean, _ := remoteArchive(t, "001_users.sql", lintUnsafe["001_users.sql"],
		"002_email.sql", "-- pgmig:up\nALTER TABLE users ADD COLUMN note text;\n-- pgmig:down\nALTER TABLE users DROP COLUMN note;\n")
	for _, tc := range []struct {
		name string
		dbs  int
	}{
		{"one database", 1},
		{"several targets", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The first download gets the unsafe project, any later one
			// the clean project.
			srv := testserve.New(t, false)
			srv.Handle("/m.tar.gz", func(w http.ResponseWriter, r *http.Request) {
				if srv.Count("/m.tar.gz") == 1 {
					w.Write(unsafe)
				} else {
					w.Write(clean)
				}
			})
			var args, dbs []string
			for range tc.dbs {
				db := newDB(t)
				dbs = append(dbs, db)
				args = append(args, "--database-url", db)
			}
			args = append(args, "--source", srv.URL+"/m.tar.gz", "--allow-insecure-source", "up", "--lint")
			r := inproc(t, args...)
			wantCode(t, r, 3)
			wantContains(t, "stderr", r.stderr, "index-not-concurrent")
			if n := srv.Count("/m.tar.gz"); n != 1 {
				t.Errorf("the archive was downloaded %d times, want once", n)
			}
			for _, db := range dbs {
				wantRelations(t, connect(t, db), false, "users")
			}
		})
	}
}
