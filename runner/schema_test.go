package runner_test

import (
	"context"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/runner"
)

// Names read as PostgreSQL reads them: unquoted parts folded to lower
// case, quoted ones as written, dots and doubled quotes included.
func TestParseTable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want pgx.Identifier
	}{
		{"pgmig_migrations", pgx.Identifier{"pgmig_migrations"}},
		{"Public.PgMig", pgx.Identifier{"public", "pgmig"}},
		{`"My.Schema"."T"`, pgx.Identifier{"My.Schema", "T"}},
		{`s."a""b"`, pgx.Identifier{"s", `a"b`}},
		{`"x.y"`, pgx.Identifier{"x.y"}},
		{"a$1._b", pgx.Identifier{"a$1", "_b"}},
	}
	for _, tc := range cases {
		got, err := runner.ParseTable(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseTable(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "a.b.c", "1a", `"q`, `""`, "a.", ".a", `"a"b`, "a b"} {
		if got, err := runner.ParseTable(bad); err == nil {
			t.Errorf("ParseTable(%q) = %q, want an error", bad, got)
		}
	}
}

// Options.Schema puts the tracking table in that schema, replacing the
// table's own, and runs the migrations with search_path set to it alone,
// so unqualified names land there; a schema name needing quotes works.
func TestSchemaOption(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const schema = "Tenant.One"
	if _, err := e.pool.Exec(ctx, `CREATE SCHEMA "Tenant.One"`); err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{
		"001_t.sql": mig("CREATE TABLE t (id int);", "DROP TABLE t;"),
		"002_i.sql": mig("-- pgmig:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);", "-- pgmig:no-transaction\nDROP INDEX CONCURRENTLY t_id;"),
	}
	r := e.runner(files, runner.Options{Schema: schema, Table: "public.history"})
	rep, err := r.Up(ctx, runner.UpOptions{})
	if err != nil || len(rep.Applied) != 2 {
		t.Fatalf("up: %+v, %v", rep, err)
	}
	if !e.exists(`"Tenant.One".t`) || !e.exists(`"Tenant.One".t_id`) || e.exists("public.t") {
		t.Fatal("the migrations did not run in the runner's schema")
	}
	if e.history(`"Tenant.One".history`) != "1,2" || e.exists("public.history") {
		t.Fatalf("tracking table not in the runner's schema: %s", e.history(`"Tenant.One".history`))
	}
	st, err := r.Status(ctx)
	if err != nil || st.Current == nil || *st.Current != 2 {
		t.Fatalf("status: %+v, %v", st, err)
	}
	// Another schema, another history: the same files apply again there.
	other := e.runner(files, runner.Options{Schema: "tenant_two"})
	if _, err := e.pool.Exec(ctx, `CREATE SCHEMA tenant_two`); err != nil {
		t.Fatal(err)
	}
	if rep, err := other.Up(ctx, runner.UpOptions{}); err != nil || len(rep.Applied) != 2 {
		t.Fatalf("up in a second schema: %+v, %v", rep, err)
	}
	if !e.exists("tenant_two.t") || e.history("tenant_two.pgmig_migrations") != "1,2" {
		t.Fatal("second schema not migrated on its own")
	}
	if _, err := r.Rollback(ctx, runner.RollbackOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	if e.exists(`"Tenant.One".t`) || !e.exists("tenant_two.t") {
		t.Fatal("rollback in one schema touched the other")
	}
}
