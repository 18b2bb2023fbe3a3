package runner_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/runner"
)

func TestSingleTransaction(t *testing.T) {
	ctx := context.Background()
	many := func() fstest.MapFS {
		files := fstest.MapFS{}
		for i := 1; i <= 30; i++ {
			files[fmt.Sprintf("%03d_t%d.sql", i, i)] = mig(fmt.Sprintf("CREATE TABLE t%d (id int);\nINSERT INTO t%d VALUES (%d);", i, i, i), "")
		}
		return files
	}
	t.Run("applies all", func(t *testing.T) {
		e := newEnv(t)
		r := e.runner(many(), runner.Options{})
		if _, err := r.Up(ctx, runner.UpOptions{To: 5}); err != nil {
			t.Fatal(err)
		}
		var finished int
		r2 := e.runner(many(), runner.Options{OnEvent: func(ev runner.Event) {
			if ev.Kind == runner.StepFinished {
				finished++
			}
		}})
		rep, err := r2.Up(ctx, runner.UpOptions{SingleTransaction: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Applied) != 25 || *rep.Current != 30 || finished != 25 {
			t.Fatalf("applied %d, current %d, %d events", len(rep.Applied), *rep.Current, finished)
		}
		var n int
		var neg bool
		if err := e.pool.QueryRow(ctx, "SELECT count(*), bool_or(duration_ms < 0) FROM pgmig_migrations").Scan(&n, &neg); err != nil || n != 30 || neg {
			t.Fatalf("history %d rows, negative durations %v (%v)", n, neg, err)
		}
	})
	t.Run("all or nothing", func(t *testing.T) {
		for _, tc := range []struct {
			name, bad string
			line, col int
		}{
			{"syntax error (by position)", "CREATE TABLE bad (id int);\nSELECT 1 +) 2;", 3, 11},
			{"runtime error (by statement count)", "CREATE TABLE bad (id int PRIMARY KEY);\nINSERT INTO bad VALUES (1);\nINSERT INTO bad\n VALUES (1);", 4, 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t)
				files := many()
				files["017_t17.sql"] = mig(tc.bad, "")
				_, err := e.runner(files, runner.Options{}).Up(ctx, runner.UpOptions{SingleTransaction: true})
				var me *runner.MigrationError
				var pe *pgconn.PgError
				if !errors.As(err, &me) || !errors.As(err, &pe) || me.Version != 17 || me.Line != tc.line || me.Column != tc.col {
					t.Fatalf("got %v (%+v), want 017 at %d:%d", err, me, tc.line, tc.col)
				}
				if e.exists("t1") || e.history("") != "" {
					t.Fatal("single transaction kept part of the run")
				}
			})
		}
	})
	t.Run("refuses no-transaction", func(t *testing.T) {
		e := newEnv(t)
		files := many()
		files["031_idx.sql"] = mig("-- pgmig:no-transaction\nCREATE INDEX CONCURRENTLY i ON t1 (id);", "")
		_, err := e.runner(files, runner.Options{}).Up(ctx, runner.UpOptions{SingleTransaction: true})
		if !errors.Is(err, runner.ErrInvalidOption) {
			t.Fatalf("got %v, want ErrInvalidOption", err)
		}
		if e.history("") != "<no table>" {
			t.Fatal("something ran")
		}
		// Up to a version before it is fine.
		if _, err := e.runner(files, runner.Options{}).Up(ctx, runner.UpOptions{SingleTransaction: true, To: 30}); err != nil {
			t.Fatal(err)
		}
	})
}
