//go:build unix

package stress

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/cluster"
	"github.com/pgmig/pgmig/internal/pgtest"
)

// startServer starts the server this test restarts: major
// PGMIG_STRESS_PG_MAJOR (default 16) on port PGMIG_STRESS_PG_PORT (default
// 25100+major: below Linux's ephemeral range, where a client connection of
// some other test could hold the port as its source address). cluster.Start
// serialises test processes that would share it and deletes it at the end.
func startServer(t testing.TB) *cluster.Server {
	t.Helper()
	major := envCount(t, "PGMIG_STRESS_PG_MAJOR", 16)
	return cluster.Start(t, major, envCount(t, "PGMIG_STRESS_PG_PORT", 25100+major))
}

// database creates a fresh database with the stress fixture on srv and
// returns its URL.
func database(t testing.TB, srv *cluster.Server, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	id := pgx.Identifier{name}.Sanitize()
	// pg-start runs its servers with synchronous_commit off, which lets
	// "stop -m immediate" lose the last commits it acknowledged: a crash
	// trial then saw a no-transaction migration printed applied come back
	// with only its failed start row, and pgmig rightly refuse it. The
	// trials are about pgmig, so their database commits durably, as a
	// production server does (a database setting outranks the server's
	// command line; with fsync off it costs a write, not a flush).
	for _, q := range []string{"DROP DATABASE IF EXISTS " + id + " WITH (FORCE)", "CREATE DATABASE " + id, "ALTER DATABASE " + id + " SET synchronous_commit = on"} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	url := pgtest.WithDatabase(srv.URL, name)
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, q := range setupSQL {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("setup %q: %v", q, err)
		}
	}
	return url
}

// historyCount counts success rows, 0 while the table does not exist.
func historyCount(c *pgx.Conn) (int, error) {
	var reg *string
	if err := c.QueryRow(context.Background(), "SELECT to_regclass('public.pgmig_migrations')::text").Scan(&reg); err != nil || reg == nil {
		return 0, err
	}
	return queryInt(c, "SELECT count(*) FROM public.pgmig_migrations WHERE success")
}

// TestStressServerRestart restarts the server under a running `pgmig up`:
// with -m fast (sessions terminated), with -m immediate (a crash and
// recovery), and with the server down when pgmig starts (pgmig must retry
// the connection and finish). pgmig exits 0 or fails cleanly with exit 1;
// the invariant holds; the next `up` finishes.
func TestStressServerRestart(t *testing.T) {
	t.Parallel()
	restartTrials(t, startServer(t), "server-restart", 3*scale(t))
}

// restartTrials runs trials of TestStressServerRestart's three modes, in
// turn, on srv and logs the summary line under name.
func restartTrials(t *testing.T, srv *cluster.Server, name string, trials int) {
	rng, seed := newRand(t)
	t.Logf("PostgreSQL %d at %s (data %s)", srv.Major, srv.URL, srv.Data)
	ms := make([]mig, 12)
	for i := range ms {
		ms[i] = mig{V: i + 1, NoTx: (i+1)%4 == 0, Sleep: 100 * time.Millisecond}
	}
	tg := &target{t: t, url: database(t, srv, "pgmig_stress"), src: writeSet(t, ms), ms: ms}
	modes := []string{"restart -m fast", "stop -m immediate, start", "down when pgmig starts"}
	failures := 0
	start := time.Now()
	for i := 0; i < trials; i++ {
		mode := modes[i%len(modes)]
		var problems []string
		if i > 0 {
			tg.mustRun(0, "rollback", "--all")
		}
		var p *proc
		dirtyStop := false // the run stopped (exit 3) at the failed row of a no-transaction migration
		switch i % len(modes) {
		case 0, 1:
			c := connect(t, tg.url)
			p = tg.start("up", "--connect-timeout", "60s")
			k := 1 + rng.IntN(6)
			err := poll(30*time.Second, func() (bool, error) {
				n, err := historyCount(c)
				return n >= k, err
			})
			if err != nil {
				t.Fatalf("trial %d: %d migrations never got applied: %v\n%s", i, k, err, p.wait(t, time.Minute))
			}
			c.Close(context.Background())
			if i%len(modes) == 0 {
				srv.Restart()
			} else {
				srv.Crash()
				srv.Resume()
			}
			r := p.wait(t, 90*time.Second)
			// A restart in the middle of a no-transaction migration leaves
			// its failed row: the run takes up again after the restart,
			// finds that row and stops as any run would (exit 3, asking for
			// repair), which the check below holds to the history.
			dirtyStop = r.code == 3 && strings.Contains(r.stderr, "failed part-way")
			if r.code != 0 && !dirtyStop && (r.code != 1 || !strings.Contains(r.stderr, "error:") || strings.Contains(r.stderr, "panic:")) {
				problems = append(problems, fmt.Sprintf("want exit 0, exit 1 with an error message, or exit 3 for a no-transaction migration cut off, got\n%s", r))
			}
			t.Logf("trial %d (%s after %d applied): exit %d: %s", i, mode, k, r.code, firstLine(r.stderr))
		case 2:
			srv.Stop()
			p = tg.start("up", "--connect-timeout", "60s")
			// pgmig is running before the server starts: it must retry
			// until the server accepts connections.
			down := time.Now()
			srv.Resume()
			up := time.Since(down)
			r := p.wait(t, 90*time.Second)
			if r.code != 0 {
				problems = append(problems, fmt.Sprintf("pgmig must wait for the server to come up and finish; got\n%s", r))
			}
			t.Logf("trial %d (%s): the server took %s to start; pgmig exit %d after %s", i, mode, up.Round(time.Millisecond), r.code, r.dur.Round(time.Millisecond))
		}
		c := connect(t, tg.url)
		waitLockFree(t, c)
		waitBackendsGone(t, c)
		st, ps := check(c, ms)
		problems = append(problems, ps...)
		if dirtyStop && (len(st.dirty) != 1 || !ms[st.dirty[0]-1].NoTx) {
			problems = append(problems, fmt.Sprintf("exit 3 for a no-transaction migration cut off part-way, but the failed rows are %v", st.dirty))
		}
		problems = append(problems, tg.recover(c, st.dirty)...)
		c.Close(context.Background())
		if len(problems) > 0 {
			failures++
			t.Errorf("trial %d (%s; applied %v, failed rows %v):\n%s", i, mode, st.applied, st.dirty, strings.Join(problems, "\n"))
		}
	}
	summary(t, name, trials, failures, seed, time.Since(start).Round(time.Millisecond).String())
}
