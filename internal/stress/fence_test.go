package stress

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pgmig/pgmig/internal/pgtest"
)

// TestStressLockTerminatedDuringQuickCommit: issue 16's second hole, from
// outside. Among quick migrations (well under the 5 ms after which the lock
// is checked again before COMMIT), one has a deferred trigger that makes
// its COMMIT take half a second; while that COMMIT runs the test
// terminates the session holding the advisory lock and starts a second
// up. The first run's migration commits after its lock is gone; the fence
// must make that harmless: the second run may not read the history until
// the first run's work session is done, so it never runs that migration
// again (before the fence it did, and failed on the catalog's or the
// tracking table's key). Each run must print exactly what it applied.
func TestStressLockTerminatedDuringQuickCommit(t *testing.T) {
	t.Parallel()
	rnd, seed := newRand(t)
	trials := 4 * scale(t)
	const n = 40
	var ms []mig
	for v := 1; v <= n; v++ {
		ms = append(ms, mig{V: v})
	}
	failures, lateCommits := 0, 0
	for trial := 1; trial <= trials; trial++ {
		k := 3 + rnd.IntN(n-5)
		tg := newTarget(t, ms)
		c := connect(t, tg.url)
		ctx := context.Background()
		if _, err := c.Exec(ctx, fmt.Sprintf(`CREATE FUNCTION stress_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.version = %d THEN PERFORM pg_sleep(0.5); END IF; RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER stress_slow_commit AFTER INSERT ON stress_log DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION stress_slow_commit()`, k)); err != nil {
			t.Fatal(err)
		}
		a := tg.start("up")
		var problems []string
		bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
		err := poll(time.Minute, func() (bool, error) {
			n, err := queryInt(c, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
  AND application_name = 'pgmig' AND query = 'COMMIT' AND wait_event = 'PgSleep'`)
			return n > 0 || a.exited(), err
		})
		if err != nil || a.exited() {
			t.Fatalf("the first run never reached the slow COMMIT of %d: %v\n%s", k, err, a.wait(t, time.Minute))
		}
		holder, err := queryInt(c, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND mode = 'ExclusiveLock'
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "SELECT pg_terminate_backend($1)", holder); err != nil {
			t.Fatal(err)
		}
		b := tg.start("up")
		ra, rb := a.wait(t, time.Minute), b.wait(t, time.Minute)
		if rb.code != 0 {
			bad("the run that took the lock next must finish the job:\n%s", rb)
		}
		if ra.code != 0 && (ra.code != 1 || !strings.Contains(ra.stderr, "migration lock was lost")) {
			bad("the run that lost its lock: want exit 0, or 1 naming the lost lock:\n%s", ra)
		}
		byA, byB := pgtest.Applied(ra.stdout), pgtest.Applied(rb.stdout)
		if byA[k] {
			lateCommits++
		}
		for _, m := range ms {
			if byA[m.V] == byB[m.V] {
				bad("migration %d: first run says applied %v, second %v; exactly one must", m.V, byA[m.V], byB[m.V])
			}
		}
		waitBackendsGone(t, c)
		_, ps := check(c, ms)
		problems = append(problems, ps...)
		if len(problems) > 0 {
			failures++
			t.Errorf("trial %d (slow COMMIT at %d):\n%s", trial, k, strings.Join(problems, "\n"))
		}
	}
	summary(t, "lock-terminated-during-quick-commit", trials, failures, seed,
		fmt.Sprintf("%d trials committed the migration in flight after the lock session ended", lateCommits))
}
