package remote

import (
	"context"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSSLCertFile checks that the default client trusts what SSL_CERT_FILE
// names, as crypto/x509 promises on Linux. The roots are loaded once per
// process, so the fetch runs in a child process of this test binary.
func TestSSLCertFile(t *testing.T) {
	if u := os.Getenv("PGMIG_TEST_FETCH_URL"); u != "" {
		// The child: default Options, so the default client and roots.
		if _, err := Fetch(context.Background(), u, Options{}); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Parallel()
	srv := newServer(t, true)
	u := srv.Put("/m.tar.gz", tarGzOf(t, member{name: "001_a.sql", body: up1}))
	certFile := filepath.Join(t.TempDir(), "ca.pem")
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(certFile, pemCert, 0o644); err != nil {
		t.Fatal(err)
	}
	child := func(env ...string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSSLCertFile$", "-test.count=1")
		cmd.Env = append(os.Environ(), append([]string{"PGMIG_TEST_FETCH_URL=" + u, "SSL_CERT_DIR=" + t.TempDir()}, env...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := child("SSL_CERT_FILE=" + certFile); err != nil {
		t.Fatalf("with SSL_CERT_FILE pointing at the server's CA: %v\n%s", err, out)
	}
	out, err := child("SSL_CERT_FILE=" + filepath.Join(t.TempDir(), "none.pem"))
	if err == nil || !strings.Contains(out, "certificate") {
		t.Fatalf("without the CA: want a certificate error, got %v\n%s", err, out)
	}
}
