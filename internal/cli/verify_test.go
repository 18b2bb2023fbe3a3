package cli

import (
	"context"
	"testing"

	"github.com/pgmig/pgmig/internal/pgtest"
)

func TestVerifyDevURL(t *testing.T) {
	t.Parallel()
	dev := pgtest.NewDB(t)
	c := connect(t, dev)
	// No --database-url: the dev database is all it needs.
	r := inproc(t, "--source", "builtin", "--table", "ops.history", "verify", "--dev-url", dev)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "verified 004 create_sessions (up, down, up)\n")

	// A database with a table in it is a bad --dev-url (check's tests see
	// that it is left alone).
	if _, err := c.Exec(context.Background(), "CREATE TABLE keep (id int); INSERT INTO keep VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	r = inproc(t, "--source", "builtin", "verify", "--dev-url", dev)
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "--dev-url: the database is not empty (it holds table public.keep)")
}

// TestVerifyWithoutCreateDB: a role that may not create databases is told
// so, and pointed at --dev-url.
func TestVerifyWithoutCreateDB(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	role, u := pgtest.NewRole(t, db, "NOCREATEDB")
	r := inproc(t, on(u, "builtin", "verify")...)
	wantCode(t, r, 1)
	wantContains(t, "stderr", r.stderr, "permission denied to create database", "ALTER ROLE "+role+" CREATEDB", "--dev-url")
}
