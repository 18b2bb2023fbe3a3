package runner_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/pgmig/pgmig/runner"
)

// manyTables makes n migrations, each creating a table with a primary key
// (six locks held to COMMIT), written as the template says.
func manyTables(n int, template string) fstest.MapFS {
	files := fstest.MapFS{}
	for i := 1; i <= n; i++ {
		files[fmt.Sprintf("%05d_t.sql", i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf(template, i))}
	}
	return files
}

// TestSingleTransactionRefusedBeyondLockTable: a single transaction over
// more tables than the server's lock table holds is refused before its
// first statement, naming the setting to raise, instead of failing with
// "out of shared memory" thousands of migrations in.
func TestSingleTransactionRefusedBeyondLockTable(t *testing.T) {
	e := newEnv(t)
	var capacity int
	if err := e.pool.QueryRow(context.Background(), "SELECT current_setting('max_locks_per_transaction')::int * (current_setting('max_connections')::int + current_setting('autovacuum_max_workers')::int + 1 + current_setting('max_worker_processes')::int + current_setting('max_wal_senders')::int + current_setting('max_prepared_transactions')::int)").Scan(&capacity); err != nil {
		t.Fatal(err)
	}
	files := manyTables(2*capacity/6+100, "CREATE TABLE t%d (id int PRIMARY KEY);\n")
	_, err := e.runner(files, runner.Options{}).Up(context.Background(), runner.UpOptions{SingleTransaction: true})
	var lt *runner.LockTableError
	if !errors.As(err, &lt) || lt.Err != nil || lt.Need <= 2*int64(capacity) || !errors.Is(err, runner.ErrInvalidOption) {
		t.Fatalf("want a LockTableError before the start, got %v", err)
	}
	if e.exists("t1") || e.history("") != "" && e.history("") != "<no table>" {
		t.Fatalf("the refused run left traces: t1 %v, history %q", e.exists("t1"), e.history(""))
	}
}
