package fleet_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/fleet"
	"github.com/pgmig/pgmig/internal/pgtest"
)

func TestResolveTargetsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, text string
		want       []fleet.Target
		err        error
	}{
		{"comments, blank lines and spaces", "# tenants\npostgres://app:hunter2@db1/a\n\n   host=db2 dbname=b password=s3cret  \n#postgres://gone/c\n",
			[]fleet.Target{
				{Name: "postgres://app:xxxxx@db1/a", ConnString: "postgres://app:hunter2@db1/a"},
				{Name: "host=db2 dbname=b password=xxxxx", ConnString: "host=db2 dbname=b password=s3cret"},
			}, nil},
		{"CRLF line ends", "postgres://db1/a\r\npostgres://db2/b\r\n",
			[]fleet.Target{{Name: "postgres://db1/a", ConnString: "postgres://db1/a"}, {Name: "postgres://db2/b", ConnString: "postgres://db2/b"}}, nil},
		{"only comments", "# none yet\n\n", nil, fleet.ErrNoTargets},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := fleet.Resolve(context.Background(), fleet.Spec{File: write(strings.ReplaceAll(tc.name, " ", "_"), tc.text)})
			if !errors.Is(err, tc.err) || !slices.Equal(got, tc.want) {
				t.Errorf("got %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
		})
	}
	_, err := fleet.Resolve(context.Background(), fleet.Spec{File: filepath.Join(dir, "missing")})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestResolveWantsOneSource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		spec fleet.Spec
	}{
		{"none", fleet.Spec{}},
		{"file and URLs", fleet.Spec{File: "t.txt", URLs: []string{"postgres://db1/a"}}},
		{"URLs and a query", fleet.Spec{URLs: []string{"postgres://db1/a"}, SchemasQuery: "SELECT 'a'"}},
		{"a query with no database", fleet.Spec{SchemasQuery: "SELECT 'a'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := fleet.Resolve(context.Background(), tc.spec); !errors.Is(err, fleet.ErrSpec) {
				t.Errorf("got %v, want ErrSpec", err)
			}
		})
	}
}

func TestResolveSchemasQuery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDB(t, `CREATE SCHEMA tenant_b; CREATE SCHEMA tenant_a; CREATE SCHEMA "Tenant C"; CREATE SCHEMA other`)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	query := "SELECT nspname FROM pg_namespace WHERE nspname ILIKE 'tenant%' ORDER BY nspname"
	got, err := fleet.Resolve(ctx, fleet.Spec{SchemasQuery: query, DB: pool, ConnString: url})
	if err != nil {
		t.Fatal(err)
	}
	want := []fleet.Target{
		{Name: "Tenant C", ConnString: url, Schema: "Tenant C"},
		{Name: "tenant_a", ConnString: url, Schema: "tenant_a"},
		{Name: "tenant_b", ConnString: url, Schema: "tenant_b"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}

	for _, tc := range []struct {
		name, query string
		want        func(error) bool
	}{
		{"no schema", "SELECT nspname FROM pg_namespace WHERE false", func(err error) bool { return errors.Is(err, fleet.ErrNoTargets) }},
		{"two columns", "SELECT nspname, oid FROM pg_namespace", func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "schemas query: want one text column of schema names")
		}},
		{"a server error", "SELECT nspname FROM no_such_table", func(err error) bool {
			var pe *pgconn.PgError
			return errors.As(err, &pe) && pe.Code == "42P01"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := fleet.Resolve(ctx, fleet.Spec{SchemasQuery: tc.query, DB: pool, ConnString: url}); !tc.want(err) {
				t.Errorf("got %v", err)
			}
		})
	}
}
