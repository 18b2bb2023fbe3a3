package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pgmig/pgmig/internal/cluster"
	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

const major = 15

// pair starts a primary and its streaming standby on ports base and
// base+1, with a database app made on the primary and replayed on the
// standby, and returns them with the connection string a team would give
// an HA cluster: both hosts, and target_session_attrs=read-write.
func pair(t *testing.T, ctx context.Context, base int) (primary, standby *cluster.Server, connString string) {
	primary = cluster.Start(t, major, base)
	standby = primary.Standby(base + 1)
	c := primary.Conn(ctx, "postgres")
	if _, err := c.Exec(ctx, "CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	standby.EventuallyTrue(ctx, "postgres", "the standby has database app", "SELECT EXISTS (SELECT FROM pg_database WHERE datname = 'app')")
	connString = fmt.Sprintf("host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=app sslmode=disable connect_timeout=2 target_session_attrs=read-write", base, base+1)
	return primary, standby, connString
}

// sleepOn is SQL that sleeps on the server listening on port only: the
// migration holding it is slow on the old primary, where the failover
// interrupts it, and quick when it runs again on the new one.
func sleepOn(port int) string {
	return fmt.Sprintf("SELECT pg_sleep(CASE WHEN inet_server_port() = %d THEN 60 ELSE 0 END);\n", port)
}

// recorder keeps a run's events and lets the test step in at a step's
// start: the run waits until the test says go on.
type recorder struct {
	mu     sync.Mutex
	events []runner.Event
	at     map[int64]chan chan struct{}
}

func newRecorder(versions ...int64) *recorder {
	r := &recorder{at: map[int64]chan chan struct{}{}}
	for _, v := range versions {
		r.at[v] = make(chan chan struct{}, 1)
	}
	return r
}

func (r *recorder) on(e runner.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	ch := r.at[e.Step.Version]
	if e.Kind == runner.StepStarted && ch != nil {
		delete(r.at, e.Step.Version)
	}
	r.mu.Unlock()
	if e.Kind == runner.StepStarted && ch != nil {
		resume := make(chan struct{})
		ch <- resume
		<-resume
	}
}

// reached waits until the run starts step v; the run goes on when the
// returned function is called.
func (r *recorder) reached(t *testing.T, ctx context.Context, v int64, done <-chan upResult) func() {
	t.Helper()
	r.mu.Lock()
	ch := r.at[v]
	r.mu.Unlock()
	select {
	case resume := <-ch:
		return func() { close(resume) }
	case res := <-done:
		t.Fatalf("the run ended before migration %d started: %v", v, res.err)
	case <-ctx.Done():
		t.Fatalf("migration %d never started: %v", v, ctx.Err())
	}
	return nil
}

func (r *recorder) kind(k runner.EventKind) []runner.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runner.Event
	for _, e := range r.events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

type upResult struct {
	rep runner.Report
	err error
}

// up starts r.Up in a goroutine.
func up(ctx context.Context, r *runner.Runner) <-chan upResult {
	done := make(chan upResult, 1)
	go func() {
		rep, err := r.Up(ctx, runner.UpOptions{})
		done <- upResult{rep, err}
	}()
	return done
}

// failOver waits until the primary's backend sleeps in a migration, then
// kills the primary and promotes the standby.
func failOver(t *testing.T, ctx context.Context, primary, standby *cluster.Server) time.Time {
	t.Helper()
	primary.EventuallyTrue(ctx, "app", "a migration sleeps on the primary",
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = 'app'")
	primary.Crash()
	at := time.Now()
	standby.Promote()
	return at
}

func history(t *testing.T, ctx context.Context, s *cluster.Server) map[int64]bool {
	t.Helper()
	c := s.Conn(ctx, "app")
	defer c.Close(ctx)
	return pgtest.QueryMap[int64, bool](t, ctx, c, "SELECT version, success FROM public.pgmig_migrations")
}

func tables(t *testing.T, ctx context.Context, s *cluster.Server) string {
	t.Helper()
	c := s.Conn(ctx, "app")
	defer c.Close(ctx)
	var got string
	if err := c.QueryRow(ctx, "SELECT coalesce(string_agg(tablename, ',' ORDER BY tablename), '') FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'pgmig_migrations'").Scan(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

func newRunner(t *testing.T, ctx context.Context, connString string, files fstest.MapFS, rec *recorder) *runner.Runner {
	t.Helper()
	db, err := pgdb.Open(ctx, connString, pgdb.Config{ConnectTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	r, err := runner.New(db.Pool(), source.FromFS(files), runner.Options{
		LockTimeout:      30 * time.Second,
		ReconnectTimeout: 30 * time.Second,
		OnEvent:          rec.on,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func versions(steps []runner.Step) []int64 {
	var vs []int64
	for _, s := range steps {
		vs = append(vs, s.Version)
	}
	return vs
}

// The primary dies in the middle of a run, with a migration committed on
// it that its standby never received; the standby is promoted. The run
// finds the new primary through the connection string's second host,
// takes the lock there, finds that migration pending again, and finishes:
// every migration applied once on the new primary, and the report says
// which one was lost and applied again.
func TestFailoverTransactional(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const base = 25340
	report(t, func() string {
		return "primary killed mid-run, standby promoted, the commit it never received applied again"
	})
	primary, standby, connString := pair(t, ctx, base)
	files := fstest.MapFS{
		"001_a.sql":    {Data: []byte("CREATE TABLE a (id int);\n")},
		"002_b.sql":    {Data: []byte("CREATE TABLE b (id int);\n")},
		"003_slow.sql": {Data: []byte("CREATE TABLE c (id int);\n" + sleepOn(base))},
		"004_d.sql":    {Data: []byte("CREATE TABLE d (id int);\n")},
	}
	rec := newRecorder(2, 3)
	r := newRunner(t, ctx, connString, files, rec)
	done := up(ctx, r)

	// 001 is on both servers; then the standby stops receiving, so 002
	// commits on the primary alone.
	goOn := rec.reached(t, ctx, 2, done)
	standby.EventuallyTrue(ctx, "app", "the standby has migration 1", "SELECT count(*) = 1 FROM pg_class WHERE relname = 'a'")
	standby.Detach(ctx)
	goOn()
	rec.reached(t, ctx, 3, done)()
	lostAt := failOver(t, ctx, primary, standby)

	var res upResult
	select {
	case res = <-done:
	case <-ctx.Done():
		t.Fatal("the run did not end after the failover")
	}
	if res.err != nil {
		t.Fatalf("up after failover: %v", res.err)
	}
	t.Logf("up finished %s after the primary died", time.Since(lostAt).Round(time.Millisecond))
	if got := fmt.Sprint(versions(res.rep.Applied)); got != "[1 2 3 4]" {
		t.Errorf("report applied %s, want [1 2 3 4]: each migration once, 2 only where it stuck", got)
	}
	if res.rep.Current == nil || *res.rep.Current != 4 {
		t.Errorf("current %v, want 4", res.rep.Current)
	}
	h := history(t, ctx, standby)
	if fmt.Sprint(h) != "map[1:true 2:true 3:true 4:true]" {
		t.Errorf("history on the new primary %v, want 1-4 applied", h)
	}
	if got := tables(t, ctx, standby); got != "a,b,c,d" {
		t.Errorf("tables on the new primary %s, want a,b,c,d", got)
	}
	rc, rd := rec.kind(runner.Reconnecting), rec.kind(runner.Reconnected)
	if len(rc) != 1 || len(rd) != 1 {
		t.Fatalf("%d Reconnecting and %d Reconnected events, want one each", len(rc), len(rd))
	}
	if in := rc[0].Failover.InFlight; in == nil || in.Version != 3 {
		t.Errorf("in flight at the loss: %+v, want migration 3", in)
	}
	if got := fmt.Sprint(versions(rd[0].Failover.Lost)); got != "[2]" {
		t.Errorf("lost in the failover: %s, want [2]", got)
	}
	if w := rd[0].Failover.Waited; w <= 0 || w > 30*time.Second {
		t.Errorf("waited %s for the new primary", w)
	}
	t.Logf("reconnected after %s; lost %v", rd[0].Failover.Waited.Round(time.Millisecond), versions(rd[0].Failover.Lost))
}

// A no-transaction migration interrupted by the failover: when its failed
// row reached the standby, the run stops there with a DirtyError and
// nothing of it runs again; when the row never reached the standby,
// nothing of the migration did either, and it runs from the start.
func TestFailoverNoTransaction(t *testing.T) {
	tests := []struct {
		name     string
		base     int
		detach   bool // the standby stops receiving before the migration starts
		wantErr  bool
		wantHist string
		wantTabs string
	}{
		{"failed row replicated: stop, do not re-run", 25342, false, true, "map[1:true 2:false]", "a"},
		{"row never replicated: pending, runs", 25344, true, false, "map[1:true 2:true 3:true]", "a,c,e"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			report(t, func() string { return "" })
			primary, standby, connString := pair(t, ctx, tc.base)
			files := fstest.MapFS{
				"001_a.sql": {Data: []byte("CREATE TABLE a (id int);\n")},
				"002_idx.sql": {Data: []byte("-- pgmig:no-transaction\n" + sleepOn(tc.base) +
					"CREATE TABLE e (id int);\nCREATE INDEX CONCURRENTLY e_id ON e (id);\n")},
				"003_c.sql": {Data: []byte("CREATE TABLE c (id int);\n")},
			}
			rec := newRecorder(2)
			r := newRunner(t, ctx, connString, files, rec)
			done := up(ctx, r)
			goOn := rec.reached(t, ctx, 2, done)
			standby.EventuallyTrue(ctx, "app", "the standby has migration 1", "SELECT count(*) = 1 FROM public.pgmig_migrations WHERE version = 1")
			if tc.detach {
				standby.Detach(ctx)
			}
			goOn()
			if !tc.detach {
				standby.EventuallyTrue(ctx, "app", "the standby has the failed row of migration 2",
					"SELECT count(*) = 1 FROM public.pgmig_migrations WHERE version = 2 AND NOT success")
			}
			failOver(t, ctx, primary, standby)
			var res upResult
			select {
			case res = <-done:
			case <-ctx.Done():
				t.Fatal("the run did not end after the failover")
			}
			var de *runner.DirtyError
			switch {
			case tc.wantErr && !errors.As(res.err, &de):
				t.Fatalf("up after failover: %v; want a DirtyError for migration 2", res.err)
			case tc.wantErr && de.Version != 2:
				t.Errorf("dirty migration %d, want 2", de.Version)
			case !tc.wantErr && res.err != nil:
				t.Fatalf("up after failover: %v", res.err)
			}
			if h := fmt.Sprint(history(t, ctx, standby)); h != tc.wantHist {
				t.Errorf("history on the new primary %s, want %s", h, tc.wantHist)
			}
			if got := tables(t, ctx, standby); got != tc.wantTabs {
				t.Errorf("tables on the new primary %q, want %q", got, tc.wantTabs)
			}
			rc := rec.kind(runner.Reconnecting)
			if len(rc) != 1 || rc[0].Failover.InFlight == nil || rc[0].Failover.InFlight.Version != 2 {
				t.Errorf("Reconnecting events %+v, want one with migration 2 in flight", rc)
			}
			if res.err != nil {
				t.Logf("up stopped as it should: %v", res.err)
			}
		})
	}
}

// report logs the line CI prints in its summary of the suites
// (PGMIG_STRESS_REPORT, as internal/stress writes it) when the test ends,
// saying whether it passed, then what detail returns.
func report(t *testing.T, detail func() string) {
	t.Cleanup(func() {
		verdict := "passed"
		if t.Failed() {
			verdict = "FAILED"
		}
		line := fmt.Sprintf("cluster: %s: %s", t.Name(), verdict)
		if d := detail(); d != "" {
			line += "; " + d
		}
		pgtest.Report(t, line)
	})
}
