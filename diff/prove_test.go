package diff_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/check"
	"github.com/pgmig/pgmig/diff"
	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

func serverPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// scratchNames returns the scratch databases a log names, and checks
// each is gone.
func wantScratchDropped(t *testing.T, pool *pgxpool.Pool, log string) {
	t.Helper()
	names := regexp.MustCompile(`name=(pgmig_diff_[0-9a-f]+)`).FindAllStringSubmatch(log, -1)
	if len(names) == 0 {
		t.Fatalf("no scratch database in the log:\n%s", log)
	}
	for _, n := range names {
		var exists bool
		if err := pool.QueryRow(context.Background(), "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", n[1]).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if exists {
			t.Errorf("scratch database %s is still there", n[1])
		}
	}
}

var proveMigrations = fstest.MapFS{
	"001_users.sql": {Data: []byte(`-- pgmig:up
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL);
-- pgmig:down
DROP TABLE users;
`)},
	"002_posts.sql": {Data: []byte(`-- pgmig:up
CREATE TABLE posts (id bigint PRIMARY KEY, author bigint REFERENCES users, body text);
-- pgmig:down
DROP TABLE posts;
`)},
}

const proveSchema = `CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL);
CREATE TABLE posts (id bigint PRIMARY KEY, author bigint REFERENCES users, body text);
`

func TestProve(t *testing.T) {
	t.Parallel()
	server := serverPool(t)
	cases := []struct {
		name    string
		desired string
		opts    diff.ProveOptions
		check   func(t *testing.T, p *diff.Proposal, err error)
	}{
		{
			name: "a column and an index",
			desired: proveSchema + `ALTER TABLE users ADD COLUMN name text;
CREATE INDEX posts_author ON posts (author);`,
			check: func(t *testing.T, p *diff.Proposal, err error) {
				if err != nil {
					t.Fatal(err)
				}
				// The index is built outside a transaction, in a second file.
				if len(p.Files) != 2 || p.Files[0].Name != "003_diff.sql" || p.Files[1].Name != "004_diff_concurrently.sql" {
					t.Fatalf("files %v, want 003_diff.sql and 004_diff_concurrently.sql", p.Files)
				}
				for _, w := range []string{"ADD COLUMN name text", "DROP COLUMN name"} {
					if !strings.Contains(p.Files[0].Text, w) || strings.Contains(p.Files[0].Text, "no-transaction") {
						t.Errorf("first file lacks %q or runs outside a transaction:\n%s", w, p.Files[0].Text)
					}
				}
				for _, w := range []string{"-- pgmig:no-transaction", "CREATE INDEX CONCURRENTLY posts_author", "DROP INDEX CONCURRENTLY public.posts_author"} {
					if !strings.Contains(p.Files[1].Text, w) {
						t.Errorf("second file lacks %q:\n%s", w, p.Files[1].Text)
					}
				}
			},
		},
		{
			name: "NOT NULL, a unique constraint and checks on existing tables, split in two files",
			desired: `CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE posts (id bigint PRIMARY KEY, author bigint REFERENCES users, body text NOT NULL CHECK (body <> ''));
CREATE TABLE tags (name text PRIMARY KEY, post bigint REFERENCES posts); CREATE INDEX tags_post ON tags (post);`,
			check: func(t *testing.T, p *diff.Proposal, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Files) != 2 {
					t.Fatalf("want two files, got %v", p.Files)
				}
				for _, w := range []string{"CREATE TABLE public.tags", "CREATE INDEX tags_post ON public.tags", "CHECK (body IS NOT NULL) NOT VALID", "CHECK ((body <> ''::text)) NOT VALID"} {
					if !strings.Contains(p.Files[0].Text, w) {
						t.Errorf("first file lacks %q:\n%s", w, p.Files[0].Text)
					}
				}
				for _, w := range []string{"VALIDATE CONSTRAINT pgmig_nn_body", "CREATE UNIQUE INDEX CONCURRENTLY users_email_key", "UNIQUE USING INDEX users_email_key"} {
					if !strings.Contains(p.Files[1].Text, w) {
						t.Errorf("second file lacks %q:\n%s", w, p.Files[1].Text)
					}
				}
				if t.Failed() {
					t.Logf("%s\n%s", p.Files[0].Text, p.Files[1].Text)
				}
			},
		},
		{
			name: "each of two files names its own hazards",
			desired: proveSchema + `ALTER TABLE posts ADD COLUMN token uuid DEFAULT gen_random_uuid();
CREATE INDEX posts_author ON posts (author);`,
			check: func(t *testing.T, p *diff.Proposal, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Files) != 2 || len(p.Migration.Hazards) != 1 {
					t.Fatalf("want two files and one hazard, got %v %v", p.Files, p.Migration.Hazards)
				}
				h := "--   " + p.Migration.Hazards[0].Object + ": "
				if !strings.Contains(p.Files[0].Text, "Hazards on a live database") || !strings.Contains(p.Files[0].Text, h) {
					t.Errorf("the first file, which adds the column, does not name its hazard %q:\n%s", h, p.Files[0].Text)
				}
				if strings.Contains(p.Files[1].Text, "Hazards on a live database") || strings.Contains(p.Files[1].Text, h) {
					t.Errorf("the second file, which only builds an index, names the first file's hazard:\n%s", p.Files[1].Text)
				}
			},
		},
		{
			// A partition created apart, in a column order of its own, and
			// attached is created PARTITION OF its parent, in the parent's
			// order: the up does not give the desired schema.
			name: "a failed proof is a ProofError",
			desired: proveSchema + `CREATE TABLE ev (at int, v int) PARTITION BY RANGE (at); CREATE TABLE p1 (v int, at int);
ALTER TABLE ev ATTACH PARTITION p1 FOR VALUES FROM (0) TO (10);`,
			check: func(t *testing.T, p *diff.Proposal, err error) {
				var pe *diff.ProofError
				if !errors.As(err, &pe) || pe.Step != "up" || !slices.Contains(pe.Objects, "table public.p1") {
					t.Fatalf("want a *ProofError of the up naming table public.p1, got %v", err)
				}
				if p != nil {
					t.Errorf("a failed proof returned files: %v", p.Files)
				}
			},
		},
		{
			name:    "nothing to change",
			desired: proveSchema,
			check: func(t *testing.T, p *diff.Proposal, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if !p.Migration.Empty() || len(p.Files) != 0 {
					t.Errorf("want an empty proposal, got %v %v", p.Files, p.Migration.Changes)
				}
			},
		},
		{
			name:    "destructive refused",
			desired: `CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL);`,
			opts:    diff.ProveOptions{Name: "drop_posts"},
			check: func(t *testing.T, p *diff.Proposal, err error) {
				var de *diff.DestructiveError
				if !errors.As(err, &de) || len(de.Changes) != 1 || de.Changes[0].Object != "table public.posts" {
					t.Fatalf("want a refusal of table public.posts, got %v", err)
				}
			},
		},
		{
			name:    "destructive allowed",
			desired: `CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL);`,
			opts:    diff.ProveOptions{Name: "drop_posts", Plan: diff.Options{AllowDestructive: true}},
			check: func(t *testing.T, p *diff.Proposal, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Files) != 1 || p.Files[0].Name != "003_drop_posts.sql" || !strings.Contains(p.Files[0].Text, "DROP TABLE public.posts") {
					t.Errorf("got %v", p.Files)
				}
			},
		},
		{
			name:    "a refused statement in the desired schema names its line",
			desired: proveSchema + "\nCREATE TABLE broken (id nosuchtype);",
			check: func(t *testing.T, p *diff.Proposal, err error) {
				var de *diff.DesiredError
				if !errors.As(err, &de) || de.Line != 4 {
					t.Fatalf("want a *DesiredError on line 4, got %v", err)
				}
			},
		},
		{
			name:    "psql meta-commands other than pg_dump's are refused",
			desired: "\\restrict abc\n" + proveSchema + "\\connect other\n\\unrestrict abc\n",
			check: func(t *testing.T, p *diff.Proposal, err error) {
				var de *diff.DesiredError
				if !errors.As(err, &de) || de.Line != 4 {
					t.Fatalf("want a *DesiredError on line 4, got %v", err)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var log bytes.Buffer
			opts := tc.opts
			opts.Logger = slog.New(slog.NewTextHandler(&log, nil))
			p, err := diff.Prove(context.Background(), server, proveMigrations, tc.desired, opts)
			tc.check(t, p, err)
			wantScratchDropped(t, server, log.String())
			if err == nil && len(p.Files) > 0 {
				// What it writes passes pgmig verify with the migrations before it.
				files := fstest.MapFS{}
				for n, f := range proveMigrations {
					files[n] = f
				}
				for _, f := range p.Files {
					files[f.Name] = &fstest.MapFile{Data: []byte(f.Text)}
				}
				if _, err := check.Verify(context.Background(), server, source.FromFS(files), check.VerifyOptions{}); err != nil {
					t.Errorf("verify: %v", err)
				}
			}
		})
	}
}

// TestProvePgDump uses pg_dump's output as the desired schema, as a
// project that keeps its schema that way does.
func TestProvePgDump(t *testing.T) {
	t.Parallel()
	pgDump := pgtest.RequirePgDump(t, "a desired schema written by pg_dump")
	server := serverPool(t)
	url := pgtest.NewDB(t)
	c := pgtest.Connect(t, url)
	execSQL(t, c, proveSchema+`ALTER TABLE posts ADD COLUMN title text NOT NULL DEFAULT '';
CREATE FUNCTION title_len(p posts) RETURNS int LANGUAGE sql AS $$SELECT length(p.title)$$;
CREATE VIEW titled AS SELECT id, title FROM posts WHERE title <> '';
COMMENT ON VIEW titled IS 'posts with a title';`)
	// As pg_dump writes it, \restrict line and set_config included.
	out, err := exec.Command(pgDump, "--schema-only", "-d", url).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	desired := string(out)
	p, err := diff.Prove(context.Background(), server, proveMigrations, desired, diff.ProveOptions{})
	if err != nil {
		t.Fatalf("%v\ndesired:\n%s", err, desired)
	}
	if len(p.Files) != 1 {
		t.Fatalf("want one file, got %v", p.Files)
	}
	for _, w := range []string{"ADD COLUMN title text DEFAULT ''::text NOT NULL", "CREATE VIEW public.titled", "COMMENT ON VIEW public.titled"} {
		if !strings.Contains(p.Files[0].Text, w) {
			t.Errorf("file lacks %q:\n%s", w, p.Files[0].Text)
		}
	}
}

// PostgreSQL has no cast from time to timestamp. Prove asks the server,
// and the change is refused by name before any statement runs; told that
// every change casts, the planner writes at::timestamp, which the server
// refuses on the scratch database: an *ApplyError, and no files.
func TestProveTypeChangeWithoutCast(t *testing.T) {
	t.Parallel()
	server := serverPool(t)
	migrations := fstest.MapFS{"001_t.sql": {Data: []byte("CREATE TABLE t (id int PRIMARY KEY, at time);\n")}}
	desired := "CREATE TABLE t (id int PRIMARY KEY, at timestamp);\n"
	ctx := context.Background()

	p, err := diff.Prove(ctx, server, migrations, desired, diff.ProveOptions{Plan: diff.Options{AllowDestructive: true}})
	var ue *diff.UnsupportedError
	if p != nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), "column public.t.at: changing the type from time without time zone to timestamp without time zone: PostgreSQL has no cast") {
		t.Fatalf("want an *UnsupportedError naming the column and the missing cast, got %v", err)
	}

	everything := func(string, string) bool { return true }
	p, err = diff.Prove(ctx, server, migrations, desired, diff.ProveOptions{Plan: diff.Options{AllowDestructive: true, Castable: everything}})
	var ae *diff.ApplyError
	var me *runner.MigrationError
	if p != nil || !errors.As(err, &ae) || ae.Step != "up" || !errors.As(err, &me) || !strings.Contains(err.Error(), "failed on the scratch database") {
		t.Fatalf("want an *ApplyError of the up wrapping a *runner.MigrationError, got %v", err)
	}

	// A change the server can cast (time to text, an I/O conversion;
	// time to interval, a pg_cast entry) is planned.
	for _, to := range []string{"text", "interval"} {
		if _, err := diff.Prove(ctx, server, migrations, strings.Replace(desired, "timestamp", to, 1), diff.ProveOptions{Plan: diff.Options{AllowDestructive: true}}); err != nil {
			t.Errorf("time to %s: %v", to, err)
		}
	}
}
