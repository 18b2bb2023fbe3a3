package runner_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/runner"
)

// holdLock opens a transaction on another connection that holds a lock on
// table, as a long-running application transaction would.
func holdLock(t *testing.T, url, table string) (pid uint32, release func()) {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "long-report"
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "BEGIN; SELECT count(*) FROM "+table); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			c.Exec(ctx, "COMMIT")
			c.Close(ctx)
		})
	}
	t.Cleanup(release)
	return c.PgConn().PID(), release
}

func TestLockTimeoutRetryReportsBlockers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{
		"001_t.sql":     mig("CREATE TABLE t (id int); INSERT INTO t VALUES (1);", ""),
		"002_alter.sql": mig("ALTER TABLE t ADD COLUMN note text;", ""),
	}
	var mu sync.Mutex
	var retries []runner.Retry
	var release func()
	r := e.runner(files, runner.Options{
		DDLLockTimeout: 200 * time.Millisecond,
		DDLRetries:     4,
		DDLRetryWait:   100 * time.Millisecond,
		OnEvent: func(ev runner.Event) {
			if ev.Kind == runner.StepRetrying {
				mu.Lock()
				retries = append(retries, ev.Retry)
				mu.Unlock()
				release() // the long transaction ends after the first retry
			}
		},
	})
	if _, err := r.Up(ctx, runner.UpOptions{To: 1}); err != nil {
		t.Fatal(err)
	}
	var pid uint32
	pid, release = holdLock(t, e.url, "t")
	rep, err := r.Up(ctx, runner.UpOptions{})
	if err != nil {
		t.Fatalf("up with a retry: %v", err)
	}
	if versions(rep.Applied) != "2" || e.history("") != "1,2" {
		t.Fatalf("applied %s, history %s", versions(rep.Applied), e.history(""))
	}
	if len(retries) != 1 {
		t.Fatalf("%d retries, want 1", len(retries))
	}
	rt := retries[0]
	if rt.Attempt != 1 || rt.Max != 4 || rt.Wait <= 0 {
		t.Errorf("retry %+v", rt)
	}
	var pe *pgconn.PgError
	if !errors.As(rt.Err, &pe) || pe.Code != "55P03" {
		t.Errorf("retry error %v, want SQLSTATE 55P03", rt.Err)
	}
	if len(rt.Blockers) != 1 || rt.Blockers[0].PID != int(pid) || rt.Blockers[0].ApplicationName != "long-report" ||
		!strings.Contains(rt.Blockers[0].Query, "count(*)") || rt.Blockers[0].InTransaction <= 0 {
		t.Errorf("blockers %+v, want pid %d running the count", rt.Blockers, pid)
	}
}

// DDLRetries counts retries, as --ddl-retries does: zero means none.
func TestLockTimeoutRetriesRunOut(t *testing.T) {
	for _, retries := range []int{0, 2} {
		t.Run(fmt.Sprint(retries), func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			files := fstest.MapFS{
				"001_t.sql":     mig("CREATE TABLE t (id int);", ""),
				"002_alter.sql": mig("-- pgmig:lock-timeout 100ms\nALTER TABLE t ADD COLUMN note text;", ""),
			}
			n := 0
			r := e.runner(files, runner.Options{DDLRetries: retries, DDLRetryWait: 10 * time.Millisecond, OnEvent: func(ev runner.Event) {
				if ev.Kind == runner.StepRetrying {
					n++
				}
			}})
			if _, err := r.Up(ctx, runner.UpOptions{To: 1}); err != nil {
				t.Fatal(err)
			}
			holdLock(t, e.url, "t")
			_, err := r.Up(ctx, runner.UpOptions{})
			var pe *pgconn.PgError
			var me *runner.MigrationError
			if !errors.As(err, &me) || !errors.As(err, &pe) || pe.Code != "55P03" || me.Version != 2 || me.Line != 3 {
				t.Fatalf("retries run out: %v", err)
			}
			if n != retries || e.history("") != "1" {
				t.Fatalf("%d retries, history %s; want %d retries and nothing applied", n, e.history(""), retries)
			}
		})
	}
}

// upOverInvalidIndex leaves an INVALID index public.t_id behind, as a
// unique index build that fails on duplicates does, and returns the error
// of an up whose CREATE INDEX ... IF NOT EXISTS then "succeeds" over it.
func (e *env) upOverInvalidIndex() error {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, `CREATE TABLE t (id int); INSERT INTO t VALUES (1), (1)`); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `CREATE UNIQUE INDEX CONCURRENTLY t_id ON t (id)`); err == nil {
		e.t.Fatal("setup: the duplicate did not fail the build")
	}
	files := fstest.MapFS{
		"001_idx.sql": mig("-- pgmig:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_id ON t (id);", ""),
	}
	_, err := e.runner(files, runner.Options{}).Up(ctx, runner.UpOptions{})
	return err
}

func TestInvalidIndexIsAFailure(t *testing.T) {
	e := newEnv(t)
	err := e.upOverInvalidIndex()
	var ie *runner.InvalidIndexError
	if !errors.As(err, &ie) || len(ie.Indexes) != 1 || ie.Indexes[0] != "public.t_id" {
		t.Fatalf("up over an invalid index: %v", err)
	}
	if !strings.Contains(err.Error(), "DROP INDEX CONCURRENTLY") {
		t.Errorf("the error does not say how to clean up: %v", err)
	}
	if e.history("") != "1!" {
		t.Fatalf("history %s, want a failed row", e.history(""))
	}
}

func TestRehearse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{
		"001_users.sql":  mig("CREATE TABLE users (id int); INSERT INTO users VALUES (1);", ""),
		"002_empty.sql":  mig("CREATE TABLE empty (id int);", ""),
		"003_alter.sql":  mig("ALTER TABLE users ADD COLUMN note text; ALTER TABLE empty ADD COLUMN note text; CREATE INDEX users_id ON users (id);", ""),
		"004_notx.sql":   mig("-- pgmig:no-transaction\nCREATE INDEX CONCURRENTLY users_note ON users (note);", ""),
		"005_select.sql": mig("SELECT count(*) FROM users;", ""),
	}
	r := e.runner(files, runner.Options{})
	if _, err := r.Up(ctx, runner.UpOptions{To: 2}); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Up(ctx, runner.UpOptions{Rehearse: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rehearsed) != 3 {
		t.Fatalf("%d rehearsals, want 3 (003, 004 skipped, 005)", len(rep.Rehearsed))
	}
	alter := rep.Rehearsed[0]
	var users, empty, index bool
	for _, l := range alter.Locks {
		switch {
		case l.Relation == "public.users" && l.Mode == "ACCESS EXCLUSIVE":
			users = l.Blocking
		case l.Relation == "public.empty" && l.Mode == "ACCESS EXCLUSIVE":
			empty = !l.Blocking
		case l.Relation == "public.users_id":
			index = true
		}
	}
	if !users || !empty || !index || alter.Step.Duration <= 0 {
		t.Errorf("003's locks %+v: want users flagged blocking, empty not, the new index listed", alter.Locks)
	}
	if rep.Rehearsed[1].Skipped == "" || rep.Rehearsed[1].Step.Version != 4 {
		t.Errorf("004 not listed as unrehearsable: %+v", rep.Rehearsed[1])
	}
	for _, l := range rep.Rehearsed[2].Locks {
		if l.Mode != "ACCESS SHARE" {
			t.Errorf("005 took %s on %s; a SELECT takes ACCESS SHARE only (locks of 003 attributed to it?)", l.Mode, l.Relation)
		}
	}
	// Nothing persisted.
	var cols int
	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users'").Scan(&cols); err != nil {
		t.Fatal(err)
	}
	if cols != 1 || e.exists("users_id") || e.history("") != "1,2" {
		t.Fatalf("rehearsal persisted: %d columns, history %s", cols, e.history(""))
	}
	// A failing migration fails the rehearsal with its location.
	files["006_bad.sql"] = mig("SELECT nope FROM users;", "")
	_, err = r.Up(ctx, runner.UpOptions{Rehearse: true})
	var me *runner.MigrationError
	if !errors.As(err, &me) || me.Version != 6 || me.Line != 2 {
		t.Fatalf("rehearsal of a failing migration: %v", err)
	}
}

func TestProgressDuringIndexBuild(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	setup := `CREATE TABLE t (id int);
INSERT INTO t SELECT g FROM generate_series(1, 600) g;
CREATE FUNCTION slow(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM pg_sleep(0.002); RETURN $1; END $$;`
	if _, err := e.pool.Exec(ctx, setup); err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{"001_idx.sql": mig("-- pgmig:no-transaction\nCREATE INDEX CONCURRENTLY t_slow ON t (slow(id));", "")}
	var mu sync.Mutex
	var samples []runner.Progress
	r := e.runner(files, runner.Options{ProgressInterval: 100 * time.Millisecond, OnEvent: func(ev runner.Event) {
		if ev.Kind == runner.StepProgress {
			mu.Lock()
			samples = append(samples, ev.Progress)
			mu.Unlock()
		}
	}})
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	building := false
	for _, p := range samples {
		if p.Statement != 1 || p.Elapsed <= 0 {
			t.Errorf("sample %+v", p)
		}
		if strings.HasPrefix(p.Phase, "building index") && p.Relation == "t" && p.Index == "t_slow" && p.Blocks > 0 {
			building = true
		}
	}
	if len(samples) == 0 || !building {
		t.Fatalf("%d samples, none showing the index build: %+v", len(samples), samples)
	}
}
