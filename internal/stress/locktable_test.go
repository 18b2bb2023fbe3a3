package stress

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/internal/cluster"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// TestStressLockTableFull fills a server's shared lock table with one
// --single-transaction run whose DDL the estimate cannot see (it runs
// through EXECUTE): the server's 53200 must come back as a
// *runner.LockTableError naming max_locks_per_transaction, with nothing of
// the run kept. The lock table is the whole server's, so this runs on a
// throwaway server of its own: on the shared one, every test running beside
// it would fail with "out of shared memory" too.
func TestStressLockTableFull(t *testing.T) {
	srv := cluster.Start(t, 15, 25215)
	ctx := context.Background()
	// A small lock table fills after a few hundred tables, not thousands.
	admin, err := pgxpool.New(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "ALTER SYSTEM SET max_locks_per_transaction = 16"); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	srv.Restart()
	t.Cleanup(func() {
		if a, err := pgxpool.New(ctx, srv.URL); err == nil {
			a.Exec(ctx, "ALTER SYSTEM RESET max_locks_per_transaction")
			a.Close()
		}
	})
	url := database(t, srv, "locktable")
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var capacity int
	if err := pool.QueryRow(ctx, "SELECT current_setting('max_locks_per_transaction')::int * (current_setting('max_connections')::int + current_setting('autovacuum_max_workers')::int + 1 + current_setting('max_worker_processes')::int + current_setting('max_wal_senders')::int + current_setting('max_prepared_transactions')::int)").Scan(&capacity); err != nil {
		t.Fatal(err)
	}
	// Some 12 locks each: 6 times what the table is sized for, well past
	// the spare room it grows into.
	files := fstest.MapFS{}
	for i := 1; i <= capacity/2; i++ {
		files[fmt.Sprintf("%05d_t.sql", i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf(
			"DO $$ BEGIN EXECUTE 'CREATE TABLE t%d (a int PRIMARY KEY, b int UNIQUE, c int UNIQUE, d text)'; END $$;\n", i))}
	}
	r, err := runner.New(pool, source.FromFS(files), runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Up(ctx, runner.UpOptions{SingleTransaction: true})
	var lt *runner.LockTableError
	ok := errors.As(err, &lt) && lt.Err != nil && lt.PerTx > 0
	var kept bool
	if qerr := pool.QueryRow(ctx, "SELECT to_regclass('t1') IS NOT NULL").Scan(&kept); qerr != nil {
		t.Fatal(qerr)
	}
	failures := 0
	if !ok || kept {
		failures = 1
	}
	summary(t, "lock-table-full", 1, failures, 0, "")
	if !ok {
		t.Fatalf("want a LockTableError wrapping 53200, got %v", err)
	}
	if kept {
		t.Fatal("the failed single transaction kept a table")
	}
}
