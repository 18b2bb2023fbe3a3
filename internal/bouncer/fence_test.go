package bouncer_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgmig/pgmig/internal/bouncer"
	"github.com/pgmig/pgmig/internal/pgtest"
)

var notKept = regexp.MustCompile(`error: applying (\d+) [^\n]*\n(?s:.*)nothing of this migration was kept`)

// Issue 16's first hole, as bounded trials: through PgBouncer in
// transaction mode with a 2s lease, run A is stopped (SIGSTOP) inside
// migration 2 for 3.5s, past its lease; run B starts meanwhile; A is
// resumed. Whatever the interleaving, each migration is applied once,
// B never trips over A's work (before fencing it failed on a catalog key,
// A having committed after B took the lease), no failed row is left for
// the no-transaction migration 3, and what each run prints is what it
// did: a migration A says it applied is one B did not, one A says it kept
// nothing of is one B applied. PGMIG_FENCE_TRIALS sets the count (3).
func TestTableModeStalledHolderIsFenced(t *testing.T) {
	t.Parallel()
	trials := 3
	if s := os.Getenv("PGMIG_FENCE_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("PGMIG_FENCE_TRIALS=%q", s)
		}
		trials = n
	}
	b := bouncer.Start(t, bouncer.Options{})
	files := map[string]string{
		"001_one.sql":   "INSERT INTO counter VALUES (1);\n",
		"002_two.sql":   "INSERT INTO counter VALUES (2);\nSELECT pg_sleep(0.5) /* stall_here */;\n",
		"003_three.sql": "-- pgmig:no-transaction\nINSERT INTO counter VALUES (3);\n",
		"004_four.sql":  "INSERT INTO counter VALUES (4);\n",
	}
	src := writeMigrations(t, files)
	pgtest.Binary(t)
	failures := 0
	for i := range trials {
		dbURL := pgtest.NewDB(t, counterDDL)
		c := direct(t, dbURL)
		args := []string{"--source", src, "--lock-mode", "table", "--lock-ttl", "2s", "--lock-timeout", "60s", "up"}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		a := pgmig(ctx, t, b.URL(dbURL), args...)
		var aout, aerr bytes.Buffer
		a.Stdout, a.Stderr = &aout, &aerr
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			var in bool
			err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%stall_here%' AND state = 'active' AND pid <> pg_backend_pid())`).Scan(&in)
			if err == nil && in {
				break
			}
			if time.Now().After(deadline) {
				a.Process.Kill()
				a.Wait() // the buffers are the child's until it has gone
				t.Fatalf("run A never reached migration 2: %v\n%s\npgbouncer log:\n%s", err, aerr.String(), b.Log())
			}
			time.Sleep(5 * time.Millisecond)
		}
		a.Process.Signal(syscall.SIGSTOP)
		bcmd := pgmig(ctx, t, b.URL(dbURL), args...)
		var bout, berr bytes.Buffer
		bcmd.Stdout, bcmd.Stderr = &bout, &berr
		if err := bcmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3500 * time.Millisecond)
		a.Process.Signal(syscall.SIGCONT)
		aErr, bErr := a.Wait(), bcmd.Wait()
		cancel()

		var problems []string
		bad := func(format string, args ...any) { problems = append(problems, sprintf(format, args...)) }
		if bErr != nil {
			bad("run B: %v, want exit 0", bErr)
		}
		got := counts(t, c)
		for v := 1; v <= 4; v++ {
			if got[v] != 1 {
				bad("migration %d ran %d times, want once", v, got[v])
			}
		}
		var rows, failed int
		if err := c.QueryRow(context.Background(), "SELECT count(*) FILTER (WHERE success), count(*) FILTER (WHERE NOT success) FROM public.pgmig_migrations").Scan(&rows, &failed); err != nil {
			t.Fatal(err)
		}
		if rows != 4 || failed != 0 {
			bad("tracking table: %d successful and %d failed rows, want 4 and 0", rows, failed)
		}
		byA, byB := pgtest.Applied(aout.String()), pgtest.Applied(bout.String())
		for v := 1; v <= 4; v++ {
			if byA[v] == byB[v] {
				bad("migration %d: A says applied %v, B says applied %v; exactly one must", v, byA[v], byB[v])
			}
		}
		if m := notKept.FindStringSubmatch(aerr.String()); m != nil {
			if v, _ := strconv.Atoi(m[1]); byA[v] || !byB[v] {
				bad("A says nothing of %d was kept, but B did not apply it", v)
			}
		}
		t.Logf("trial %d: A %v applied %v; B %v applied %v", i+1, aErr, keys(byA), bErr, keys(byB))
		if len(problems) > 0 {
			failures++
			t.Errorf("trial %d:\n%s\nA stdout:\n%s\nA stderr:\n%s\nB stdout:\n%s\nB stderr:\n%s\npgbouncer log:\n%s", i+1, join(problems), aout.String(), aerr.String(), bout.String(), berr.String(), b.Log())
		}
	}
	pgtest.Report(t, fmt.Sprintf("fence: stalled lease holder through PgBouncer: %d trials, %d failures", trials, failures))
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func join(lines []string) string { return strings.Join(lines, "\n") }

func keys(set map[int]bool) []int {
	var vs []int
	for v := range set {
		vs = append(vs, v)
	}
	sort.Ints(vs)
	return vs
}
