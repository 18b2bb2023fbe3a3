package stress

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// plainSet is n transactional migrations without sleeps.
func plainSet(n int) []mig {
	ms := make([]mig, n)
	for i := range ms {
		ms[i] = mig{V: i + 1}
	}
	return ms
}

// jsonReport is the part of `--format json` output these tests read.
type jsonReport struct {
	Applied    []struct{ Version int } `json:"applied"`
	RolledBack []struct{ Version int } `json:"rolled_back"`
	Current    *int                    `json:"current"`
}

func parseReport(r result) (jsonReport, error) {
	var rep jsonReport
	err := json.Unmarshal([]byte(r.stdout), &rep)
	return rep, err
}

// TestStressConcurrentUp races 20 `pgmig up` processes on 50 migrations
// that would fail (CREATE TABLE without IF NOT EXISTS) or show (a counter
// and a log without unique constraints) if any ran twice. Every process
// must exit 0, and together they must apply each migration exactly once.
// It runs alone, not in parallel with the other tests: 20 processes hold 40
// connections.
func TestStressConcurrentUp(t *testing.T) {
	const procs, migrations = 20, 50
	n := 3 * scale(t)
	_, seed := newRand(t)
	ms := plainSet(migrations)
	start := time.Now()
	failures := rounds(t, n, freshTarget(t, ms), func(round int, tg *target, c *pgx.Conn) []string {
		ps := make([]*proc, procs)
		for i := range ps {
			ps[i] = tg.start("up", "--format", "json", "--lock-timeout", "2m")
		}
		var problems []string
		total := 0
		for i, p := range ps {
			r := p.wait(t, 2*time.Minute)
			if r.code != 0 {
				problems = append(problems, fmt.Sprintf("process %d: want exit 0, got\n%s", i, r))
				continue
			}
			rep, err := parseReport(r)
			if err != nil {
				problems = append(problems, fmt.Sprintf("process %d: %v in\n%s", i, err, r))
				continue
			}
			total += len(rep.Applied)
			if rep.Current == nil || *rep.Current != migrations {
				problems = append(problems, fmt.Sprintf("process %d: current %v, want %d", i, rep.Current, migrations))
			}
		}
		if total != migrations {
			problems = append(problems, fmt.Sprintf("the processes report %d migrations applied in all, want %d", total, migrations))
		}
		st, ps2 := check(c, ms)
		problems = append(problems, ps2...)
		if len(st.applied) != migrations {
			problems = append(problems, fmt.Sprintf("%d success rows, want %d", len(st.applied), migrations))
		}
		if n, err := queryInt(c, "SELECT n FROM stress_counter"); err != nil || n != migrations {
			problems = append(problems, fmt.Sprintf("counter %d (%v), want %d", n, err, migrations))
		}
		return problems
	})
	summary(t, "concurrent-up", n, failures, seed,
		fmt.Sprintf("%d processes x %d migrations a round, %s", procs, migrations, time.Since(start).Round(time.Millisecond)))
}

// TestStressUpRollback races `pgmig up` against `pgmig rollback --steps 2`
// in random order and timing. Whatever the interleaving, every process
// exits 0, the applied migrations are a prefix of the set that matches the
// schema, and a final `up` applies the rest.
func TestStressUpRollback(t *testing.T) {
	const ups, rollbacks, migrations = 5, 5, 30
	n := 3 * scale(t)
	rng, seed := newRand(t)
	ms := plainSet(migrations)
	start := time.Now()
	failures := rounds(t, n, freshTarget(t, ms), func(round int, tg *target, c *pgx.Conn) []string {
		var problems []string
		for _, p := range tg.raceRuns(rng, ups, rollbacks, 300*time.Millisecond) {
			if r := p.wait(t, 2*time.Minute); r.code != 0 {
				problems = append(problems, fmt.Sprintf("want exit 0, got\n%s", r))
			}
		}
		st, ps := check(c, ms)
		problems = append(problems, ps...)
		problems = append(problems, notPrefix(st.applied)...)
		t.Logf("round %d: %d applied after the race", round, len(st.applied))
		return append(problems, tg.recover(c, st.dirty)...)
	})
	summary(t, "up-vs-rollback", n, failures, seed,
		fmt.Sprintf("%d ups + %d rollbacks a round, %s", ups, rollbacks, time.Since(start).Round(time.Millisecond)))
}

// cicSet is a transactional migration, a no-transaction CREATE INDEX
// CONCURRENTLY whose build takes about a second, and another
// transactional one.
func cicSet() []mig {
	return []mig{{V: 1}, {V: 2, NoTx: true, Slow: true}, {V: 3}}
}

// appliedLine matches the text output's line for one applied migration.
var appliedLine = regexp.MustCompile(`(?m)^applied +[0-9]+ `)

// TestStressCreateIndexConcurrently starts a second `pgmig up` while the
// first runs CREATE INDEX CONCURRENTLY. The second must wait for the lock
// without holding a snapshot the index build waits for: both finish, the
// second with nothing to do. A control run shows the bound is meaningful:
// a session sitting in a blocking pg_advisory_lock instead stalls the build
// on its virtual transaction, the deadlock the contract's polling avoids.
func TestStressCreateIndexConcurrently(t *testing.T) {
	t.Parallel()
	n := 2 * scale(t)
	_, seed := newRand(t)
	ms := cicSet()
	const bound = 45 * time.Second
	start := time.Now()
	failures := rounds(t, n, freshTarget(t, ms), func(round int, tg *target, c *pgx.Conn) []string {
		var problems []string
		a := tg.start("up")
		if _, err := waitForQuery(c, "%stress_cic%", 20*time.Second); err != nil {
			t.Fatalf("round %d: the first run never reached CREATE INDEX CONCURRENTLY: %v\n%s", round, err, a.wait(t, bound))
		}
		b := tg.start("up", "--lock-timeout", "2m")
		// The second run must be seen waiting while the build goes on.
		err := poll(20*time.Second, func() (bool, error) {
			return strings.Contains(b.stderr.String(), "waiting for the migration lock"), nil
		})
		if err != nil {
			problems = append(problems, fmt.Sprintf("the second run never reported waiting for the lock: %v", err))
		}
		if a.exited() {
			problems = append(problems, "the first run ended before the second was seen waiting: the scenario did not overlap")
		}
		ra, rb := a.wait(t, bound), b.wait(t, bound)
		if ra.code != 0 || !strings.Contains(ra.stdout, "applied 3 migrations") {
			problems = append(problems, fmt.Sprintf("first run: want exit 0 applying 3, got\n%s", ra))
		}
		if rb.code != 0 || appliedLine.MatchString(rb.stdout) {
			problems = append(problems, fmt.Sprintf("second run: want exit 0 applying nothing, got\n%s", rb))
		}
		st, ps := check(c, ms)
		problems = append(problems, ps...)
		if len(st.applied) != len(ms) {
			problems = append(problems, fmt.Sprintf("applied %v, want all %d", st.applied, len(ms)))
		}
		return problems
	})

	// Control: a blocking waiter deadlocks with the build until cancelled.
	tg := newTarget(t, ms)
	c := connect(t, tg.url)
	blocker := connect(t, tg.url)
	a := tg.start("up")
	if _, err := waitForQuery(c, "%stress_cic%", 20*time.Second); err != nil {
		t.Fatalf("control: the run never reached CREATE INDEX CONCURRENTLY: %v\n%s", err, a.wait(t, bound))
	}
	blockerPID, err := queryInt(blocker, "SELECT pg_backend_pid()")
	if err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error, 1)
	go func() {
		_, err := blocker.Exec(context.Background(), "SELECT pg_advisory_lock($1)", lockKey)
		blocked <- err
	}()
	err = poll(20*time.Second, func() (bool, error) {
		n, err := queryInt(c, `SELECT count(*) FROM pg_stat_activity
  WHERE datname = current_database() AND application_name = 'pgmig' AND query LIKE '%stress_cic%'
    AND wait_event_type = 'Lock' AND wait_event = 'virtualxid'`)
		return n > 0, err
	})
	if err != nil {
		t.Errorf("control: CREATE INDEX CONCURRENTLY never waited on the blocked pg_advisory_lock session (%v); the scenario above would not catch a blocking waiter", err)
	}
	if _, err := c.Exec(context.Background(), "SELECT pg_cancel_backend($1)", blockerPID); err != nil {
		t.Fatal(err)
	}
	if err := <-blocked; err == nil {
		t.Errorf("control: the blocking pg_advisory_lock returned without being cancelled")
	}
	if r := a.wait(t, bound); r.code != 0 {
		t.Errorf("control: once the blocker was cancelled the run must finish; got\n%s", r)
	}
	summary(t, "create-index-concurrently", n, failures, seed,
		fmt.Sprintf("plus a blocking-waiter control, %s", time.Since(start).Round(time.Millisecond)))
}
