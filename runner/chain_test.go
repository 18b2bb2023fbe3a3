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

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/runner"
)

// Each transactional step's COMMIT travels with the next step's query.
// These tests hold the run to what it reports: a step is reported applied
// only once its COMMIT succeeded, and promptly, while the next one runs.

// A COMMIT that fails (a deferred constraint) is the failure of its own
// migration, which is not reported applied; the next migration, already
// on its way, is cancelled and kept from nothing.
func TestChainedCommitFailureIsItsOwn(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{
		"001_one.sql": mig("CREATE TABLE p (id int PRIMARY KEY);\nCREATE SEQUENCE three_ran;", ""),
		"002_deferred.sql": mig(`CREATE TABLE ch (p int REFERENCES p DEFERRABLE INITIALLY DEFERRED);
INSERT INTO ch VALUES (42);`, ""),
		// nextval is not rolled back: it shows whether 3 ran to its end.
		"003_long.sql": mig("SELECT pg_sleep(30);\nSELECT nextval('three_ran');\nCREATE TABLE three (id int);", ""),
	}
	var mu sync.Mutex
	var finished, failed []int64
	r := e.runner(files, runner.Options{OnEvent: func(ev runner.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Kind {
		case runner.StepFinished:
			finished = append(finished, ev.Step.Version)
		case runner.StepFailed:
			failed = append(failed, ev.Step.Version)
		}
	}})
	start := time.Now()
	rep, err := r.Up(ctx, runner.UpOptions{})
	took := time.Since(start)
	var me *runner.MigrationError
	var pe *pgconn.PgError
	if !errors.As(err, &me) || me.Version != 2 || !errors.As(err, &pe) || pe.Code != "23503" {
		t.Fatalf("up: %v, want migration 2's deferred FK violation (23503)", err)
	}
	if !strings.Contains(err.Error(), "at COMMIT") {
		t.Errorf("error %q does not say it failed at COMMIT", err)
	}
	if h := e.history(""); h != "1" || e.exists("ch") || e.exists("three") {
		t.Errorf("history %q, ch %v, three %v: want only 1", h, e.exists("ch"), e.exists("three"))
	}
	if v := versions(rep.Applied); v != "1" {
		t.Errorf("reported applied %s, want 1", v)
	}
	mu.Lock()
	if len(finished) != 1 || finished[0] != 1 || len(failed) != 1 || failed[0] != 2 {
		t.Errorf("events: finished %v, failed %v; want finished [1], failed [2]", finished, failed)
	}
	mu.Unlock()
	var ran bool
	if err := e.pool.QueryRow(ctx, "SELECT is_called FROM three_ran").Scan(&ran); err != nil {
		t.Fatal(err)
	}
	if ran || took > 25*time.Second {
		t.Errorf("migration 3 ran to its end (%v, run took %s) after 2 failed: it should have been cancelled", ran, took)
	}
}

// The step before is reported as soon as its COMMIT is done, while the
// next step still runs, and what is reported is committed.
func TestChainedCommitReportedWhileNextRuns(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{
		"001_one.sql":  mig("CREATE TABLE one (id int);", ""),
		"002_slow.sql": mig("SELECT pg_sleep(3);", ""),
	}
	seen := make(chan string, 1)
	r := e.runner(files, runner.Options{OnEvent: func(ev runner.Event) {
		if ev.Kind != runner.StepFinished || ev.Step.Version != 1 {
			return
		}
		// Another session sees 1 committed, and 2 still running.
		h := e.history("")
		running := false
		for i := 0; i < 100 && !running; i++ {
			if err := e.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
  WHERE datname = current_database() AND state = 'active' AND query LIKE '%pg_sleep(3)%' AND pid <> pg_backend_pid())`).Scan(&running); err != nil {
				t.Error(err)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !running {
			h += " (2 not running)"
		}
		seen <- h
	}})
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if h := <-seen; h != "1" {
		t.Errorf("when 1 was reported: history %q, want 1 with 2 running", h)
	}
}

// A run stopped while a step runs reports the step before it applied (its
// COMMIT went first, and its result came back) and the stopped one not.
func TestChainedCommitCancelledDuringNext(t *testing.T) {
	e := newEnv(t)
	files := fstest.MapFS{
		"001_one.sql":  mig("CREATE TABLE one (id int);", ""),
		"002_slow.sql": mig("CREATE TABLE two (id int);\nSELECT pg_sleep(30);", ""),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := e.runner(files, runner.Options{OnEvent: func(ev runner.Event) {
		if ev.Kind == runner.StepFinished && ev.Step.Version == 1 {
			time.AfterFunc(200*time.Millisecond, cancel)
		}
	}})
	rep, err := r.Up(ctx, runner.UpOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("up: %v, want context.Canceled", err)
	}
	if v := versions(rep.Applied); v != "1" {
		t.Errorf("reported applied %s, want 1", v)
	}
	// The server ends the cancelled session's transaction when it sees
	// the connection gone.
	deadline := time.Now().Add(10 * time.Second)
	for e.exists("two") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if h := e.history(""); h != "1" || !e.exists("one") || e.exists("two") {
		t.Errorf("history %q, one %v, two %v: want 1 applied, nothing of 2", h, e.exists("one"), e.exists("two"))
	}
}

// A session that dies as its COMMIT runs leaves the outcome to be found
// out: here it did not commit (the deferred trigger ends its own backend
// before the commit), and the run says so, from the history, rather than
// guessing.
func TestChainedCommitSessionEndsAtCommit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{
		"001_setup.sql": mig(`CREATE TABLE probe (v int);
CREATE FUNCTION die_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_terminate_backend(pg_backend_pid());
  PERFORM pg_sleep(5);
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER probe_commit AFTER INSERT ON probe DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION die_at_commit();`, ""),
		"002_dies.sql":  mig("INSERT INTO probe VALUES (2);", ""),
		"003_after.sql": mig("CREATE TABLE after3 (id int);", ""),
	}
	rep, err := e.runner(files, runner.Options{}).Up(ctx, runner.UpOptions{})
	var me *runner.MigrationError
	if !errors.As(err, &me) || me.Version != 2 {
		t.Fatalf("up: %v, want migration 2's error", err)
	}
	if !strings.Contains(err.Error(), "not committed") {
		t.Errorf("error %q does not say 2 was not committed", err)
	}
	if v := versions(rep.Applied); v != "1" {
		t.Errorf("reported applied %s, want 1", v)
	}
	if h := e.history(""); h != "1" || e.exists("after3") {
		t.Errorf("history %q, after3 %v: want only 1", h, e.exists("after3"))
	}
}

// The lock check before each COMMIT (owed or not) stops a migration whose
// lock session ended while it ran: here the migration itself ends that
// session, and waits until the server has dropped its locks.
func TestLockLostDuringMigrationStopsBeforeCommit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	holding := runnerLockRow()
	files := fstest.MapFS{
		"001_one.sql": mig("CREATE TABLE one (id int);", ""),
		"002_cut.sql": mig(`CREATE TABLE two (id int);
DO $$
DECLARE holder int;
BEGIN
  SELECT pid INTO holder FROM pg_locks WHERE `+holding+`;
  PERFORM pg_terminate_backend(holder);
  FOR i IN 1..200 LOOP
    EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_locks WHERE `+holding+`);
    PERFORM pg_sleep(0.01);
  END LOOP;
  -- Longer than the 5 ms after which the lock is checked again before
  -- the COMMIT: a quicker migration is left to the fence.
  PERFORM pg_sleep(0.05);
END $$;`, ""),
		"003_three.sql": mig("CREATE TABLE three (id int);", ""),
	}
	rep, err := e.runner(files, runner.Options{}).Up(ctx, runner.UpOptions{})
	var me *runner.MigrationError
	if !errors.Is(err, runner.ErrLockLost) || !errors.As(err, &me) || me.Version != 2 {
		t.Fatalf("up: %v, want migration 2 stopped with ErrLockLost", err)
	}
	if v := versions(rep.Applied); v != "1" {
		t.Errorf("reported applied %s, want 1", v)
	}
	if h := e.history(""); h != "1" || e.exists("two") || e.exists("three") {
		t.Errorf("history %q, two %v, three %v: want only 1", h, e.exists("two"), e.exists("three"))
	}
}

// Events come in the order things happen: a step is reported started only
// after the step before is reported finished, and by then that step is
// committed, so an OnEvent that takes its time at StepStarted never holds
// the step before's transaction (and its locks) open. Reported first, as
// the chained COMMIT had it at first, a hook waiting at StepStarted
// waited on a COMMIT that only its own return could send (the failover
// test deadlocked so).
func TestChainedStepStartsAfterTheOneBeforeCommitted(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{
		"001_one.sql":   mig("CREATE TABLE one (id int);", ""),
		"002_two.sql":   mig("CREATE TABLE two (id int);", ""),
		"003_three.sql": mig("CREATE TABLE three (id int);", ""),
	}
	var order []string
	var problems []string
	r := e.runner(files, runner.Options{OnEvent: func(ev runner.Event) {
		switch ev.Kind {
		case runner.StepStarted:
			order = append(order, fmt.Sprintf("start %d", ev.Step.Version))
			if ev.Step.Version > 1 {
				// From another session: the step before is committed.
				if h := e.history(""); h != fmt.Sprint(map[int64]string{2: "1", 3: "1,2"}[ev.Step.Version]) {
					problems = append(problems, fmt.Sprintf("at the start of %d another session sees history %q", ev.Step.Version, h))
				}
				ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				var locked bool
				prev := map[int64]string{2: "one", 3: "two"}[ev.Step.Version]
				if err := e.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = $1)", prev).Scan(&locked); err != nil || locked {
					problems = append(problems, fmt.Sprintf("at the start of %d table %s is still locked (%v)", ev.Step.Version, prev, err))
				}
			}
		case runner.StepFinished:
			order = append(order, fmt.Sprintf("finish %d", ev.Step.Version))
		}
	}})
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(order, ", "), "start 1, finish 1, start 2, finish 2, start 3, finish 3"; got != want {
		t.Errorf("events %s, want %s", got, want)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
