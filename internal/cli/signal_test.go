package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgmig/pgmig/internal/pgtest"
)

// TestSignalStopsRun sends the built binary SIGINT or SIGTERM while a
// migration sleeps in the server: the migration in flight is rolled back
// (or, without a transaction, cancelled and marked failed), the lock is
// released, the message says what was applied and what was not, and the
// exit code is 130 or 143.
func TestSignalStopsRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		sig    syscall.Signal
		code   int
		noTx   bool
		want   []string
		tables []string // that exist afterwards
	}{
		{name: "SIGINT", sig: syscall.SIGINT, code: 130, want: []string{"stopped by SIGINT", "applied 001 fast", "002 slow was rolled back", "not applied", "lock is released"}, tables: []string{"public.a"}},
		{name: "SIGTERM", sig: syscall.SIGTERM, code: 143, want: []string{"stopped by SIGTERM", "applied 001 fast", "002 slow was rolled back", "lock is released"}, tables: []string{"public.a"}},
		{name: "SIGTERM without a transaction", sig: syscall.SIGTERM, code: 143, noTx: true, want: []string{"stopped by SIGTERM", "applied 001 fast", "002 slow ran without a transaction", "marked failed", "lock is released"}, tables: []string{"public.a", "public.b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "001_fast.sql"), "CREATE TABLE a (id int);\n")
			slow := "CREATE TABLE b (id int);\nSELECT pg_sleep(60);\n"
			if tc.noTx {
				slow = "-- pgmig:no-transaction\n" + slow
			}
			writeFile(t, filepath.Join(dir, "002_slow.sql"), slow)
			writeFile(t, filepath.Join(dir, "003_later.sql"), "CREATE TABLE c (id int);\n")

			bin := pgtest.Binary(t) // built on the first call: before the clock starts
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, on(db, dir, "up")...)
			cmd.Env = os.Environ()
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			c := connect(t, db)
			poll(t, 30*time.Second, "pg_sleep to run", func() bool {
				return query[int](t, c, "SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%pg_sleep(60)%' AND state = 'active'") > 0
			})
			start := time.Now()
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			r := result{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
			var ee *exec.ExitError
			if err != nil && errors.As(err, &ee) {
				r.code = ee.ExitCode()
			}
			wantCode(t, r, tc.code)
			if r.elapsed > 20*time.Second {
				t.Errorf("stopping took %s: not at once", r.elapsed)
			}
			wantContains(t, "stderr", r.stderr, tc.want...)
			hs := history(t, c, "public.pgmig_migrations")
			if tc.noTx {
				if len(hs) != 2 || hs[1].Version != 2 || hs[1].Success {
					t.Errorf("history %+v, want 001 applied and 002 failed", hs)
				}
			} else if got := versions(hs); len(got) != 1 || got[0] != 1 {
				t.Errorf("history %v, want [1]", got)
			}
			wantRelations(t, c, true, tc.tables...)
			if !tc.noTx {
				wantRelations(t, c, false, "public.b")
			}
			wantRelations(t, c, false, "public.c")
			// The server ends a backend, and frees its locks, shortly after
			// its client leaves.
			poll(t, 10*time.Second, "pgmig's sessions to end", func() bool {
				return query[int](t, c, "SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()") == 0
			})
			poll(t, 10*time.Second, "the advisory locks to go", func() bool {
				return query[int](t, c, "SELECT count(*)::int FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = current_database()") == 0
			})
		})
	}
}

// A run that does not stop after the signal (stuck where no context
// reaches) is left behind StopGrace later, with the signal's code; one
// that stops in time is not.
func TestSignalGraceEndsStuckRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		stopAfter time.Duration // 0: never
		wantStuck bool
	}{
		{name: "stuck", wantStuck: true},
		{name: "stops in time", stopAfter: 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sigs := make(chan os.Signal, 1)
			released := make(chan struct{})
			stuck := make(chan *Signaled, 1)
			ctx, stop := watchSignals(context.Background(), sigs, func() { close(released) }, 200*time.Millisecond, func(s *Signaled) { stuck <- s })
			defer stop()
			sigs <- syscall.SIGTERM
			<-ctx.Done()
			<-released
			if s := signaled(ctx); s == nil || s.code() != 143 {
				t.Fatalf("cause %v: want SIGTERM, code 143", context.Cause(ctx))
			}
			if tc.stopAfter > 0 {
				time.Sleep(tc.stopAfter)
				stop()
			}
			select {
			case s := <-stuck:
				if !tc.wantStuck {
					t.Fatalf("left behind with %s, though it stopped in time", s)
				}
			case <-time.After(2 * time.Second):
				if tc.wantStuck {
					t.Fatal("a stuck run was not left behind within 2 s of a 200 ms grace")
				}
			}
		})
	}
}

// A command that takes no migration lock, stopped by a signal, says what
// it left (nothing) and speaks of no lock; diff drops its scratch
// databases on the way out.
func TestSignalStopsDiffWithoutALock(t *testing.T) {
	t.Parallel()
	db, src, desired := diffCase(t, "CREATE TABLE a (id int);", "CREATE TABLE a (id int);\nSELECT pg_sleep(60);")
	bin := pgtest.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, on(db, src, "diff", "--desired", desired, "--dry-run")...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := connect(t, db)
	// The desired schema is built on a scratch database: its pg_sleep runs there.
	poll(t, 30*time.Second, "the desired schema's pg_sleep to run", func() bool {
		return query[int](t, c, "SELECT count(*)::int FROM pg_stat_activity WHERE datname LIKE 'pgmig_diff_%' AND query LIKE '%pg_sleep(60)%' AND state = 'active' AND application_name = 'pgmig'") > 0
	})
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("want exit 130, got %v\n%s", err, errb.String())
	}
	wantContains(t, "stderr", errb.String(), "stopped by SIGINT: nothing was changed")
	if strings.Contains(errb.String(), "lock") {
		t.Errorf("diff takes no migration lock, but says:\n%s", errb.String())
	}
}
