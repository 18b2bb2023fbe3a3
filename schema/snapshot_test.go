package schema_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/schema"
)

func exec(t *testing.T, c *pgx.Conn, sql string) {
	t.Helper()
	if sql == "" {
		return
	}
	if _, err := c.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func take(t *testing.T, c schema.Beginner, opts schema.Options) *schema.Snapshot {
	t.Helper()
	s, err := schema.Take(context.Background(), c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestObjectKinds creates or changes one kind of object and checks both
// what the snapshot says of it and that Diff names exactly it.
func TestObjectKinds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		before, sql  string
		extension    string // skip unless the server has it
		wantLines    []string
		wantText     []string // substrings of the snapshot's text
		wantObjects  []string
		absentPrefix []string // no line may start with these
	}{
		{
			name:        "table",
			sql:         `CREATE TABLE t (id bigint, note text)`,
			wantLines:   []string{"table public.t (id, note)", "column public.t.id bigint", "column public.t.note text"},
			wantObjects: []string{"table public.t", "column public.t.id", "column public.t.note"},
		},
		{
			name:        "column order is the table's",
			before:      `CREATE TABLE t (a int)`,
			sql:         `ALTER TABLE t ADD COLUMN b int`,
			wantLines:   []string{"table public.t (a, b)"},
			wantObjects: []string{"table public.t", "column public.t.b"},
		},
		{
			name:   "column default",
			before: `CREATE TABLE t (n int NOT NULL, d date)`,
			sql:    `ALTER TABLE t ALTER n SET DEFAULT 42, ALTER d SET DEFAULT '2020-01-02'`,
			wantLines: []string{
				"column public.t.n integer not null default 42",
				"column public.t.d date default '2020-01-02'::date",
			},
			wantObjects: []string{"column public.t.d", "column public.t.n"},
		},
		{
			name:        "column type and nullability",
			before:      `CREATE TABLE t (v varchar(10))`,
			sql:         `ALTER TABLE t ALTER v TYPE varchar(20), ALTER v SET NOT NULL`,
			wantLines:   []string{"column public.t.v character varying(20) not null"},
			wantObjects: []string{"column public.t.v"},
		},
		{
			name: "identity and generated columns",
			sql:  `CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY, x int GENERATED ALWAYS AS (id * 2) STORED)`,
			wantLines: []string{
				"column public.t.id integer not null generated always as identity",
				"column public.t.x integer generated always as ((id * 2)) stored",
				"sequence public.t_id_seq integer increment by 1 minvalue 1 maxvalue 2147483647 start with 1 cache 1 no cycle owned by public.t.id",
			},
			wantObjects: []string{"sequence public.t_id_seq", "table public.t", "column public.t.id", "column public.t.x"},
		},
		{
			name:   "check, foreign key and unique constraints",
			before: `CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int, p int, code text)`,
			sql: `ALTER TABLE c ADD CONSTRAINT c_id_positive CHECK (id > 0),
				ADD CONSTRAINT c_p_fkey FOREIGN KEY (p) REFERENCES p (id) ON DELETE CASCADE,
				ADD CONSTRAINT c_code_key UNIQUE (code)`,
			wantLines: []string{
				"constraint public.c.c_id_positive CHECK ((id > 0))",
				"constraint public.c.c_p_fkey FOREIGN KEY (p) REFERENCES public.p(id) ON DELETE CASCADE",
				"constraint public.c.c_code_key UNIQUE (code)",
				"constraint public.p.p_pkey PRIMARY KEY (id)",
			},
			// The unique constraint's index is the constraint's line.
			wantObjects:  []string{"constraint public.c.c_code_key", "constraint public.c.c_id_positive", "constraint public.c.c_p_fkey"},
			absentPrefix: []string{"index public.c_code_key", "index public.p_pkey"},
		},
		{
			name:        "index",
			before:      `CREATE TABLE t (a int, b text)`,
			sql:         `CREATE UNIQUE INDEX t_b ON t (lower(b)) WHERE a > 0`,
			wantLines:   []string{"index public.t_b CREATE UNIQUE INDEX t_b ON public.t USING btree (lower(b)) WHERE (a > 0)"},
			wantObjects: []string{"index public.t_b"},
		},
		{
			name:        "sequence",
			sql:         `CREATE SEQUENCE s AS integer INCREMENT 5 MINVALUE 10 MAXVALUE 100 START 20 CYCLE`,
			wantLines:   []string{"sequence public.s integer increment by 5 minvalue 10 maxvalue 100 start with 20 cache 1 cycle"},
			wantObjects: []string{"sequence public.s"},
		},
		{
			name:   "view",
			before: `CREATE TABLE t (a int, b int)`,
			sql:    `CREATE VIEW v AS SELECT a FROM t WHERE b > 1`,
			// pg_get_viewdef's layout and column prefixes vary by version.
			wantLines:   []string{"view public.v"},
			wantText:    []string{"\n    SELECT ", "FROM public.t\n", "WHERE "},
			wantObjects: []string{"view public.v"},
		},
		{
			// Only a column with a default has a line: the rest is the query's.
			name:        "view column default",
			before:      `CREATE TABLE t (a int, b int); CREATE VIEW v AS SELECT a, b FROM t`,
			sql:         `ALTER VIEW v ALTER COLUMN a SET DEFAULT 7`,
			wantLines:   []string{"column public.v.a default 7"},
			wantObjects: []string{"column public.v.a"},
		},
		{
			name:        "view changed",
			before:      `CREATE TABLE t (a int, b int); CREATE VIEW v AS SELECT a FROM t`,
			sql:         `CREATE OR REPLACE VIEW v AS SELECT a, b FROM t`,
			wantObjects: []string{"view public.v"},
		},
		{
			name:        "materialized view and its index",
			sql:         `CREATE MATERIALIZED VIEW m AS SELECT 1 AS one; CREATE INDEX m_one ON m (one)`,
			wantLines:   []string{"materialized view public.m SELECT 1 AS one;", "index public.m_one CREATE INDEX m_one ON public.m USING btree (one)"},
			wantObjects: []string{"materialized view public.m", "index public.m_one"},
		},
		{
			name: "function",
			sql:  `CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b'`,
			wantLines: []string{
				"function public.add(a integer, b integer)",
				"    CREATE OR REPLACE FUNCTION public.add(a integer, b integer)",
				"     IMMUTABLE",
			},
			wantObjects: []string{"function public.add(a integer, b integer)"},
		},
		{
			name:        "function body changed",
			before:      `CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'`,
			sql:         `CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 2'`,
			wantObjects: []string{"function public.f()"},
		},
		{
			name: "trigger",
			before: `CREATE TABLE t (a int, at timestamptz);
				CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.at = now(); RETURN NEW; END$$`,
			sql:         `CREATE TRIGGER t_touch BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION touch()`,
			wantLines:   []string{"trigger public.t.t_touch CREATE TRIGGER t_touch BEFORE UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION public.touch()"},
			wantObjects: []string{"trigger public.t.t_touch"},
		},
		{
			name: "trigger disabled",
			before: `CREATE TABLE t (a int);
				CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
				CREATE TRIGGER t_noop BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION noop()`,
			sql:         `ALTER TABLE t DISABLE TRIGGER t_noop`,
			wantObjects: []string{"trigger public.t.t_noop"},
		},
		{
			name:        "enum",
			sql:         `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
			wantLines:   []string{"type public.mood enum ('sad', 'ok', 'happy')"},
			wantObjects: []string{"type public.mood"},
		},
		{
			name:        "enum value added",
			before:      `CREATE TYPE mood AS ENUM ('sad', 'happy')`,
			sql:         `ALTER TYPE mood ADD VALUE 'ok' BEFORE 'happy'`,
			wantLines:   []string{"type public.mood enum ('sad', 'ok', 'happy')"},
			wantObjects: []string{"type public.mood"},
		},
		{
			name:        "domain and composite type",
			sql:         `CREATE DOMAIN pos AS int NOT NULL DEFAULT 1 CHECK (VALUE > 0); CREATE TYPE pair AS (a int, b text)`,
			wantLines:   []string{"type public.pos domain integer not null default 1 constraint pos_check CHECK ((VALUE > 0))", "type public.pair composite (a integer, b text)"},
			wantObjects: []string{"type public.pair", "type public.pos"},
		},
		{
			name:        "schema",
			sql:         `CREATE SCHEMA app; CREATE TABLE app."Order" (id int)`,
			wantLines:   []string{"schema app", `table app."Order" (id)`, `column app."Order".id integer`},
			wantObjects: []string{"schema app", `table app."Order"`, `column app."Order".id`},
		},
		{
			name:      "extension",
			extension: "pgcrypto",
			sql:       `CREATE EXTENSION IF NOT EXISTS pgcrypto`,
			// Its functions belong to it, and are not listed one by one.
			wantObjects:  []string{"extension pgcrypto"},
			absentPrefix: []string{"function public.gen_salt"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := pgtest.Connect(t, pgtest.NewDB(t))
			if tc.extension != "" {
				var ok bool
				if err := c.QueryRow(context.Background(), "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = $1)", tc.extension).Scan(&ok); err != nil {
					t.Fatal(err)
				}
				if !ok {
					t.Skipf("the server has no %s extension (pg_available_extensions); install postgresql-contrib", tc.extension)
				}
			}
			exec(t, c, tc.before)
			before := take(t, c, schema.Options{})
			exec(t, c, tc.sql)
			after := take(t, c, schema.Options{})
			text := after.String()
			lines := after.Lines()
			for _, want := range tc.wantLines {
				if !slices.Contains(lines, want) {
					t.Errorf("snapshot has no line %q:\n%s", want, text)
				}
			}
			for _, want := range tc.wantText {
				if !strings.Contains(text, want) {
					t.Errorf("snapshot does not contain %q:\n%s", want, text)
				}
			}
			for _, p := range tc.absentPrefix {
				for _, l := range lines {
					if strings.HasPrefix(l, p) {
						t.Errorf("snapshot has a line %q, want none starting %q", l, p)
					}
				}
			}
			diff, objects := schema.Diff(before, after)
			if !slices.Equal(objects, tc.wantObjects) {
				t.Errorf("Diff objects = %q, want %q\n%s", objects, tc.wantObjects, diff)
			}
		})
	}
}

// TestEqualAcrossDatabases: the same SQL gives the same snapshot in two
// databases, whatever each one's search_path, history of dropped columns,
// sequence values and data.
func TestEqualAcrossDatabases(t *testing.T) {
	t.Parallel()
	const ddl = `
CREATE SCHEMA app;
CREATE TYPE app.state AS ENUM ('new', 'done');
CREATE TABLE app.jobs (
  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  n serial,
  state app.state NOT NULL DEFAULT 'new',
  at timestamptz NOT NULL DEFAULT '2024-01-02 03:04:05+00',
  every interval DEFAULT '1 day 02:00:00'
);
CREATE INDEX jobs_state ON app.jobs (state) WHERE state <> 'done';
CREATE VIEW app.open_jobs AS SELECT id FROM app.jobs WHERE state = 'new';`
	a := pgtest.Connect(t, pgtest.NewDB(t))
	b := pgtest.Connect(t, pgtest.NewDB(t))
	exec(t, a, ddl)
	exec(t, a, `INSERT INTO app.jobs DEFAULT VALUES; SELECT nextval('app.jobs_n_seq'); ALTER TABLE app.jobs ADD COLUMN tmp int; ALTER TABLE app.jobs DROP COLUMN tmp`)
	// b is read with another search_path, DateStyle and time zone: the
	// snapshot must not depend on them.
	exec(t, b, `SET search_path = app, public; SET DateStyle = 'SQL, DMY'; SET TimeZone = 'Asia/Tokyo'; SET IntervalStyle = 'iso_8601'`)
	exec(t, b, ddl)
	sa, sb := take(t, a, schema.Options{}), take(t, b, schema.Options{})
	if diff, objects := schema.Diff(sa, sb); objects != nil {
		t.Fatalf("snapshots differ in %q:\n%s", objects, diff)
	}
	if !strings.Contains(sa.String(), "column app.jobs.at timestamp with time zone not null default '2024-01-02 03:04:05+00'::timestamp with time zone") {
		t.Errorf("snapshot:\n%s", sa)
	}
}

// TestExclude leaves out the tracking table and everything hanging off it.
func TestExclude(t *testing.T) {
	t.Parallel()
	c := pgtest.Connect(t, pgtest.NewDB(t))
	exec(t, c, `CREATE SCHEMA "Ops"; CREATE TABLE "Ops"."History" (version bigint PRIMARY KEY, id serial);
		CREATE INDEX history_id ON "Ops"."History" (id);
		CREATE TABLE pgmig_migrations (version bigint PRIMARY KEY); CREATE TABLE kept (id int)`)
	s := take(t, c, schema.Options{Exclude: []string{`"Ops"."History"`, "pgmig_migrations", "no_such_table"}})
	want := "schema \"Ops\"\nschema public\nextension plpgsql version 1.0 schema pg_catalog\ntable public.kept (id)\ncolumn public.kept.id integer\n"
	if got := s.String(); got != want {
		t.Errorf("snapshot:\n%s\nwant:\n%s", got, want)
	}
}

// TestTakeInTransaction: Take inside a caller's transaction uses a
// savepoint and leaves the caller's settings alone.
func TestTakeInTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := pgtest.Connect(t, pgtest.NewDB(t))
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "CREATE TABLE t (id int)"); err != nil {
		t.Fatal(err)
	}
	s := take(t, tx, schema.Options{})
	if !slices.Contains(s.Lines(), "table public.t (id)") {
		t.Errorf("snapshot in the transaction misses its table:\n%s", s)
	}
	var path string
	if err := tx.QueryRow(ctx, "SHOW search_path").Scan(&path); err != nil {
		t.Fatal(err)
	}
	if path == "pg_catalog" {
		t.Errorf("search_path leaked out of Take: %q", path)
	}
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	c := pgtest.Connect(t, pgtest.NewDB(t))
	if s := take(t, c, schema.Options{}); !s.Empty() {
		t.Errorf("a new database is not Empty:\n%s", s)
	}
	exec(t, c, "CREATE TYPE e AS ENUM ('x')")
	if s := take(t, c, schema.Options{}); s.Empty() {
		t.Errorf("a database with a type is Empty:\n%s", s)
	}
}
