package stress

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// crashSet is n migrations, every fourth one no-transaction, each sleeping
// 10 to 50 ms to widen the windows a kill can land in.
func crashSet(rng *rand.Rand, n int) []mig {
	ms := make([]mig, n)
	for i := range ms {
		ms[i] = mig{V: i + 1, NoTx: (i+1)%4 == 0, Sleep: time.Duration(10+rng.IntN(41)) * time.Millisecond}
	}
	return ms
}

// TestStressSigkill kills `pgmig up` and `pgmig rollback` with SIGKILL at
// random moments. After each kill, once the killed run's server sessions
// are gone: the advisory lock is free, the history matches the schema (no
// half-applied transactional migration; an interrupted no-transaction one
// leaves at most a failed row), `up` refuses a failed row with exit 3 until
// the test fixes the schema by hand and runs `repair`, and then `up`
// finishes the job.
func TestStressSigkill(t *testing.T) {
	t.Parallel()
	rng, seed := newRand(t)
	iterations := 40 * scale(t)
	budget := time.Duration(scale(t)) * 60 * time.Second
	ms := crashSet(rng, 16)
	tg := newTarget(t, ms)
	c := connect(t, tg.url)
	start := time.Now()
	dirtyTrials, orphans := 0, 0
	trials, failures, killedMid := tg.killTrials(rng, c, iterations, budget, "", func(killed) ([]string, string) {
		waitLockFree(t, c)
		// The lock is free, but the killed run's work session may still be
		// finishing its query (see TestStressKillThenRetry).
		if n, err := queryInt(c, backendCountSQL); err == nil && n > 0 {
			orphans++
		}
		waitBackendsGone(t, c)
		st, problems := check(c, ms)
		if len(st.dirty) > 0 {
			dirtyTrials++
		}
		problems = append(problems, tg.recover(c, st.dirty)...)
		return problems, fmt.Sprintf("applied %v, failed rows %v", st.applied, st.dirty)
	})
	summary(t, "sigkill", trials, failures, seed,
		fmt.Sprintf("%d killed mid-run, %d left a failed no-transaction row, %d left a server session running after the lock was free, %s",
			killedMid, dirtyTrials, orphans, time.Since(start).Round(time.Millisecond)))
}

// TestStressTerminateBackend terminates pgmig's work session on the server
// (pg_terminate_backend) while it runs a migration, transactional or not.
// pgmig must exit 1 naming the migration and the server's reason, the
// invariant must hold, and the next `up` (after the by-hand fix and
// `repair` for a no-transaction migration) must finish.
func TestStressTerminateBackend(t *testing.T) {
	t.Parallel()
	_, seed := newRand(t)
	trials := 4 * scale(t)
	ms := []mig{{V: 1}, {V: 2, Hold: true}, {V: 3, NoTx: true, Hold: true}, {V: 4}}
	tg := newTarget(t, ms)
	c := connect(t, tg.url)
	ctx := context.Background()
	failures := 0
	start := time.Now()
	for i := 0; i < trials; i++ {
		victim := ms[1+i%2]
		var problems []string
		if i > 0 {
			tg.mustRun(0, "rollback", "--to", fmt.Sprint(victim.V-1))
		}
		if _, err := c.Exec(ctx, "INSERT INTO stress_hold VALUES ($1)", victim.V); err != nil {
			t.Fatal(err)
		}
		p := tg.start("up")
		pid, err := waitForQuery(c, "%"+victim.marker()+"%", 30*time.Second)
		if err != nil {
			t.Fatalf("trial %d: migration %d never ran: %v\n%s", i, victim.V, err, p.wait(t, time.Minute))
		}
		var ok bool
		if err := c.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
			t.Fatalf("trial %d: terminate %d: %v %v", i, pid, ok, err)
		}
		if _, err := c.Exec(ctx, "DELETE FROM stress_hold"); err != nil {
			t.Fatal(err)
		}
		r := p.wait(t, time.Minute)
		if r.code != 1 {
			problems = append(problems, fmt.Sprintf("want exit 1, got\n%s", r))
		}
		// A clear error: the migration and the server's reason.
		if !strings.Contains(r.stderr, fmt.Sprintf("%03d", victim.V)) ||
			!(strings.Contains(r.stderr, "57P01") || strings.Contains(r.stderr, "terminating connection")) ||
			strings.Contains(r.stderr, "panic:") {
			problems = append(problems, fmt.Sprintf("the error should name migration %03d and the server's reason (57P01):\n%s", victim.V, r.stderr))
		}
		waitLockFree(t, c)
		waitBackendsGone(t, c)
		st, ps := check(c, ms)
		problems = append(problems, ps...)
		wantApplied := victim.V - 1
		if len(st.applied) != wantApplied {
			problems = append(problems, fmt.Sprintf("applied %v, want versions 1 to %d", st.applied, wantApplied))
		}
		if victim.NoTx != (len(st.dirty) == 1) {
			problems = append(problems, fmt.Sprintf("failed rows %v; want one exactly for a no-transaction victim (%v)", st.dirty, victim.NoTx))
		}
		problems = append(problems, tg.recover(c, st.dirty)...)
		if len(problems) > 0 {
			failures++
			t.Errorf("trial %d (victim %d, no-transaction %v):\n%s", i, victim.V, victim.NoTx, strings.Join(problems, "\n"))
		}
	}
	summary(t, "terminate-backend", trials, failures, seed, time.Since(start).Round(time.Millisecond).String())
}

// waitBlocked gives p up to 20s to end, or to be seen blocked on a lock:
// a pgmig session other than pid (the killed run's session, still
// running its statement) waiting on one.
func waitBlocked(c *pgx.Conn, p *proc, pid int) {
	poll(20*time.Second, func() (bool, error) {
		n, err := queryInt(c, `SELECT count(*) FROM pg_stat_activity
  WHERE datname = current_database() AND application_name = 'pgmig' AND pid <> $1 AND wait_event_type = 'Lock'`, pid)
		return n > 0 || p.exited(), err
	})
}

// TestStressKillThenRetry is what a deploy system does after a killed run:
// run pgmig again at once. The killed client's lock session ends with its
// socket, so the retry gets the lock at once, while the killed run's work
// session is still executing the migration it was sent: the server notices
// a dead client only when the query ends (or, on PostgreSQL 14 and later,
// at the next client_connection_check_interval). The retry must still see
// the database as it was before that migration began, and the killed
// migration must never commit behind it:
//
//   - up: the retry applies the migration once, exit 0 (it would fail with
//     SQLSTATE 23505 if the orphan committed first);
//   - rollback: the retry undoes the migration below the orphan's; were the
//     orphan to commit afterwards, version N would be applied without N-1
//     and the next `up` would refuse it as out of order (exit 3).
//
// pgmig up to 1eea7f3 sent COMMIT inside the migration's query, and both
// cases failed.
func TestStressKillThenRetry(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		ms     []mig
		before []string // brings the database to the starting state
		retry  []string
	}{
		{"up", []mig{{V: 1}, {V: 2, Hold: true}, {V: 3}}, nil, []string{"up"}},
		{"rollback", []mig{{V: 1}, {V: 2}, {V: 3, Hold: true}}, []string{"up", "--to", "2"}, []string{"rollback"}},
	}
	_, seed := newRand(t)
	failures := 0
	for _, tc := range cases {
		ok := t.Run(tc.name, func(t *testing.T) {
			tg := newTarget(t, tc.ms)
			c := connect(t, tg.url)
			ctx := context.Background()
			if tc.before != nil {
				tg.mustRun(0, tc.before...)
			}
			victim := tc.ms[len(tc.before)/2+1]
			if _, err := c.Exec(ctx, "INSERT INTO stress_hold VALUES ($1)", victim.V); err != nil {
				t.Fatal(err)
			}
			a := tg.start("up")
			orphan, err := waitForQuery(c, "%"+victim.marker()+"%", 30*time.Second)
			if err != nil {
				t.Fatalf("migration %d never ran: %v\n%s", victim.V, err, a.wait(t, time.Minute))
			}
			a.cmd.Process.Signal(syscall.SIGKILL)
			a.wait(t, time.Minute)
			waitLockFree(t, c)
			b := tg.start(tc.retry...)
			// Let the retry run into the orphan (blocked on its locks) or end.
			waitBlocked(c, b, orphan)
			if _, err := c.Exec(ctx, "DELETE FROM stress_hold"); err != nil {
				t.Fatal(err)
			}
			rb := b.wait(t, time.Minute)
			waitBackendsGone(t, c)
			st, ps := check(c, tc.ms)
			for _, p := range ps {
				t.Error(p)
			}
			if rb.code != 0 {
				t.Errorf("the retry right after the kill: want exit 0, got\n%s", rb)
			}
			for i, v := range st.applied {
				if v != i+1 {
					t.Errorf("applied versions %v are not a prefix of the set", st.applied)
					break
				}
			}
			if r := tg.run("up"); r.code != 0 {
				t.Errorf("the next up: want exit 0, got\n%s", r)
			}
		})
		if !ok {
			failures++
		}
	}
	summary(t, "kill-then-retry", len(cases), failures, seed, "")
}

// TestStressLockSessionLost terminates the session holding a running up's
// advisory lock (as an idle_session_timeout, a network cut or an operator
// would) while the run's work session is in a migration, then starts a
// second up. The lock no longer keeps the two apart; the contract still
// promises each migration applied exactly once, and the history matching
// the schema. Each run must either finish or fail cleanly (exit 1), and a
// final up must complete.
//
// The first run checks its lock session before each COMMIT (and each
// no-transaction statement): it notices the loss, rolls back the step in
// flight and exits 1, naming the lost lock; the second run, which took the
// free lock, finishes the job with exit 0. Without that check the first
// run went on unprotected and only the tracking table's primary key kept
// migration 2 from running twice.
func TestStressLockSessionLost(t *testing.T) {
	t.Parallel()
	_, seed := newRand(t)
	ms := []mig{{V: 1}, {V: 2, Hold: true}, {V: 3}, {V: 4}}
	tg := newTarget(t, ms)
	c := connect(t, tg.url)
	ctx := context.Background()
	if _, err := c.Exec(ctx, "INSERT INTO stress_hold VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	a := tg.start("up")
	work, err := waitForQuery(c, "%"+ms[1].marker()+"%", 30*time.Second)
	if err != nil {
		t.Fatalf("migration 2 never ran: %v\n%s", err, a.wait(t, time.Minute))
	}
	holder, err := queryInt(c, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND mode = 'ExclusiveLock'
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
	if err != nil || holder == work {
		t.Fatalf("lock holder %d (work session %d): %v", holder, work, err)
	}
	if _, err := c.Exec(ctx, "SELECT pg_terminate_backend($1)", holder); err != nil {
		t.Fatal(err)
	}
	// The lock itself goes with its session; the first run's work session
	// keeps its shared fence until the run stops, so the second run, once
	// it has the lock, waits for that before it reads the history.
	if err := pollZero(c, lockCountSQL+" AND mode = 'ExclusiveLock'", 10*time.Second); err != nil {
		t.Errorf("advisory lock still held after its session ended: %v", err)
	}
	b := tg.start("up")
	waitBlocked(c, b, work)
	if _, err := c.Exec(ctx, "DELETE FROM stress_hold"); err != nil {
		t.Fatal(err)
	}
	ra, rb := a.wait(t, time.Minute), b.wait(t, time.Minute)
	var problems []string
	for _, r := range []result{ra, rb} {
		if r.code != 0 && r.code != 1 {
			problems = append(problems, fmt.Sprintf("want exit 0 or 1, got\n%s", r))
		}
		t.Logf("exit %d: %s", r.code, firstLine(r.stderr))
	}
	if ra.code != 1 || !strings.Contains(ra.stderr, "migration lock was lost") {
		problems = append(problems, fmt.Sprintf("the run that lost its lock must stop with exit 1 naming the lost lock:\n%s", ra))
	}
	if rb.code != 0 {
		problems = append(problems, fmt.Sprintf("the run that took the free lock must finish the job:\n%s", rb))
	}
	waitBackendsGone(t, c)
	st, ps := check(c, ms)
	problems = append(problems, ps...)
	problems = append(problems, tg.recover(c, st.dirty)...)
	failures := 0
	if len(problems) > 0 {
		failures = 1
		t.Errorf("%s", strings.Join(problems, "\n"))
	}
	summary(t, "lock-session-lost", 1, failures, seed, fmt.Sprintf("first run exit %d, second exit %d", ra.code, rb.code))
}
