package check_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/check"
	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

func names(vs []check.Verified) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

var builtinNames = []string{"create_users", "create_user_security", "create_audit_log", "create_sessions"}

func TestVerifyBuiltinLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	pool := open(t, pgtest.NewDB(t))
	var progress []string
	rep, err := check.Verify(context.Background(), pool, source.Builtin(), check.VerifyOptions{
		OnVerified: func(v check.Verified) { progress = append(progress, v.Name) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(rep.Verified); !slices.Equal(got, builtinNames) {
		t.Errorf("verified %q, want %q", got, builtinNames)
	}
	if !slices.Equal(progress, builtinNames) {
		t.Errorf("OnVerified saw %q, want %q", progress, builtinNames)
	}
	if !strings.HasPrefix(rep.Database, "pgmig_verify_") || rep.Duration <= 0 || rep.Cleanup != nil {
		t.Errorf("report %+v", rep)
	}
	wantDropped(t, rep.Database)
	// The database of the pool only hosts the scratch one.
	wantRelations(t, pool, false, "public.users", "public.pgmig_migrations")
}

func TestVerifyVerdicts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file, sql string
		verified        int
		want            func(t *testing.T, err error)
	}{
		{"a down that forgets an index", "005_add_login_index.sql", `-- pgmig:up
CREATE INDEX idx_users_last_login ON users (last_login);
CREATE TABLE login_events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL);

-- pgmig:down
DROP TABLE login_events;
`, 4, func(t *testing.T, err error) {
			var d *check.DifferenceError
			if !errors.As(err, &d) || d.Version != 5 || d.Name != "add_login_index" || d.Step != "down" ||
				!slices.Equal(d.Objects, []string{"index public.idx_users_last_login"}) {
				t.Fatalf("got %#v, want the down difference", err)
			}
			if want := "rolling back 005 add_login_index does not restore the schema before it"; err.Error() != want {
				t.Errorf("message %q, want %q", err, want)
			}
			for _, s := range []string{"--- before 005 add_login_index\n+++ after rolling back 005 add_login_index\n",
				"\n+index public.idx_users_last_login CREATE INDEX idx_users_last_login ON public.users USING btree (last_login)\n"} {
				if !strings.Contains(d.Diff, s) {
					t.Errorf("diff lacks %q:\n%s", s, d.Diff)
				}
			}
			if !errors.Is(err, runner.ErrValidation) {
				t.Error("a difference does not match runner.ErrValidation")
			}
		}},
		{"a failing down", "005_login_events.sql", "-- pgmig:up\nCREATE TABLE login_events (id bigint);\n\n-- pgmig:down\nDROP TABLE login_event;\n",
			4, func(t *testing.T, err error) {
				var me *runner.MigrationError
				var pe *pgconn.PgError
				if !errors.As(err, &me) || !errors.As(err, &pe) || pe.Code != "42P01" || me.File != "005_login_events.sql" || me.Line != 5 || me.Direction != runner.Down {
					t.Errorf("got %v, want the down's 42P01 at 005_login_events.sql:5", err)
				}
			}},
		{"a failing up", "005_bad.sql", "-- pgmig:up\nCREATE TABLE t (id nosuchtype);\n-- pgmig:down\nDROP TABLE t;\n",
			4, func(t *testing.T, err error) {
				var me *runner.MigrationError
				if !errors.As(err, &me) || me.Version != 5 || !strings.Contains(err.Error(), `type "nosuchtype" does not exist`) {
					t.Errorf("got %v, want the up's failure", err)
				}
			}},
		{"no down section", "005_no_down.sql", "CREATE TABLE t (id int);\n",
			4, func(t *testing.T, err error) {
				var md *runner.MissingDownError
				if !errors.As(err, &md) || md.Version != 5 || !strings.HasPrefix(err.Error(), "cannot verify 005 no_down: migration 5 no_down has no down section") {
					t.Errorf("got %v, want a missing down", err)
				}
			}},
		{"an up that is not repeatable", "005_random.sql", `-- pgmig:up
DO $$ BEGIN EXECUTE format('CREATE TABLE t_%s (id int)', floor(random() * 1e9)::bigint); END $$;

-- pgmig:down
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT relname FROM pg_class WHERE relname LIKE 't\_%' AND relkind = 'r' AND relnamespace = 'public'::regnamespace LOOP
    EXECUTE format('DROP TABLE %I', r.relname);
  END LOOP;
END $$;
`, 4, func(t *testing.T, err error) {
			var d *check.DifferenceError
			if !errors.As(err, &d) || d.Step != "up" || len(d.Objects) == 0 {
				t.Fatalf("got %v, want the up difference", err)
			}
			for _, o := range d.Objects {
				if !strings.Contains(o, " public.t_") {
					t.Errorf("differs: %s, want only the randomly named table's objects", o)
				}
			}
			if want := "applying 005 random again after its down gives another schema than the first time"; err.Error() != want {
				t.Errorf("message %q, want %q", err, want)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep, err := check.Verify(context.Background(), open(t, pgtest.NewDB(t)), withMigration(t, tc.file, tc.sql), check.VerifyOptions{})
			if err == nil {
				t.Fatal("verified")
			}
			tc.want(t, err)
			if !check.IsVerdict(err) {
				t.Errorf("IsVerdict(%v) = false", err)
			}
			if got := names(rep.Verified); !slices.Equal(got, builtinNames[:tc.verified]) {
				t.Errorf("verified %q before the problem, want %q", got, builtinNames[:tc.verified])
			}
			wantDropped(t, rep.Database)
		})
	}
}

// TestVerifyCustomTable: a tracking table in a schema of its own, which the
// runner creates with the table, is no difference; nor is one whose name
// must be quoted.
func TestVerifyCustomTable(t *testing.T) {
	t.Parallel()
	for _, table := range []string{"ops.history", `"Ops"."History"`} {
		t.Run(table, func(t *testing.T) {
			t.Parallel()
			rep, err := check.Verify(context.Background(), open(t, pgtest.NewDB(t)), source.Builtin(), check.VerifyOptions{
				Runner: runner.Options{Table: table},
			})
			if err != nil || len(rep.Verified) != 4 {
				t.Fatalf("verify with table %s: %v, %d verified", table, err, len(rep.Verified))
			}
			wantDropped(t, rep.Database)
		})
	}
}

func TestVerifyBadOptionsCreateNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts runner.Options
	}{
		{"three-part table", runner.Options{Table: "a.b.c"}},
		{"unterminated quote", runner.Options{Table: `"ops.history`}},
		{"table name too long", runner.Options{Table: "ops." + strings.Repeat("x", 64)}},
		{"unknown lock mode", runner.Options{LockMode: "advisory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool := open(t, pgtest.NewDB(t))
			rep, err := check.Verify(context.Background(), pool, source.Builtin(), check.VerifyOptions{Runner: tc.opts})
			if !errors.Is(err, runner.ErrInvalidOption) || rep.Database != "" {
				t.Errorf("got %v in %q, want an invalid option before any scratch database", err, rep.Database)
			}
			_, err = check.VerifyIn(context.Background(), pool, source.Builtin(), check.VerifyOptions{Runner: tc.opts})
			if !errors.Is(err, runner.ErrInvalidOption) {
				t.Errorf("VerifyIn: got %v, want an invalid option", err)
			}
			if n := query[int](t, pool, "SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('public', 'information_schema')"); n != 0 {
				t.Errorf("%d schemas made in the database", n)
			}
		})
	}
}

func TestVerifyInLeavesTheDatabaseAsFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dev := open(t, pgtest.NewDB(t))
	rep, err := check.VerifyIn(ctx, dev, source.Builtin(), check.VerifyOptions{Runner: runner.Options{Table: "ops.history"}})
	if err != nil || len(rep.Verified) != 4 || rep.Cleanup != nil || len(rep.Leftover) != 0 {
		t.Fatalf("VerifyIn: %v, report %+v", err, rep)
	}
	wantRelations(t, dev, false, "public.users", "ops.history")
	if query[bool](t, dev, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'ops')") {
		t.Error("schema ops left behind in the dev database")
	}

	// A faulty down leaves something behind: it is named.
	src := withMigration(t, "005_extra.sql", "-- pgmig:up\nCREATE TABLE extra (id int);\nCREATE TABLE login_events (id int);\n-- pgmig:down\nDROP TABLE login_events;\n")
	rep, err = check.VerifyIn(ctx, dev, src, check.VerifyOptions{})
	var d *check.DifferenceError
	if !errors.As(err, &d) || len(rep.Verified) != 4 {
		t.Fatalf("got %v after %d verified, want a difference at 005", err, len(rep.Verified))
	}
	if rep.Cleanup != nil || !slices.Contains(rep.Leftover, "table public.extra") {
		t.Errorf("cleanup %v, leftover %q, want table public.extra named", rep.Cleanup, rep.Leftover)
	}
	wantRelations(t, dev, false, "public.users", "public.pgmig_migrations")
}

func TestVerifyInRefusesAnythingButAnEmptyDatabase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, setup, holds string }{
		{"a table", "CREATE TABLE keep (id int); INSERT INTO keep VALUES (1)", "table public.keep"},
		{"a history", "CREATE TABLE pgmig_migrations (version bigint); INSERT INTO pgmig_migrations VALUES (1)", `migrations recorded in "pgmig_migrations"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dev := open(t, pgtest.NewDB(t))
			exec(t, dev, tc.setup)
			_, err := check.VerifyIn(context.Background(), dev, source.Builtin(), check.VerifyOptions{Runner: runner.Options{Table: "pgmig_migrations"}})
			var ne *check.NotEmptyError
			if !errors.As(err, &ne) || ne.Holds != tc.holds || !errors.Is(err, runner.ErrInvalidOption) {
				t.Fatalf("got %v, want not empty holding %s", err, tc.holds)
			}
			if !strings.Contains(err.Error(), "the database is not empty (it holds "+tc.holds+")") {
				t.Errorf("message %q", err)
			}
			wantRelations(t, dev, false, "public.users")
			if n := query[int](t, dev, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"); n != 1 {
				t.Errorf("%d tables in public, want the one that was there", n)
			}
		})
	}
}

// TestVerifyWithoutCreateDB: a role that may not create databases gets a
// *PrivilegeError naming it and the grant.
func TestVerifyWithoutCreateDB(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	role, u := pgtest.NewRole(t, db, "NOCREATEDB")
	_, err := check.Verify(context.Background(), open(t, u), source.Builtin(), check.VerifyOptions{})
	var pe *check.PrivilegeError
	var pg *pgconn.PgError
	if !errors.As(err, &pe) || pe.Role != role || !errors.As(err, &pg) || pg.Code != "42501" {
		t.Fatalf("got %v, want a privilege error for %s", err, role)
	}
	if !strings.Contains(err.Error(), "ALTER ROLE "+role+" CREATEDB") {
		t.Errorf("message %q does not say how to grant it", err)
	}
	if check.IsVerdict(err) {
		t.Error("a missing privilege taken as a verdict on the migrations")
	}
}

// TestVerifyCancelled: a cancelled context in the middle of a migration
// still drops the scratch database, and is no verdict.
func TestVerifyCancelled(t *testing.T) {
	t.Parallel()
	var rnd [4]byte
	rand.Read(rnd[:])
	marker := "verify_cancel_" + hex.EncodeToString(rnd[:])
	src := withMigration(t, "005_slow.sql", "-- pgmig:up\nSELECT pg_sleep(60) /* "+marker+" */;\n-- pgmig:down\nSELECT 1;\n")
	pool := open(t, pgtest.NewDB(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		rep check.VerifyReport
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := check.Verify(ctx, pool, src, check.VerifyOptions{})
		done <- result{rep, err}
	}()
	admin := open(t, pgtest.AdminURL())
	var scratch string
	for deadline := time.Now().Add(30 * time.Second); scratch == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		admin.QueryRow(context.Background(), "SELECT datname FROM pg_stat_activity WHERE query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()", marker).Scan(&scratch)
	}
	if scratch == "" {
		t.Fatal("the slow migration never started")
	}
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) || check.IsVerdict(r.err) {
			t.Errorf("got %v, want context.Canceled and no verdict", r.err)
		}
		if r.rep.Database != scratch || len(r.rep.Verified) != 4 {
			t.Errorf("report %+v, want 4 verified in %s", r.rep, scratch)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("verify did not return after cancellation")
	}
	wantDropped(t, scratch)
}

func TestScratchDropsWhateverBecameOfTheContext(t *testing.T) {
	t.Parallel()
	server := open(t, pgtest.NewDB(t))
	ctx, cancel := context.WithCancel(context.Background())
	sc, err := check.NewScratch(ctx, server, "pgmig_test_scratch_", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Its pool reaches the new database, with the server pool's settings.
	var name string
	if err := sc.Pool.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil || name != sc.Name {
		t.Fatalf("scratch pool is in %q (%v), want %s", name, err, sc.Name)
	}
	// A session someone left open in it does not stop the drop.
	other, err := pgx.Connect(context.Background(), pgtest.WithDatabase(pgtest.AdminURL(), sc.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	cancel()
	if err := sc.Drop(); err != nil {
		t.Fatal(err)
	}
	if err := sc.Drop(); err != nil {
		t.Errorf("second drop: %v", err)
	}
	wantDropped(t, sc.Name)
}

func TestScratchRefusesAPrefixThatNeedsQuotes(t *testing.T) {
	t.Parallel()
	_, err := check.NewScratch(context.Background(), open(t, pgtest.NewDB(t)), "Pgmig-", nil)
	if err == nil || !strings.Contains(err.Error(), `scratch database prefix "Pgmig-"`) {
		t.Errorf("got %v", err)
	}
}

// A scratch database whose creator was killed outright (no Drop ran, and
// its liveness lock went with its session) is dropped by the next
// NewScratch of its prefix; one whose creator lives is left alone, even
// with no session in it.
func TestScratchSweepsOrphansOfItsPrefix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const prefix = "pgmig_test_orphan_"
	server := open(t, pgtest.NewDB(t))
	// The orphan: a scratch database of the prefix that nobody holds, as a
	// SIGKILL leaves it.
	orphan := prefix + "0123456789ab"
	if _, err := server.Exec(ctx, "CREATE DATABASE "+orphan); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Exec(context.Background(), "DROP DATABASE IF EXISTS "+orphan) })
	// The living one, with no session in it: its lock is what keeps it.
	live, err := check.NewScratch(ctx, server, prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Drop()
	live.Pool.Reset()
	// The one that sweeps.
	sc, err := check.NewScratch(ctx, server, prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Drop()
	wantDropped(t, orphan)
	var n int
	if err := server.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", live.Name).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the living scratch database %s: %d found (%v), want it kept", live.Name, n, err)
	}
}
