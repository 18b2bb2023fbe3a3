package runner_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/runner"
)

// pg_dump's output is a migration: its COPY … FROM stdin data goes through
// the copy protocol, in the step's transaction, and a failure in the data
// rolls the whole migration back, naming the COPY's line.
func TestCopyFromStdin(t *testing.T) {
	ctx := context.Background()
	dump, err := os.ReadFile("../testdata/tools/pgdump/001_squashed.sql")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("pg_dump output", func(t *testing.T) {
		e := newEnv(t)
		r := e.runner(fstest.MapFS{
			"001_squashed.sql": &fstest.MapFile{Data: dump},
			"002_more.sql":     mig("INSERT INTO public.notes VALUES (5, 'after');", ""),
		}, runner.Options{})
		if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
			t.Fatal(err)
		}
		var bodies string
		if err := e.pool.QueryRow(ctx, "SELECT string_agg(coalesce(body, '<null>'), '|' ORDER BY id) FROM public.notes").Scan(&bodies); err != nil {
			t.Fatal(err)
		}
		if want := "it's; not SQL|-- pgmig:down|$$ open|<null>|after"; bodies != want {
			t.Errorf("rows %q, want %q", bodies, want)
		}
		if e.history("") != "1,2" {
			t.Errorf("history %s", e.history(""))
		}
	})
	t.Run("bad data rolls back", func(t *testing.T) {
		e := newEnv(t)
		r := e.runner(fstest.MapFS{
			"001_t.sql": mig("CREATE TABLE t (id int, v text);\nCOPY t (id, v) FROM stdin;\n1\tone\nnot-a-number\ttwo\n\\.\nCREATE TABLE after_copy ();", ""),
		}, runner.Options{})
		_, err := r.Up(ctx, runner.UpOptions{})
		var me *runner.MigrationError
		var pe *pgconn.PgError
		if !errors.As(err, &me) || !errors.As(err, &pe) || pe.Code != "22P02" || me.Line != 5 || me.SourceLine != "not-a-number\ttwo" {
			t.Fatalf("error %v (%+v)", err, me)
		}
		if e.exists("t") || e.exists("after_copy") || e.history("") != "" {
			t.Errorf("a failed COPY left traces: history %q", e.history(""))
		}
	})
	t.Run("error after a COPY is located in the file", func(t *testing.T) {
		e := newEnv(t)
		r := e.runner(fstest.MapFS{
			"001_t.sql": mig("CREATE TABLE t (id int);\nCOPY t FROM stdin;\n1\n\\.\nSELECT nope FROM t;", ""),
		}, runner.Options{})
		_, err := r.Up(ctx, runner.UpOptions{})
		var me *runner.MigrationError
		if !errors.As(err, &me) || me.Line != 6 || me.Column != 8 {
			t.Fatalf("error %v (%+v)", err, me)
		}
	})
	t.Run("no-transaction section", func(t *testing.T) {
		e := newEnv(t)
		r := e.runner(fstest.MapFS{
			"001_t.sql": mig("-- pgmig:no-transaction\nCREATE TABLE t (id int);\nCOPY t FROM stdin;\n7\n8\n\\.\nCREATE INDEX CONCURRENTLY t_id ON t (id);", ""),
		}, runner.Options{})
		if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := e.pool.QueryRow(ctx, "SELECT sum(id) FROM t").Scan(&n); err != nil || n != 15 || !e.exists("t_id") {
			t.Errorf("sum %d, %v", n, err)
		}
	})
	t.Run("refused where the section joins a larger query", func(t *testing.T) {
		e := newEnv(t)
		r := e.runner(fstest.MapFS{"001_squashed.sql": &fstest.MapFile{Data: dump}}, runner.Options{})
		for _, opts := range []runner.UpOptions{{SingleTransaction: true}, {Rehearse: true}} {
			if _, err := r.Up(ctx, opts); !errors.Is(err, runner.ErrInvalidOption) || !strings.Contains(err.Error(), "COPY") {
				t.Errorf("%+v: %v", opts, err)
			}
		}
		if e.history("") != "<no table>" && e.history("") != "" {
			t.Errorf("history %s", e.history(""))
		}
	})
}
