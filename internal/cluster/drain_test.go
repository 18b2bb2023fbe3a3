package cluster_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/fleet"
	"github.com/pgmig/pgmig/internal/cluster"
	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// The drain trial's runners are this test binary run again as child
// processes: PGMIG_CLUSTER_CHILD=drain makes TestMain run one runner over
// the targets file PGMIG_CLUSTER_TARGETS instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("PGMIG_CLUSTER_CHILD") == "drain" {
		os.Exit(drainChild(os.Getenv("PGMIG_CLUSTER_TARGETS")))
	}
	os.Exit(m.Run())
}

// drainFiles are the migrations of every fleet database; 002 holds its
// lock long enough that runners starting together meet on it.
var drainFiles = fstest.MapFS{
	"001_a.sql": {Data: []byte("CREATE TABLE a (id int);\n")},
	"002_b.sql": {Data: []byte("CREATE TABLE b (id int);\nSELECT pg_sleep(0.05);\n")},
	"003_c.sql": {Data: []byte("ALTER TABLE a ADD COLUMN b_id int;\n")},
}

// childResult is one target's line of a child's report.
type childResult struct {
	Target   string  `json:"target"`
	Outcome  string  `json:"outcome"`
	Applied  []int64 `json:"applied"`
	LockBusy int     `json:"lock_busy"`
	Error    string  `json:"error,omitempty"`
}

// drainChild is one runner: it waits for a byte on stdin (so that all
// runners start together), drains the targets with fleet.Run in
// skip-locked mode, four at a time, and prints one JSON line per target.
func drainChild(targetsFile string) int {
	ctx := context.Background()
	targets, err := fleet.Resolve(ctx, fleet.Spec{File: targetsFile})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := io.ReadFull(os.Stdin, make([]byte, 1)); err != nil {
		fmt.Fprintln(os.Stderr, "wait for start:", err)
		return 1
	}
	results := fleet.Run(ctx, targets, fleet.Options{Parallel: 4, SkipLocked: true, LockWait: time.Minute},
		func(ctx context.Context, t fleet.Target) (runner.Report, error) {
			db, err := pgdb.Open(ctx, t.ConnString, pgdb.Config{MinConns: 1, MaxConns: 3})
			if err != nil {
				return runner.Report{}, err
			}
			defer db.Close()
			r, err := runner.New(db.Pool(), source.FromFS(drainFiles), runner.Options{LockTimeout: -1})
			if err != nil {
				return runner.Report{}, err
			}
			return r.Up(ctx, runner.UpOptions{})
		})
	enc := json.NewEncoder(os.Stdout)
	for _, res := range results {
		cr := childResult{Target: res.Target.Name, Outcome: string(res.Outcome), LockBusy: res.LockBusy, Applied: []int64{}}
		for _, s := range res.Value.Applied {
			cr.Applied = append(cr.Applied, s.Version)
		}
		if res.Err != nil {
			cr.Error = res.Err.Error()
		}
		if err := enc.Encode(cr); err != nil {
			return 1
		}
	}
	return 0
}

// Four runner processes, each given the same list of 200 databases, drain
// it together with the databases' locks as their only coordinator: every
// database is migrated exactly once, by one runner; the other three find
// it done; and each runner's report holds every database, so their union
// is complete.
func TestDrainOneFleetWithFourRunners(t *testing.T) {
	const (
		databases = 200
		runners   = 4
		base      = 25350
	)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var busy int
	var drained time.Duration
	report(t, func() string {
		return fmt.Sprintf("%d runner processes, %d databases, each migrated once by one runner; %d tries found a lock held; drained in %s",
			runners, databases, busy, drained)
	})
	t0 := time.Now()
	srv := cluster.StartIn(t, cluster.MemoryDir(t, 4<<30), major, base)
	t.Logf("server started in %s", time.Since(t0).Round(time.Millisecond))

	// The databases are cloned from an empty template, a file copy each,
	// and go with the server: pg-stop deletes it whole, where 200 DROP
	// DATABASE would each wait for a checkpoint. In memory when there is
	// room: unlinking 1.3 GB of small files from a disk mounted with
	// discard took over a minute.
	start := time.Now()
	admin := srv.Conn(ctx, "postgres")
	if _, err := admin.Exec(ctx, "CREATE DATABASE fleet_tpl"); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	names := make([]string, databases)
	for i := range names {
		names[i] = fmt.Sprintf("tenant_%03d", i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, runners)
	for w := 0; w < runners; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, err := pgx.Connect(ctx, srv.DSN("postgres"))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close(ctx)
			for i := w; i < databases; i += runners {
				if _, err := c.Exec(ctx, "CREATE DATABASE "+names[i]+" TEMPLATE fleet_tpl STRATEGY FILE_COPY"); err != nil {
					errs <- fmt.Errorf("create %s: %w", names[i], err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d databases created in %s", databases, time.Since(start).Round(time.Millisecond))

	var list strings.Builder
	for _, n := range names {
		fmt.Fprintln(&list, srv.DSN(n))
	}
	targetsFile := filepath.Join(t.TempDir(), "targets.txt")
	if err := os.WriteFile(targetsFile, []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	type child struct {
		cmd    *exec.Cmd
		go_    io.WriteCloser
		out    strings.Builder
		stderr strings.Builder
	}
	kids := make([]*child, runners)
	for i := range kids {
		k := &child{cmd: exec.CommandContext(ctx, exe)}
		k.cmd.Env = append(os.Environ(), "PGMIG_CLUSTER_CHILD=drain", "PGMIG_CLUSTER_TARGETS="+targetsFile)
		k.cmd.Stdout, k.cmd.Stderr = &k.out, &k.stderr
		if k.go_, err = k.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := k.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		kids[i] = k
	}
	start = time.Now()
	for _, k := range kids {
		k.go_.Write([]byte{1})
		k.go_.Close()
	}
	for i, k := range kids {
		if err := k.cmd.Wait(); err != nil {
			t.Fatalf("runner %d: %v\n%s", i, err, k.stderr.String())
		}
	}
	drained = time.Since(start).Round(time.Millisecond)
	t.Logf("%d runners drained %d databases in %s", runners, databases, drained)

	// by[target] lists, per runner, the versions it applied there.
	by := map[string][][]int64{}
	for i, k := range kids {
		sc := bufio.NewScanner(strings.NewReader(k.out.String()))
		n, migrated, sawBusy := 0, 0, 0
		for sc.Scan() {
			var r childResult
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("runner %d printed %q: %v", i, sc.Text(), err)
			}
			n++
			if r.Outcome != string(fleet.OK) {
				t.Errorf("runner %d: %s: %s %s", i, r.Target, r.Outcome, r.Error)
			}
			if len(r.Applied) > 0 {
				migrated++
			}
			if r.LockBusy > 0 {
				sawBusy++
			}
			busy += r.LockBusy
			by[r.Target] = append(by[r.Target], r.Applied)
		}
		if n != databases {
			t.Errorf("runner %d reported %d targets, want all %d", i, n, databases)
		}
		t.Logf("runner %d: migrated %d databases, found %d locked by another runner at least once", i, migrated, sawBusy)
	}
	if len(by) != databases {
		t.Errorf("the reports name %d databases, want %d", len(by), databases)
	}
	for target, applied := range by {
		var did []string
		for _, a := range applied {
			if len(a) > 0 {
				did = append(did, fmt.Sprint(a))
			}
		}
		if len(did) != 1 || did[0] != "[1 2 3]" {
			t.Errorf("%s: runners applied %v; want one runner applying [1 2 3], the others nothing", target, did)
		}
	}
	if busy == 0 {
		t.Error("no runner ever found a database locked by another: the skip-locked path went untested")
	}
	t.Logf("%d tries found a database locked by another runner", busy)

	// The history of every database: three successful rows.
	start = time.Now()
	defer func() { t.Logf("histories checked in %s", time.Since(start).Round(time.Millisecond)) }()
	for _, n := range names {
		c := srv.Conn(ctx, n)
		var rows, ok int
		err := c.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE success) FROM public.pgmig_migrations").Scan(&rows, &ok)
		c.Close(ctx)
		if err != nil || rows != 3 || ok != 3 {
			t.Errorf("%s: %d history rows, %d successful (%v); want 3", n, rows, ok, err)
		}
	}
}
