package stress

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/lock"
	"github.com/pgmig/pgmig/runner"
)

func TestMain(m *testing.M) { os.Exit(pgtest.RunTests(m)) }

// pgmigBin is the CLI binary under test: PGMIG_STRESS_BIN runs the suites
// against a binary built elsewhere, such as a release or an older commit.
func pgmigBin(t testing.TB) string {
	if bin := os.Getenv("PGMIG_STRESS_BIN"); bin != "" {
		return bin
	}
	return pgtest.Binary(t)
}

// scale multiplies rounds and iterations: PGMIG_STRESS_SCALE, default 1.
func scale(t testing.TB) int {
	s := os.Getenv("PGMIG_STRESS_SCALE")
	if s == "" {
		return 1
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("PGMIG_STRESS_SCALE=%q: want a positive integer", s)
	}
	return n
}

// newRand returns the test's random source, seeded from PGMIG_STRESS_SEED
// or the clock, and the seed, which the test logs so a failure can be
// replayed.
func newRand(t testing.TB) (*rand.Rand, uint64) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PGMIG_STRESS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("PGMIG_STRESS_SEED=%q: want an unsigned integer", s)
		}
		seed = n
	}
	t.Logf("seed %d (replay with PGMIG_STRESS_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed
}

// summary logs the line CI greps for, and fails the test when any trial
// broke the invariant.
func summary(t testing.TB, name string, trials, failures int, seed uint64, extra string) {
	t.Helper()
	line := fmt.Sprintf("stress: %s: %d trials, %d invariant failures (seed %d)", name, trials, failures, seed)
	if extra != "" {
		line += "; " + extra
	}
	pgtest.Report(t, line)
	if failures > 0 {
		t.Errorf("%d of %d trials broke the invariant", failures, trials)
	}
}

// setupSQL is the fixture every stress database starts from. The counter
// and the log, both without a unique constraint, show a migration that ran
// twice; the base tables are what no-transaction migrations index.
var setupSQL = []string{
	`CREATE TABLE stress_counter (n int NOT NULL)`,
	`INSERT INTO stress_counter VALUES (0)`,
	`CREATE TABLE stress_log (version int NOT NULL, pid int NOT NULL DEFAULT pg_backend_pid(), at timestamptz NOT NULL DEFAULT clock_timestamp())`,
	`CREATE TABLE stress_base (k int NOT NULL)`,
	`INSERT INTO stress_base SELECT g FROM generate_series(1, 2000) g`,
	// Versions whose victim statement should hang until the test lets go.
	`CREATE TABLE stress_hold (version int PRIMARY KEY)`,
	// An expression index on stress_slow(k) takes 10 ms a row to build:
	// declared IMMUTABLE so that an index may use it.
	`CREATE FUNCTION stress_slow(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN $1; END $$`,
	`CREATE TABLE stress_slowbase (k int NOT NULL)`,
	`INSERT INTO stress_slowbase SELECT g FROM generate_series(1, 100) g`,
}

// mig describes one generated migration. A transactional one creates table
// t_NNN, bumps the counter and logs its version; a no-transaction one
// builds index i_NNN concurrently between two sleeps.
type mig struct {
	V     int
	NoTx  bool
	Sleep time.Duration // pg_sleep inside the migration, to widen windows
	// Hold makes the migration hang in a statement marked stress_victim_NNN
	// while stress_hold holds its version.
	Hold bool
	// Slow makes a no-transaction migration index stress_slowbase through
	// stress_slow, a build of about a second.
	Slow bool
}

func (m mig) table() string { return fmt.Sprintf("t_%03d", m.V) }
func (m mig) index() string { return fmt.Sprintf("i_%03d", m.V) }
func (m mig) marker() string {
	return fmt.Sprintf("stress_victim_%03d", m.V)
}

func sleepSQL(d time.Duration) string {
	return fmt.Sprintf("SELECT pg_sleep(%.3f);\n", d.Seconds())
}

// holdSQL is the victim statement: it loops while stress_hold holds the
// migration's version (each loop sees the latest commit), for two minutes
// at most.
func (m mig) holdSQL() string {
	if !m.Hold {
		return ""
	}
	return fmt.Sprintf(`DO $%[1]s$ BEGIN
  WHILE EXISTS (SELECT 1 FROM stress_hold WHERE version = %[2]d) AND clock_timestamp() < statement_timestamp() + interval '2 minutes' LOOP
    PERFORM pg_sleep(0.01);
  END LOOP;
END $%[1]s$;
`, m.marker(), m.V)
}

func (m mig) file() string {
	var b strings.Builder
	if m.NoTx {
		b.WriteString("-- pgmig:no-transaction\n-- pgmig:up\n")
		b.WriteString(sleepSQL(m.Sleep))
		b.WriteString(m.holdSQL())
		if m.Slow {
			fmt.Fprintf(&b, "CREATE INDEX CONCURRENTLY %s ON stress_slowbase (stress_slow(k)) /* stress_cic */;\n", m.index())
		} else {
			fmt.Fprintf(&b, "CREATE INDEX CONCURRENTLY %s ON stress_base (k);\n", m.index())
		}
		b.WriteString(sleepSQL(m.Sleep))
		b.WriteString("-- pgmig:down\n")
		b.WriteString(sleepSQL(m.Sleep))
		fmt.Fprintf(&b, "DROP INDEX CONCURRENTLY %s;\n", m.index())
		b.WriteString(sleepSQL(m.Sleep))
		return b.String()
	}
	b.WriteString("-- pgmig:up\n")
	// No IF NOT EXISTS: a second run of the same migration fails.
	fmt.Fprintf(&b, "CREATE TABLE %s (id int PRIMARY KEY);\n", m.table())
	b.WriteString("UPDATE stress_counter SET n = n + 1;\n")
	b.WriteString(sleepSQL(m.Sleep))
	b.WriteString(m.holdSQL())
	fmt.Fprintf(&b, "INSERT INTO stress_log (version) VALUES (%d);\n", m.V)
	b.WriteString("-- pgmig:down\n")
	fmt.Fprintf(&b, "DELETE FROM stress_log WHERE version = %d;\n", m.V)
	b.WriteString(sleepSQL(m.Sleep))
	b.WriteString("UPDATE stress_counter SET n = n - 1;\n")
	fmt.Fprintf(&b, "DROP TABLE %s;\n", m.table())
	return b.String()
}

// writeSet writes ms as migration files into a new directory and returns it.
func writeSet(t testing.TB, ms []mig) string {
	t.Helper()
	dir := t.TempDir()
	for _, m := range ms {
		name := filepath.Join(dir, fmt.Sprintf("%03d_stress_%03d.sql", m.V, m.V))
		if err := os.WriteFile(name, []byte(m.file()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// target is a database and a migration set that pgmig processes run on.
type target struct {
	t   testing.TB
	url string
	src string
	ms  []mig
	// flags go to every run before its ARGS, such as --lock-mode table.
	flags []string
}

// result is how a pgmig process ended.
type result struct {
	args   []string
	code   int // -1 when killed by a signal
	signal string
	stdout string
	stderr string
	dur    time.Duration
}

func (r result) String() string {
	s := fmt.Sprintf("pgmig %s: exit %d", strings.Join(r.args, " "), r.code)
	if r.signal != "" {
		s += " (" + r.signal + ")"
	}
	return s + fmt.Sprintf(" after %s\nstdout:\n%s\nstderr:\n%s", r.dur.Round(time.Millisecond), r.stdout, r.stderr)
}

// proc is a running pgmig process.
type proc struct {
	cmd            *exec.Cmd
	args           []string
	stdout, stderr *pgtest.Buffer
	start          time.Time
	done           chan struct{}
	res            result
}

// cleanEnv is the environment pgmig runs with: the test's own, without the
// pgmig settings a developer may have exported.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PGMIG_") || strings.HasPrefix(kv, "DATABASE_URL=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// start starts `pgmig ARGS` on the target.
func (tg *target) start(args ...string) *proc {
	tg.t.Helper()
	full := append(append([]string{"--database-url", tg.url, "--source", tg.src, "--no-color"}, tg.flags...), args...)
	p := &proc{args: args, stdout: &pgtest.Buffer{}, stderr: &pgtest.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(pgmigBin(tg.t), full...)
	p.cmd.Env = cleanEnv()
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		tg.t.Fatalf("start pgmig: %v", err)
	}
	go func() {
		err := p.cmd.Wait()
		p.res = result{args: args, stdout: p.stdout.String(), stderr: p.stderr.String(), dur: time.Since(p.start)}
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			p.res.code = ee.ExitCode()
			if ee.ExitCode() < 0 {
				p.res.signal = ee.String()
			}
		default:
			p.res.code = -1
			p.res.signal = err.Error()
		}
		close(p.done)
	}()
	// Never leave a process behind a failed test.
	tg.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits up to limit for the process to end; past it the test fails
// (a hang is the deadlock these tests look for) and the process is killed.
func (p *proc) wait(t testing.TB, limit time.Duration) result {
	t.Helper()
	select {
	case <-p.done:
		return p.res
	case <-time.After(limit):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("pgmig %s did not finish within %s; killed it.\n%s", strings.Join(p.args, " "), limit, p.res)
		return p.res
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// run runs `pgmig ARGS` to the end, within a minute.
func (tg *target) run(args ...string) result {
	tg.t.Helper()
	return tg.start(args...).wait(tg.t, time.Minute)
}

// mustRun runs `pgmig ARGS` and fails the test unless it exits with code.
func (tg *target) mustRun(code int, args ...string) result {
	tg.t.Helper()
	r := tg.run(args...)
	if r.code != code {
		tg.t.Fatalf("want exit %d, got:\n%s", code, r)
	}
	return r
}

// connect opens a connection of the test's own to the target database.
func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	return pgtest.Connect(t, url)
}

// poll calls cond every 10 ms until it reports true, an error, or the
// deadline passes, and says which.
func poll(limit time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met within %s", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// queryInt runs a query returning one integer.
func queryInt(c *pgx.Conn, sql string, args ...any) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	err := c.QueryRow(ctx, sql, args...).Scan(&n)
	return n, err
}

// lockCountSQL counts the advisory locks held in the current database:
// pgmig's is the only one these tests' databases ever see.
const lockCountSQL = `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`

// backendCountSQL counts pgmig's sessions on the current database.
const backendCountSQL = `SELECT count(*) FROM pg_stat_activity
  WHERE datname = current_database() AND application_name = 'pgmig' AND pid <> pg_backend_pid()`

// waitForQuery waits until a pgmig session on the database is running a
// query matching the LIKE pattern, and returns its pid.
func waitForQuery(c *pgx.Conn, like string, limit time.Duration) (int, error) {
	var pid int
	err := poll(limit, func() (bool, error) {
		var err error
		pid, err = queryInt(c, `SELECT coalesce(max(pid), 0) FROM pg_stat_activity
  WHERE datname = current_database() AND application_name = 'pgmig' AND state = 'active'
    AND query LIKE $1 AND pid <> pg_backend_pid()`, like)
		return pid != 0, err
	})
	return pid, err
}

// pollZero polls until the count sql returns on c is 0, for up to limit.
func pollZero(c *pgx.Conn, sql string, limit time.Duration) error {
	return poll(limit, func() (bool, error) {
		n, err := queryInt(c, sql)
		return n == 0, err
	})
}

// waitLockFree fails the test unless the advisory lock is free within a
// few seconds of the process's death: the lock's session ends with the
// client's socket.
func waitLockFree(t testing.TB, c *pgx.Conn) {
	t.Helper()
	if err := pollZero(c, lockCountSQL, 10*time.Second); err != nil {
		t.Errorf("advisory lock still held after the process died: %v", err)
	}
}

// waitBackendsGone waits until no pgmig session is left on the database. A
// killed client's backend finishes the query it was running before it
// notices the client is gone, so the schema settles only then.
func waitBackendsGone(t testing.TB, c *pgx.Conn) {
	t.Helper()
	if err := pollZero(c, backendCountSQL, 2*time.Minute); err != nil {
		t.Fatalf("pgmig backends still running after the process died: %v", err)
	}
}

// state is what the invariant check found.
type state struct {
	applied []int // versions with a success row
	dirty   []int // no-transaction versions with a failed row
}

var tableName = regexp.MustCompile(`^t_(\d+)$`)

// check verifies the invariant of the contract's failure guarantees on the
// database behind c for the migration set ms, and returns what it found
// with every violation: the history must match the schema exactly (a
// transactional migration's table, counter bump and log row exist iff its
// success row does, never twice; a no-transaction migration's index exists
// and is valid iff its success row does, anything goes beside a failed
// row), and the advisory lock must be free.
func check(c *pgx.Conn, ms []mig) (state, []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var st state
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	byVersion := map[int]mig{}
	for _, m := range ms {
		byVersion[m.V] = m
	}

	hist := map[int]bool{} // version -> success
	var reg *string
	if err := c.QueryRow(ctx, "SELECT to_regclass($1)::text", runner.DefaultTable).Scan(&reg); err != nil {
		return st, []string{"look up history: " + err.Error()}
	}
	if reg != nil {
		rows, err := pairs[int, bool](ctx, c, "SELECT version, success FROM "+runner.DefaultTable)
		if err != nil {
			return st, []string{"read history: " + err.Error()}
		}
		for _, r := range rows {
			hist[r.a] = r.b
		}
	}

	tables := map[int]bool{}
	names, err := pairs[string, string](ctx, c, `SELECT relname::text, '' FROM pg_class
  WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace AND relname ~ '^t_[0-9]+$'`)
	if err != nil {
		return st, []string{"list tables: " + err.Error()}
	}
	for _, n := range names {
		v, _ := strconv.Atoi(tableName.FindStringSubmatch(n.a)[1])
		tables[v] = true
	}

	indexes := map[int]bool{} // version -> valid
	idx, err := pairs[string, bool](ctx, c, `SELECT c.relname::text, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
  WHERE c.relnamespace = 'public'::regnamespace AND c.relname ~ '^i_[0-9]+$'`)
	if err != nil {
		return st, []string{"list indexes: " + err.Error()}
	}
	for _, i := range idx {
		v, _ := strconv.Atoi(strings.TrimPrefix(i.a, "i_"))
		indexes[v] = i.b
	}

	logged := map[int]int{}
	counts, err := pairs[int, int](ctx, c, `SELECT version, count(*)::int FROM stress_log GROUP BY version`)
	if err != nil {
		return st, []string{"read log: " + err.Error()}
	}
	for _, r := range counts {
		logged[r.a] = r.b
	}
	counter, err := queryInt(c, "SELECT n FROM stress_counter")
	if err != nil {
		return st, []string{"read counter: " + err.Error()}
	}

	for v := range hist {
		if _, ok := byVersion[v]; !ok {
			bad("history has version %d, which no file has", v)
		}
	}
	for v := range tables {
		if m, ok := byVersion[v]; !ok || m.NoTx {
			bad("table t_%03d exists, but no transactional migration creates it", v)
		}
	}
	for v := range indexes {
		if m, ok := byVersion[v]; !ok || !m.NoTx {
			bad("index i_%03d exists, but no no-transaction migration creates it", v)
		}
	}
	txApplied := 0
	for _, m := range ms {
		ok, has := hist[m.V]
		switch {
		case !m.NoTx:
			if has && !ok {
				bad("transactional migration %d has a failed row", m.V)
			}
			applied := has && ok
			if applied {
				txApplied++
			}
			if tables[m.V] != applied {
				bad("migration %d: table %s exists=%v but applied=%v (half-applied)", m.V, m.table(), tables[m.V], applied)
			}
			want := 0
			if applied {
				want = 1
			}
			if logged[m.V] != want {
				bad("migration %d: %d log rows, want %d (applied=%v)", m.V, logged[m.V], want, applied)
			}
		case has && ok:
			valid, exists := indexes[m.V]
			if !exists || !valid {
				bad("no-transaction migration %d is recorded applied but index %s exists=%v valid=%v", m.V, m.index(), exists, valid)
			}
		case has && !ok:
			st.dirty = append(st.dirty, m.V)
		default:
			if _, exists := indexes[m.V]; exists {
				bad("no-transaction migration %d has no row but index %s exists", m.V, m.index())
			}
		}
		if has && ok {
			st.applied = append(st.applied, m.V)
		}
	}
	if counter != txApplied {
		bad("counter is %d, but %d transactional migrations are applied", counter, txApplied)
	}
	if n, err := queryInt(c, lockCountSQL); err != nil {
		bad("count advisory locks: %v", err)
	} else if n != 0 {
		bad("%d advisory locks held with no pgmig running", n)
	}
	sort.Ints(st.applied)
	sort.Ints(st.dirty)
	return st, problems
}

type pair[A, B any] struct {
	a A
	b B
}

// pairs runs a query returning two columns.
func pairs[A, B any](ctx context.Context, c *pgx.Conn, sql string) ([]pair[A, B], error) {
	rows, err := c.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (pair[A, B], error) {
		var p pair[A, B]
		err := r.Scan(&p.a, &p.b)
		return p, err
	})
}

// fixByHand does what the contract asks of a person after a no-transaction
// migration stopped half-way: undo what it left (an index, perhaps invalid)
// so that it can run again once `pgmig repair` removed its failed row.
func fixByHand(t testing.TB, c *pgx.Conn, ms []mig, dirty []int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, v := range dirty {
		for _, m := range ms {
			if m.V == v {
				if _, err := c.Exec(ctx, "DROP INDEX IF EXISTS "+m.index()); err != nil {
					t.Fatalf("fix %d by hand: %v", v, err)
				}
			}
		}
	}
}

// recover brings the target to fully applied after an interrupted run, as
// an operator would, asserting each step: with a failed row `up` refuses
// (exit 3), the test fixes the schema by hand and runs `repair`; then `up`
// must finish with everything applied and the invariant holding.
func (tg *target) recover(c *pgx.Conn, dirty []int) []string {
	tg.t.Helper()
	var problems []string
	if len(dirty) > 0 {
		r := tg.run("up")
		if r.code != 3 {
			problems = append(problems, fmt.Sprintf("up over failed rows %v: want exit 3, got\n%s", dirty, r))
		}
		fixByHand(tg.t, c, tg.ms, dirty)
		if r := tg.run("repair"); r.code != 0 {
			problems = append(problems, fmt.Sprintf("repair: want exit 0, got\n%s", r))
		}
	}
	r := tg.run("up")
	if r.code != 0 {
		return append(problems, fmt.Sprintf("up after the interruption: want exit 0, got\n%s", r))
	}
	st, ps := check(c, tg.ms)
	problems = append(problems, ps...)
	if len(st.applied) != len(tg.ms) || len(st.dirty) != 0 {
		problems = append(problems, fmt.Sprintf("after up: applied %v, dirty %v; want all %d applied", st.applied, st.dirty, len(tg.ms)))
	}
	return problems
}

// lockKey is the advisory lock key of the default tracking table.
var lockKey = lock.Key(runner.DefaultTable)

// newTarget makes a fresh database with the stress fixture and writes ms.
func newTarget(t testing.TB, ms []mig) *target {
	t.Helper()
	return &target{t: t, url: pgtest.NewDB(t, setupSQL...), src: writeSet(t, ms), ms: ms}
}

// firstLine is the first line of a process's output, for logs.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// envCount reads a trial count from the environment variable name: a
// positive integer, def when unset.
func envCount(t testing.TB, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}
