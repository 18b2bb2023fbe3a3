package stress

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/bouncer"
	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/lock"
	"github.com/pgmig/pgmig/runner"
)

// The table-mode trials run pgmig with --lock-mode table through a
// PgBouncer of their own in transaction mode, the set-up the lease exists
// for; the test's own connections (the invariant check) go to the server
// directly.

// leaseTable is the lease table next to the default tracking table.
var leaseTable = lock.LeaseTableName(runner.DefaultTable)

// newLeaseTarget makes a fresh database with the stress fixture, reached by
// pgmig through b with a table-mode lease of ttl (zero: pgmig's default).
// It returns the target and the database's direct URL.
func newLeaseTarget(t testing.TB, b *bouncer.Bouncer, ms []mig, ttl time.Duration) (*target, string) {
	t.Helper()
	direct := pgtest.NewDB(t, setupSQL...)
	tg := &target{t: t, url: b.URL(direct), src: writeSet(t, ms), ms: ms, flags: []string{"--lock-mode", "table"}}
	if ttl > 0 {
		tg.flags = append(tg.flags, "--lock-ttl", ttl.String())
	}
	return tg, direct
}

// leaseOwner returns the owner of the lease row, "" when there is none
// (or no lease table yet).
func leaseOwner(c *pgx.Conn) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var reg *string
	if err := c.QueryRow(ctx, "SELECT to_regclass($1)::text", leaseTable).Scan(&reg); err != nil || reg == nil {
		return "", err
	}
	var owners []string
	rows, err := c.Query(ctx, "SELECT owner FROM "+leaseTable)
	if err != nil {
		return "", err
	}
	owners, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(owners) == 0 {
		return "", err
	}
	return strings.Join(owners, ","), nil
}

// waitPoolSettled waits until no session on the database but the test's
// own is inside a query or a transaction, and has stayed so, with the
// history unchanged, for a quiet period. Behind PgBouncer a dead client's
// server connection stays in the pool, idle, so pgmig's sessions never all
// go away; what matters is that none is still working: a killed client's
// backend finishes its statement (a CREATE INDEX CONCURRENTLY may commit
// the index) before it reads the closed socket. And a statement the client
// sent just before it died may still be on its way through PgBouncer while
// every backend is idle: once, in CI, the success row of a no-transaction
// migration whose index was built landed after a single idle sample, and
// the test took the failed row it had just read for the end state.
func waitPoolSettled(t testing.TB, c *pgx.Conn) {
	t.Helper()
	const quiet = 300 * time.Millisecond
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := pollZero(c, `SELECT count(*) FROM pg_stat_activity
  WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'`, time.Until(deadline))
		if err != nil {
			t.Fatalf("sessions still working after the process died: %v", err)
		}
		before, err := historyText(c)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(quiet)
		active, err := queryInt(c, `SELECT count(*) FROM pg_stat_activity
  WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'`)
		if err != nil {
			t.Fatal(err)
		}
		after, err := historyText(c)
		if err != nil {
			t.Fatal(err)
		}
		if active == 0 && after == before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the history still changing 2 minutes after the process died")
		}
	}
}

// historyText is the tracking table's rows, to tell whether it changed.
func historyText(c *pgx.Conn) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var s string
	err := c.QueryRow(ctx, "SELECT coalesce(string_agg(h::text, ';' ORDER BY h::text), '') FROM "+runner.DefaultTable+" h").Scan(&s)
	return s, err
}

// TestStressLeaseUpRollback races `pgmig up` against `pgmig rollback
// --steps 2` in table mode through PgBouncer (pool of 5 server connections
// for 8 clients), in random order and timing, on a set whose every fourth
// migration is no-transaction (guarded by the lease alone). Every process
// exits 0, the applied migrations are a prefix of the set matching the
// schema, nothing ran twice, the lease row is gone, and a final `up`
// applies the rest. PGMIG_STRESS_LEASE_RACE_ROUNDS sets the rounds
// (default 3).
func TestStressLeaseUpRollback(t *testing.T) {
	t.Parallel()
	const ups, rollbacks, migrations = 4, 4, 16
	n := envCount(t, "PGMIG_STRESS_LEASE_RACE_ROUNDS", 3) * scale(t)
	rng, seed := newRand(t)
	b := bouncer.Start(t, bouncer.Options{PoolSize: 5})
	ms := crashSet(rng, migrations)
	start := time.Now()
	fresh := func() (*target, *pgx.Conn) {
		tg, direct := newLeaseTarget(t, b, ms, 0)
		return tg, connect(t, direct)
	}
	failures := rounds(t, n, fresh, func(round int, tg *target, c *pgx.Conn) []string {
		// Start half-way, so that the first rollbacks have work.
		tg.mustRun(0, "up", "--steps", fmt.Sprint(migrations/2))
		var problems []string
		applied, rolledBack := 0, 0
		for _, p := range tg.raceRuns(rng, ups, rollbacks, 400*time.Millisecond, "--format", "json") {
			r := p.wait(t, 2*time.Minute)
			if r.code != 0 {
				problems = append(problems, fmt.Sprintf("want exit 0, got\n%s", r))
				continue
			}
			rep, err := parseReport(r)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%v in\n%s", err, r))
				continue
			}
			applied += len(rep.Applied)
			rolledBack += len(rep.RolledBack)
		}
		waitPoolSettled(t, c)
		st, ps := check(c, ms)
		problems = append(problems, ps...)
		problems = append(problems, notPrefix(st.applied)...)
		// What the processes say they did adds up to what the history holds.
		if got, want := migrations/2+applied-rolledBack, len(st.applied); got != want && len(problems) == 0 {
			problems = append(problems, fmt.Sprintf("reports: %d applied and %d rolled back from %d, so %d, but history holds %d", applied, rolledBack, migrations/2, got, want))
		}
		if owner, err := leaseOwner(c); err != nil || owner != "" {
			problems = append(problems, fmt.Sprintf("lease row %q (%v) left after every run exited", owner, err))
		}
		t.Logf("round %d: %d applied and %d rolled back in the race, %d applied after it", round, applied, rolledBack, len(st.applied))
		return append(problems, tg.recover(c, st.dirty)...)
	})
	if t.Failed() {
		t.Logf("pgbouncer log:\n%s", b.Log())
	}
	summary(t, "lease-up-vs-rollback", n, failures, seed,
		fmt.Sprintf("%d ups + %d rollbacks a round through PgBouncer, %s", ups, rollbacks, time.Since(start).Round(time.Millisecond)))
}

// TestStressLeaseSigkill kills `pgmig up` and `pgmig rollback` in table
// mode through PgBouncer with SIGKILL at random moments, with a 2s lease.
// After each kill, once no session is working: the history matches the
// schema; if the killed run left its lease row, the next run waits for it
// to lapse and takes it over (saying whose it was); `up` refuses a failed
// row with exit 3 until the test fixes the schema and runs `repair`; `up`
// then finishes and leaves no lease row. PGMIG_STRESS_LEASE_KILLS sets the
// kills (default 12), within a budget of 50s (times PGMIG_STRESS_SCALE).
func TestStressLeaseSigkill(t *testing.T) {
	t.Parallel()
	rng, seed := newRand(t)
	const ttl = 2 * time.Second
	iterations := envCount(t, "PGMIG_STRESS_LEASE_KILLS", 12) * scale(t)
	budget := time.Duration(scale(t)) * 50 * time.Second
	b := bouncer.Start(t, bouncer.Options{PoolSize: 5})
	ms := crashSet(rng, 12)
	tg, direct := newLeaseTarget(t, b, ms, ttl)
	c := connect(t, direct)
	start := time.Now()
	leftLease, dirtyTrials := 0, 0
	trials, failures, killedMid := tg.killTrials(rng, c, iterations, budget, " through PgBouncer", func(killed) ([]string, string) {
		waitPoolSettled(t, c)
		owner, err := leaseOwner(c)
		if err != nil {
			t.Fatal(err)
		}
		st, problems := check(c, ms)
		if len(st.dirty) > 0 {
			dirtyTrials++
		}
		if owner != "" {
			leftLease++
			// The next run must wait for the dead run's lease, then take it
			// over; with a failed row it then refuses (exit 3).
			want := 0
			if len(st.dirty) > 0 {
				want = 3
			}
			nr := tg.run("up", "--lock-timeout", "30s")
			if nr.code != want {
				problems = append(problems, fmt.Sprintf("up after the kill left lease %s: want exit %d, got\n%s", owner, want, nr))
			} else if !strings.Contains(nr.stderr, "waiting for the migration lock held by") || !strings.Contains(nr.stderr, owner) {
				problems = append(problems, fmt.Sprintf("up after the kill did not say it waited for the dead run's lease %s:\n%s", owner, nr.stderr))
			}
			if nr.code == 0 {
				// It finished the job; check it before recover's `up`.
				st2, ps2 := check(c, ms)
				problems = append(problems, ps2...)
				if len(st2.applied) != len(ms) {
					problems = append(problems, fmt.Sprintf("after the takeover: applied %v, want all %d", st2.applied, len(ms)))
				}
			}
		}
		problems = append(problems, tg.recover(c, st.dirty)...)
		if o, err := leaseOwner(c); err != nil || o != "" {
			problems = append(problems, fmt.Sprintf("lease row %q (%v) left after the recovering runs exited", o, err))
		}
		return problems, fmt.Sprintf("applied %v, failed rows %v, lease left %q", st.applied, st.dirty, owner)
	})
	if t.Failed() {
		t.Logf("pgbouncer log:\n%s", b.Log())
	}
	summary(t, "lease-sigkill", trials, failures, seed,
		fmt.Sprintf("through PgBouncer, %d killed mid-run, %d left their lease (taken over by the next run), %d left a failed no-transaction row, %s",
			killedMid, leftLease, dirtyTrials, time.Since(start).Round(time.Millisecond)))
}
