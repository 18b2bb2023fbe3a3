package stress

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The steps the kill and race trials share, in session and in table lock
// mode alike: what differs between the suites is what they check after.

// uninterrupted applies ms, rolls it all back and applies it again without
// interruption, failing the test unless the history then matches the
// schema. The durations it returns are the windows the kill trials aim in.
func (tg *target) uninterrupted(c *pgx.Conn, how string) (up, rollback time.Duration) {
	tg.t.Helper()
	full := tg.mustRun(0, "up")
	if st, ps := check(c, tg.ms); len(ps) > 0 || len(st.applied) != len(tg.ms) {
		tg.t.Fatalf("the uninterrupted run: applied %v, problems:\n%s", st.applied, strings.Join(ps, "\n"))
	}
	up, rollback = full.dur, tg.mustRun(0, "rollback", "--all").dur
	tg.mustRun(0, "up")
	tg.t.Logf("uninterrupted%s: up %s, rollback --all %s", how, up.Round(time.Millisecond), rollback.Round(time.Millisecond))
	return up, rollback
}

// killed is one run a kill trial started and sent SIGKILL.
type killed struct {
	what     string        // the run, as the trial's failure names it
	delay    time.Duration // from its start to the kill
	r        result
	problems []string
}

// killRandomRun rolls back to a random version and starts `up`, or (one
// time in three) starts `rollback --steps` of a random count, and sends it
// SIGKILL after a random part of how long the run takes uninterrupted (up,
// rollback: the durations of the whole set). The process's start-up is part
// of the window: a kill may land before it connects. Problems: the
// uninterrupted rollback left the history off the schema, or the run ended
// before the kill with other than exit 0.
func (tg *target) killRandomRun(rng *rand.Rand, c *pgx.Conn, up, rollback time.Duration) killed {
	tg.t.Helper()
	n := len(tg.ms)
	var k killed
	var window time.Duration
	var p *proc
	if rng.IntN(3) < 2 {
		to := rng.IntN(n)
		if to == 0 {
			tg.mustRun(0, "rollback", "--all")
		} else {
			tg.mustRun(0, "rollback", "--to", fmt.Sprint(to))
		}
		if _, ps := check(c, tg.ms); len(ps) > 0 {
			k.problems = append(k.problems, "after the uninterrupted rollback: "+strings.Join(ps, "; "))
		}
		window = up * time.Duration(n-to) / time.Duration(n)
		k.what = fmt.Sprintf("up from %d", to)
		p = tg.start("up")
	} else {
		steps := 1 + rng.IntN(n)
		window = rollback * time.Duration(steps) / time.Duration(n)
		k.what = fmt.Sprintf("rollback --steps %d", steps)
		p = tg.start("rollback", "--steps", fmt.Sprint(steps))
	}
	k.delay = time.Duration(rng.Int64N(int64(window + 20*time.Millisecond)))
	time.Sleep(k.delay)
	p.cmd.Process.Signal(syscall.SIGKILL)
	k.r = p.wait(tg.t, time.Minute)
	if k.r.signal == "" && k.r.code != 0 {
		k.problems = append(k.problems, fmt.Sprintf("the run ended before the kill, but not with exit 0:\n%s", k.r))
	}
	return k
}

// killTrials runs up to n kill trials on tg, stopping early once budget
// is spent: after the uninterrupted runs that measure the windows, each
// trial kills a random run (killRandomRun) and hands it to after, the
// suite's checks, which return the trial's problems and its state as a
// failure names it. killTrials reports the failed trials and returns how
// many it ran, how many failed, and how many kills landed mid-run.
func (tg *target) killTrials(rng *rand.Rand, c *pgx.Conn, n int, budget time.Duration, how string, after func(killed) (problems []string, state string)) (trials, failures, killedMid int) {
	t := tg.t
	t.Helper()
	upDur, rbDur := tg.uninterrupted(c, how)
	start := time.Now()
	for i := 1; i <= n; i++ {
		if time.Since(start) > budget {
			t.Logf("stopping after %d trials: the time budget of %s is spent", trials, budget)
			break
		}
		trials++
		k := tg.killRandomRun(rng, c, upDur, rbDur)
		if k.r.signal != "" {
			killedMid++
		}
		problems, state := after(k)
		if problems = append(k.problems, problems...); len(problems) > 0 {
			failures++
			t.Errorf("trial %d (%s, killed after %s; %s):\n%s", i, k.what, k.delay.Round(time.Millisecond), state, strings.Join(problems, "\n"))
		}
	}
	return trials, failures, killedMid
}

// raceRuns starts ups `up` and rollbacks `rollback --steps 2` runs, each
// with --lock-timeout 2m and flags, in random order, each after a random
// delay of up to jitter so that some runs overlap and some queue. It
// returns them once all have started.
func (tg *target) raceRuns(rng *rand.Rand, ups, rollbacks int, jitter time.Duration, flags ...string) []*proc {
	opts := append(slices.Clip(flags), "--lock-timeout", "2m")
	var args [][]string
	for range ups {
		args = append(args, append([]string{"up"}, opts...))
	}
	for range rollbacks {
		args = append(args, append([]string{"rollback", "--steps", "2"}, opts...))
	}
	rng.Shuffle(len(args), func(i, j int) { args[i], args[j] = args[j], args[i] })
	var mu sync.Mutex
	var ps []*proc
	var wg sync.WaitGroup
	for _, a := range args {
		wg.Add(1)
		time.AfterFunc(time.Duration(rng.Int64N(int64(jitter))), func() {
			defer wg.Done()
			p := tg.start(a...)
			mu.Lock()
			ps = append(ps, p)
			mu.Unlock()
		})
	}
	wg.Wait()
	return ps
}

// notPrefix is the problem of applied versions that are not 1 to n in
// order, none when they are.
func notPrefix(applied []int) []string {
	for i, v := range applied {
		if v != i+1 {
			return []string{fmt.Sprintf("applied versions %v are not a prefix of the set", applied)}
		}
	}
	return nil
}

// rounds runs round 1 to n of a race test, each on the target and
// connection fresh returns, and counts the rounds whose body returns
// problems, reporting each.
func rounds(t *testing.T, n int, fresh func() (*target, *pgx.Conn), body func(round int, tg *target, c *pgx.Conn) []string) (failures int) {
	t.Helper()
	for round := 1; round <= n; round++ {
		tg, c := fresh()
		if problems := body(round, tg, c); len(problems) > 0 {
			failures++
			t.Errorf("round %d:\n%s", round, strings.Join(problems, "\n"))
		}
	}
	return failures
}

// freshTarget is rounds' fresh for a new database of ms on the local server.
func freshTarget(t testing.TB, ms []mig) func() (*target, *pgx.Conn) {
	return func() (*target, *pgx.Conn) {
		tg := newTarget(t, ms)
		return tg, connect(t, tg.url)
	}
}
