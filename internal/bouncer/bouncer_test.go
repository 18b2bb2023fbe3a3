package bouncer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/bouncer"
	"github.com/pgmig/pgmig/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.RunTests(m)) }

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// pgmig returns the command that runs the binary with args against url.
// Callers get pgtest.Binary before they start ctx's clock: its first call
// builds the binary, which takes a minute on a loaded machine.
func pgmig(ctx context.Context, t testing.TB, url string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, pgtest.Binary(t), append([]string{"--database-url", url, "--no-color"}, args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	return cmd
}

func run(t *testing.T, url string, args ...string) result {
	t.Helper()
	pgtest.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := pgmig(ctx, t, url, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run pgmig: %v", err)
	}
	return r
}

func writeMigrations(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func direct(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// counts returns how often each value was inserted into counter.
func counts(t *testing.T, c *pgx.Conn) map[int]int {
	t.Helper()
	return pgtest.QueryMap[int, int](t, context.Background(), c, "SELECT v, count(*) FROM counter GROUP BY v")
}

const counterDDL = "CREATE TABLE counter (v int NOT NULL)"

// Ten runs of `pgmig up --lock-mode table` at once, through PgBouncer in
// transaction mode with fewer server connections than clients: every
// migration is applied exactly once, and every run exits 0.
func TestTableModeConcurrentUp(t *testing.T) {
	t.Parallel()
	b := bouncer.Start(t, bouncer.Options{PoolSize: 5})
	dbURL := pgtest.NewDB(t, counterDDL)
	files := map[string]string{}
	const n = 20
	for v := 1; v <= n; v++ {
		body := fmt.Sprintf("INSERT INTO counter VALUES (%d);\nSELECT pg_sleep(0.02);\n", v)
		if v == 10 {
			// A no-transaction section: only the lease guards it.
			body = "-- pgmig:no-transaction\nCREATE INDEX CONCURRENTLY counter_v ON counter (v);\nINSERT INTO counter VALUES (10);\n"
		}
		files[fmt.Sprintf("%03d_m%d.sql", v, v)] = body
	}
	src := writeMigrations(t, files)

	const runs = 10
	results := make([]result, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = run(t, b.URL(dbURL), "--source", src, "--lock-mode", "table", "--lock-timeout", "2m", "--format", "json", "up")
		}()
	}
	wg.Wait()

	applied := 0
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("run %d: exit %d\nstdout: %s\nstderr: %s", i, r.code, r.stdout, r.stderr)
			continue
		}
		var doc struct {
			Applied []struct{ Version int64 } `json:"applied"`
			Current *int64                    `json:"current"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Errorf("run %d: stdout is not JSON: %v\n%s", i, err, r.stdout)
			continue
		}
		applied += len(doc.Applied)
		if doc.Current == nil || *doc.Current != n {
			t.Errorf("run %d: current = %v, want %d", i, doc.Current, n)
		}
	}
	if applied != n {
		t.Errorf("the runs reported %d migrations applied in all, want %d", applied, n)
	}
	c := direct(t, dbURL)
	got := counts(t, c)
	for v := 1; v <= n; v++ {
		if got[v] != 1 {
			t.Errorf("migration %d ran %d times, want once", v, got[v])
		}
	}
	var rows int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM public.pgmig_migrations WHERE success").Scan(&rows); err != nil || rows != n {
		t.Errorf("tracking table holds %d successful rows (%v), want %d", rows, err, n)
	}
	var leases int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM public.pgmig_migrations_lock").Scan(&leases); err != nil || leases != 0 {
		t.Errorf("%d lease rows left after every run released (%v)", leases, err)
	}
	if t.Failed() {
		t.Logf("pgbouncer log:\n%s", b.Log())
	}
}

// insideRun is a run of killFiles that startInside left holding its lease
// inside migration 2.
type insideRun struct {
	cmd *exec.Cmd
	out *bytes.Buffer // its stdout and stderr
	db  string        // the database's own URL, not through PgBouncer
	c   *pgx.Conn     // the test's connection to it, not through PgBouncer
	src string        // the directory killFiles are written to
}

// startInside makes a database with the counter table, starts `pgmig up`
// of killFiles on it through b, in table mode with a 1s lease, and waits
// until it holds the lease inside migration 2, which sleeps.
func startInside(t *testing.T, b *bouncer.Bouncer) insideRun {
	t.Helper()
	db := pgtest.NewDB(t, counterDDL)
	src := writeMigrations(t, killFiles)
	url := b.URL(db)
	pgtest.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	cmd := pgmig(ctx, t, url, "--source", src, "--lock-mode", "table", "--lock-ttl", "1s", "up")
	errb := &bytes.Buffer{}
	cmd.Stderr = errb
	cmd.Stdout = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := direct(t, url)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var inside bool
		err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM counter WHERE v = 1)
  AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3)%' AND state = 'active' AND pid <> pg_backend_pid())`).Scan(&inside)
		if err == nil && inside {
			return insideRun{cmd: cmd, out: errb, db: db, c: direct(t, db), src: src}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the first run never reached migration 2: %v\n%s", err, errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var killFiles = map[string]string{
	"001_one.sql":   "INSERT INTO counter VALUES (1);\n",
	"002_two.sql":   "SELECT pg_sleep(3);\nINSERT INTO counter VALUES (2);\n",
	"003_three.sql": "INSERT INTO counter VALUES (3);\n",
}

// A run killed with SIGKILL while it holds the lease leaves its lease row
// behind; the next run waits until it expires, takes it over and
// completes. The killed run's migration is rolled back: pgmig sends COMMIT
// on its own, so the transaction is still open when PgBouncer closes the
// dead client's server connection.
func TestTableModeKilledRunLeaseRecovered(t *testing.T) {
	t.Parallel()
	b := bouncer.Start(t, bouncer.Options{})
	in := startInside(t, b)
	dbURL, c, src, cmd := in.db, in.c, in.src, in.cmd
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	var owner string
	if err := c.QueryRow(context.Background(), "SELECT owner FROM public.pgmig_migrations_lock").Scan(&owner); err != nil {
		t.Fatalf("the killed run left no lease row: %v", err)
	}
	r := run(t, b.URL(dbURL), "--source", src, "--lock-mode", "table", "--lock-ttl", "1s", "--lock-timeout", "30s", "up")
	if r.code != 0 {
		t.Fatalf("run after the kill: exit %d\nstdout: %s\nstderr: %s\npgbouncer log:\n%s", r.code, r.stdout, r.stderr, b.Log())
	}
	if !strings.Contains(r.stderr, "waiting for the migration lock held by") || !strings.Contains(r.stderr, owner) {
		t.Errorf("the next run did not say it waited for the killed run's lease %s:\n%s", owner, r.stderr)
	}
	got := counts(t, c)
	for v := 1; v <= 3; v++ {
		if got[v] != 1 {
			t.Errorf("migration %d ran %d times, want once; stdout:\n%s", v, got[v], r.stdout)
		}
	}
}

// A run whose lease is taken from it (here: overwritten by hand, as when a
// stalled run's lease expired and another took it) notices at its next
// renewal, stops, and rolls back the migration in flight.
func TestTableModeLostLeaseStopsRun(t *testing.T) {
	t.Parallel()
	b := bouncer.Start(t, bouncer.Options{})
	in := startInside(t, b)
	dbURL, c, src, cmd, errb := in.db, in.c, in.src, in.cmd, in.out
	if _, err := c.Exec(context.Background(), "UPDATE public.pgmig_migrations_lock SET owner = 'thief'"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !strings.Contains(errb.String(), "lock lease lost") {
		t.Fatalf("run that lost its lease: %v, want exit 1 saying the lease was lost\n%s", err, errb.String())
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the run stopped %s after losing its lease; renewal runs every TTL/3", took)
	}
	if got := counts(t, c); got[2] != 0 || got[1] != 1 {
		t.Fatalf("counter after the lost lease: %v, want 1 applied and 2 rolled back", got)
	}
	if _, err := c.Exec(context.Background(), "DELETE FROM public.pgmig_migrations_lock"); err != nil {
		t.Fatal(err)
	}
	if r := run(t, b.URL(dbURL), "--source", src, "--lock-mode", "table", "up"); r.code != 0 {
		t.Fatalf("next run: exit %d\n%s\npgbouncer log:\n%s", r.code, r.stderr, b.Log())
	}
	if got := counts(t, c); got[1] != 1 || got[2] != 1 || got[3] != 1 {
		t.Fatalf("counter: %v, want each of 1, 2, 3 once", got)
	}
}

// The default session lock through PgBouncer in transaction mode is
// refused before anything is locked or changed, with exit 2 and advice.
func TestSessionModeThroughBouncerRefused(t *testing.T) {
	t.Parallel()
	b := bouncer.Start(t, bouncer.Options{})
	dbURL := pgtest.NewDB(t, counterDDL)
	src := writeMigrations(t, map[string]string{"001_one.sql": "INSERT INTO counter VALUES (1);\n"})
	r := run(t, b.URL(dbURL), "--source", src, "up")
	if r.code != 2 || !strings.Contains(r.stderr, "--lock-mode table") {
		t.Fatalf("session mode through PgBouncer: exit %d, want 2 suggesting --lock-mode table\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	var reg *string
	if err := direct(t, dbURL).QueryRow(context.Background(), "SELECT to_regclass('public.pgmig_migrations')::text").Scan(&reg); err != nil || reg != nil {
		t.Fatalf("the refused run created the tracking table (%v)", err)
	}
	// JSON carries the same exit code.
	r = run(t, b.URL(dbURL), "--source", src, "--format", "json", "up")
	if r.code != 2 || !strings.Contains(r.stdout, `"code":2`) && !strings.Contains(r.stdout, `"code": 2`) {
		t.Errorf("JSON: exit %d, stdout %s", r.code, r.stdout)
	}
	// Session pooling keeps a server connection per client: allowed.
	sb := bouncer.Start(t, bouncer.Options{PoolMode: "session"})
	if r := run(t, sb.URL(dbURL), "--source", src, "up"); r.code != 0 {
		t.Fatalf("session pooling: exit %d\n%s", r.code, r.stderr)
	}
}
