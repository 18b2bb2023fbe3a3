package runner_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/runner"
)

// Every session of a run is terminated while its second migration runs, on
// a server that goes on: that is no failover (the failover itself is tested
// in internal/cluster, with a standby promoted), so with ReconnectTimeout
// or without, the run stops with the error, nothing of the migration kept.
func TestUpReconnects(t *testing.T) {
	for _, tc := range []struct {
		name      string
		reconnect time.Duration
		want      string
	}{
		{"reconnect", 10 * time.Second, "1"},
		{"no reconnect", 0, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			files := fstest.MapFS{
				"001_a.sql":    {Data: []byte("CREATE TABLE a (id int);\n")},
				"002_slow.sql": {Data: []byte("CREATE TABLE b (id int);\nSELECT pg_sleep(1);\n")},
				"003_c.sql":    {Data: []byte("CREATE TABLE c (id int);\n")},
			}
			var mu sync.Mutex
			var kinds []runner.EventKind
			var lost []runner.Step
			started := make(chan struct{}, 3)
			r := e.runner(files, runner.Options{ReconnectTimeout: tc.reconnect, OnEvent: func(ev runner.Event) {
				mu.Lock()
				defer mu.Unlock()
				kinds = append(kinds, ev.Kind)
				if ev.Kind == runner.Reconnected {
					lost = ev.Failover.Lost
				}
				if ev.Kind == runner.StepStarted && ev.Step.Version == 2 {
					started <- struct{}{}
				}
			}})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			done := make(chan error, 1)
			var rep runner.Report
			go func() {
				var err error
				rep, err = r.Up(ctx, runner.UpOptions{})
				done <- err
			}()
			<-started
			killAll(t, ctx, e, "the sleeping migration")
			err := <-done
			if err == nil {
				t.Fatal("up went on after its sessions were terminated on a server that never went away")
			}
			var got []string
			for _, s := range rep.Applied {
				got = append(got, fmt.Sprint(s.Version))
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("applied %v, want %s", got, tc.want)
			}
			if h := e.history(""); h != strings.ReplaceAll(tc.want, " ", ",") {
				t.Errorf("history %q, want %q", h, tc.want)
			}
			mu.Lock()
			defer mu.Unlock()
			n := map[runner.EventKind]int{}
			for _, k := range kinds {
				n[k]++
			}
			wantEvents := 0
			if n[runner.Reconnecting] != wantEvents || n[runner.Reconnected] != wantEvents {
				t.Errorf("%d Reconnecting, %d Reconnected events; want %d each", n[runner.Reconnecting], n[runner.Reconnected], wantEvents)
			}
			if len(lost) != 0 {
				t.Errorf("lost %v: the server kept every commit", lost)
			}
		})
	}
}

// killAll waits until a session of e's database sleeps, then terminates
// every other session of it.
func killAll(t *testing.T, ctx context.Context, e *env, what string) {
	t.Helper()
	admin, err := pgx.Connect(ctx, e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	for {
		var n int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"); err != nil {
		t.Fatal(err)
	}
}
