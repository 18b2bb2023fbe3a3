package runner_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/pgmig/pgmig/runner"
)

// Each migration starts from the session as pgmig opened it: what an
// earlier one set for the session (pg_dump's empty search_path, a role, a
// setting) does not reach the next, in a transaction, outside one, or all
// in one transaction.
func TestSessionResetBetweenMigrations(t *testing.T) {
	ctx := context.Background()
	// The checks fail the migration when a setting leaked.
	check := `DO $$ BEGIN
  IF current_setting('search_path') = '' OR current_setting('work_mem') = '7MB' OR current_user <> session_user THEN
    RAISE EXCEPTION 'session leaked: search_path %, work_mem %, user %', current_setting('search_path'), current_setting('work_mem'), current_user;
  END IF;
END $$;`
	files := fstest.MapFS{
		"001_dump.sql": mig("SELECT pg_catalog.set_config('search_path', '', false);\nSET work_mem = '7MB';\nCREATE TABLE public.a (id int);", ""),
		"002_b.sql":    mig(check+"\nCREATE TABLE b (id int);", ""),
		"003_notx.sql": mig("-- pgmig:no-transaction\nSET work_mem = '7MB';\nSELECT set_config('search_path', '', false);", ""),
		"004_c.sql":    mig(check+"\nCREATE TABLE c (id int);", ""),
	}
	for _, tc := range []struct {
		name string
		opts runner.UpOptions
		ms   fstest.MapFS
	}{
		{"one transaction each", runner.UpOptions{}, files},
		{"single transaction", runner.UpOptions{SingleTransaction: true}, fstest.MapFS{"001_dump.sql": files["001_dump.sql"], "002_b.sql": files["002_b.sql"]}},
		{"rehearsal", runner.UpOptions{Rehearse: true}, fstest.MapFS{"001_dump.sql": files["001_dump.sql"], "002_b.sql": files["002_b.sql"]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.runner(tc.ms, runner.Options{})
			if _, err := r.Up(ctx, tc.opts); err != nil {
				t.Fatal(err)
			}
			if !tc.opts.Rehearse && !e.exists("public.b") {
				t.Error("002 did not run")
			}
		})
	}
	// Options.Schema's search_path is pgmig's own: it is set again.
	t.Run("schema kept", func(t *testing.T) {
		e := newEnv(t)
		if _, err := e.pool.Exec(ctx, "CREATE SCHEMA app"); err != nil {
			t.Fatal(err)
		}
		r := e.runner(fstest.MapFS{
			"001_a.sql": mig("SELECT set_config('search_path', 'public', false);\nCREATE TABLE a (id int);", ""),
			"002_b.sql": mig("CREATE TABLE b (id int);", ""),
		}, runner.Options{Schema: "app"})
		if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
			t.Fatal(err)
		}
		if !e.exists("public.a") || !e.exists("app.b") {
			t.Errorf("a in public %v, b in app %v", e.exists("public.a"), e.exists("app.b"))
		}
	})
}
