package runner_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/lock"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// A quick migration whose lock session is terminated between the lock
// check and the end of its COMMIT (here by a deferred trigger of its own,
// which then waits until another run holds the lock) commits after the
// lock is gone. That commit must be harmless: the run waiting for the lock
// may not read the history before it, so it never runs the migration a
// second time, and the first run says truthfully what it applied.
func TestSessionLockLostAtCommitIsHarmless(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	holding := runnerLockRow() + " AND mode = 'ExclusiveLock'"
	files := fstest.MapFS{
		"001_setup.sql": mig(`CREATE SEQUENCE attempts;
CREATE TABLE probe (v int);
CREATE FUNCTION probe_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE old int;
BEGIN
  SELECT pid INTO old FROM pg_locks WHERE `+holding+`;
  PERFORM pg_terminate_backend(old);
  -- Give the next run the time to take the lock and read the history.
  FOR i IN 1..100 LOOP
    EXIT WHEN EXISTS (SELECT 1 FROM pg_locks WHERE `+holding+` AND pid <> old);
    PERFORM pg_sleep(0.05);
  END LOOP;
  PERFORM pg_sleep(0.3);
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER probe_commit AFTER INSERT ON probe DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION probe_at_commit();`, ""),
		// nextval is not rolled back: it counts every attempt.
		"002_once.sql":  mig("SELECT nextval('attempts');\nINSERT INTO probe VALUES (2);", ""),
		"003_after.sql": mig("CREATE TABLE after3 (id int);", ""),
	}
	a := e.runner(files, runner.Options{})
	if _, err := a.Up(ctx, runner.UpOptions{To: 1}); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	var b *runner.Runner
	a = e.runner(files, runner.Options{OnEvent: func(ev runner.Event) {
		if ev.Kind == runner.StepStarted && ev.Step.Version == 2 && b == nil {
			pool, err := pgxpool.New(ctx, e.url)
			if err != nil {
				second <- err
				return
			}
			e.t.Cleanup(pool.Close)
			b, _ = runner.New(pool, source.FromFS(files), runner.Options{LockTimeout: time.Minute})
			go func() {
				_, err := b.Up(ctx, runner.UpOptions{})
				second <- err
			}()
		}
	}})
	rep, err := a.Up(ctx, runner.UpOptions{})
	if !errors.Is(err, runner.ErrLockLost) {
		t.Errorf("the run whose lock session was terminated: %v, want ErrLockLost", err)
	}
	if err := <-second; err != nil {
		t.Errorf("the run that took the lock next: %v, want success", err)
	}
	var attempts int64
	if err := e.pool.QueryRow(ctx, "SELECT last_value FROM attempts").Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 {
		t.Errorf("migration 2 was attempted %d times, want once: the next run read the history before the first run's COMMIT ended", attempts)
	}
	if h := e.history(""); h != "1,2,3" {
		t.Errorf("history %s, want 1,2,3", h)
	}
	// Whatever the first run reports applied, it applied.
	for _, st := range rep.Applied {
		if st.Version == 3 {
			t.Errorf("the first run reports 3 applied after it knew its lock lost")
		}
	}
	t.Logf("first run: applied %s, then %v", versions(rep.Applied), err)
}

// A lease lost between two migrations (taken over, here by hand, right
// after migration 1 committed) stops the run before it writes anything
// more: no history row for migration 2, transactional or not, and an
// error saying the lock was lost. Before fencing, the run went on until
// its next renewal noticed, and wrote migration 2 (or, for a
// no-transaction one, its failed row) without the lease.
func TestLeaseLostWritesNothingMore(t *testing.T) {
	cases := []struct {
		name string
		body string
	}{
		{"transactional", "CREATE TABLE two (id int);"},
		{"no-transaction", "-- pgmig:no-transaction\nCREATE TABLE two (id int);"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			files := fstest.MapFS{
				"001_one.sql": mig("CREATE TABLE one (id int);", ""),
				"002_two.sql": mig(tc.body, ""),
			}
			r := e.runner(files, runner.Options{LockMode: runner.LockTable, LockTTL: time.Minute, OnEvent: func(ev runner.Event) {
				if ev.Kind == runner.StepFinished && ev.Step.Version == 1 {
					if _, err := e.pool.Exec(ctx, "UPDATE public.pgmig_migrations_lock SET owner = 'thief'"); err != nil {
						t.Error(err)
					}
				}
			}})
			rep, err := r.Up(ctx, runner.UpOptions{})
			if !errors.Is(err, runner.ErrLockLost) {
				t.Fatalf("up after the lease was taken: %v, want ErrLockLost", err)
			}
			if h := e.history(""); h != "1" || e.exists("two") {
				t.Fatalf("history %s, table two %v: want only 1, and nothing of 2", h, e.exists("two"))
			}
			if versions(rep.Applied) != "1" {
				t.Errorf("reported applied %s, want 1", versions(rep.Applied))
			}
			var me *runner.MigrationError
			if errors.As(err, &me) && me.NoTransaction {
				t.Errorf("reported as a half-run no-transaction section: %v", err)
			}
		})
	}
}

// A lease the client finds lost while the server still counts it held
// (a renewal that timed out after the server applied it) can be found
// lost between the guarded write of a no-transaction section's failed
// row and its first statement. Nothing of the section ran, so that row is
// taken back: left there, it made the next run refuse until `repair`, for
// a migration that never started. Here a trigger on that row's insert
// holds the lease row (extending it, as a late renewal would) until the
// run's own renewals time out.
func TestLeaseLostBeforeFirstNoTxStatementTakesRowBack(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{
		"001_trap.sql": mig(`CREATE FUNCTION hold_lease() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE public.pgmig_migrations_lock SET expires_at = clock_timestamp() + interval '1 minute';
  BEGIN
    PERFORM pg_sleep(1.5);
  EXCEPTION WHEN query_canceled THEN
    -- The cancel the run sends on finding the loss: this insert is then
    -- one the server finished before the cancel came.
  END;
  RETURN NULL;
END $$;
CREATE TRIGGER hold_lease AFTER INSERT ON public.pgmig_migrations
  FOR EACH ROW WHEN (NOT NEW.success) EXECUTE FUNCTION hold_lease();`, ""),
		"002_two.sql": mig("-- pgmig:no-transaction\nCREATE TABLE two (id int);", ""),
	}
	r := e.runner(files, runner.Options{LockMode: runner.LockTable, LockTTL: 600 * time.Millisecond})
	rep, err := r.Up(ctx, runner.UpOptions{})
	if !errors.Is(err, runner.ErrLockLost) {
		t.Fatalf("up whose lease renewals time out: %v, want ErrLockLost", err)
	}
	if h := e.history(""); h != "1" || e.exists("two") {
		t.Fatalf("history %s, table two %v: want only 1, and nothing of 2", h, e.exists("two"))
	}
	var me *runner.MigrationError
	if !errors.As(err, &me) || me.Version != 2 || me.NoTransaction {
		t.Errorf("error %v (%#v): want migration 2, reported as not run (NoTransaction false)", err, me)
	}
	if versions(rep.Applied) != "1" {
		t.Errorf("reported applied %s, want 1", versions(rep.Applied))
	}
}

// A run stopped while it writes the failed row that marks a
// no-transaction section's start (here held up by a trigger) leaves no
// such row: every later run would refuse, asking for a repair of a
// migration that never started. (It holds on 13 and on 15 with or without
// the cancel a stopped run sends, so it guards the outcome, not that
// mechanism; TestSignalStopsRun on 13 is what needs the cancel.)
func TestStoppedRunCancelsItsStartRow(t *testing.T) {
	e := newEnv(t)
	files := fstest.MapFS{
		"001_trap.sql": mig(`CREATE FUNCTION slow_start() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_sleep(3);
  RETURN NULL;
END $$;
CREATE TRIGGER slow_start AFTER INSERT ON public.pgmig_migrations
  FOR EACH ROW WHEN (NOT NEW.success) EXECUTE FUNCTION slow_start();`, ""),
		"002_two.sql": mig("-- pgmig:no-transaction\nCREATE TABLE two (id int);", ""),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := e.runner(files, runner.Options{OnEvent: func(ev runner.Event) {
		if ev.Kind == runner.StepStarted && ev.Step.Version == 2 {
			time.AfterFunc(500*time.Millisecond, cancel)
		}
	}})
	start := time.Now()
	if _, err := r.Up(ctx, runner.UpOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("up stopped during the start row's write: %v, want context.Canceled", err)
	}
	// The trigger would have let the insert commit 3 s in.
	time.Sleep(time.Until(start.Add(4 * time.Second)))
	if h := e.history(""); h != "1" || e.exists("two") {
		t.Fatalf("history %s, table two %v: want only 1, and no failed row for 2", h, e.exists("two"))
	}
}

// runnerLockRow is a pg_locks condition matching the session lock a run
// holds on DefaultTable (classid and objid are its key's two halves), so
// that a migration can find, and end, its own run's lock session. It
// keeps to this test's database: other tests lock the same table name.
func runnerLockRow() string {
	key := lock.Key(runner.DefaultTable)
	return fmt.Sprintf(`locktype = 'advisory' AND granted AND classid::bigint = %d AND objid::bigint = %d AND objsubid = 1
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, int64(uint64(key)>>32), int64(uint64(key)&0xffffffff))
}
