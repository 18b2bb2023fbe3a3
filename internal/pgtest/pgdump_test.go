package pgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPgDumpMajor reads the major of the pg_dump on this machine and
// refuses a program that does not print pg_dump's version line.
func TestPgDumpMajor(t *testing.T) {
	if p, err := exec.LookPath("pg_dump"); err == nil {
		out, _ := exec.Command(p, "--version").Output()
		major, err := pgDumpMajor(p)
		if err != nil || major < 10 || !strings.Contains(string(out), ") "+strconv.Itoa(major)+".") {
			t.Errorf("pg_dump --version %q: major %d, %v", out, major, err)
		}
	}
	notPgDump := filepath.Join(t.TempDir(), "pg_dump")
	if err := os.WriteFile(notPgDump, []byte("#!/bin/sh\necho psql 15\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := pgDumpMajor(notPgDump); err == nil || !strings.Contains(err.Error(), "not pg_dump's version") {
		t.Errorf("a program printing another line: %v", err)
	}
}

// TestPgDumpFitsServer: the pg_dump PgDump picks can dump the test
// server, which needs a major of the server's or later.
func TestPgDumpFitsServer(t *testing.T) {
	p, ok := PgDump(t)
	if !ok {
		t.Skipf("no pg_dump for the test server's major (%d) or later here", ServerVersion(t)/10000)
	}
	major, err := pgDumpMajor(p)
	if err != nil {
		t.Fatal(err)
	}
	if major < ServerVersion(t)/10000 {
		t.Fatalf("picked %s, major %d, for server %d", p, major, ServerVersion(t))
	}
	if out, err := exec.Command(p, "--schema-only", "-d", AdminURL()).CombinedOutput(); err != nil {
		t.Fatalf("%s cannot dump the test server: %v\n%s", p, err, out)
	}
}
