package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestNewDBIsolatedAndSeeded(t *testing.T) {
	t.Parallel()
	setup := "CREATE TABLE seeded (id int); INSERT INTO seeded VALUES (1)"
	a, b := NewDB(t, setup), NewDB(t, setup)
	if a == b {
		t.Fatalf("two tests got the same database %s", a)
	}
	ctx := context.Background()
	ca, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(ctx)
	if _, err := ca.Exec(ctx, "INSERT INTO seeded VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	cb, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(ctx)
	var n int
	if err := cb.QueryRow(ctx, "SELECT count(*) FROM seeded").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("database b sees %d rows, want the template's 1: databases are not isolated", n)
	}
}

func TestWithDatabase(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"url", "postgres://u:p@h:5/x?sslmode=disable", "postgres://u:p@h:5/y?sslmode=disable"},
		{"keyword", "host=h dbname=x", "host=h dbname=x dbname='y'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := WithDatabase(tc.in, "y"); got != tc.want {
				t.Fatalf("WithDatabase(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
