// Package stress holds pgmig's race and crash suites: tests that build the
// pgmig binary once and drive real processes against a real PostgreSQL,
// racing them, killing them with SIGKILL, terminating their server
// backends and restarting the server under them, and after each trial
// checking the guarantees of the contract's "Concurrency and failure
// guarantees": every migration applied exactly once, the history matching
// the schema, the advisory lock free once the process is gone, and the next
// `pgmig up` finishing the job.
//
// The tests run with `go test ./...` at a scale that keeps the package
// under a few minutes on two cores. PGMIG_STRESS_SCALE=N multiplies the
// rounds and iterations for longer local runs; PGMIG_STRESS_SEED fixes the
// random seed that each test logs:
//
//	PGMIG_STRESS_SCALE=10 go test -count=1 -v -run Stress ./internal/stress/
//
// PGMIG_STRESS_BIN runs them against a pgmig binary built elsewhere instead
// of the checkout; PGMIG_STRESS_PG_MAJOR and PGMIG_STRESS_PG_PORT choose the
// server the restart test starts with ../shared/pg/pg-start (default 16 on
// 25116).
//
// The trials of issue 16 have counts of their own, each multiplied by
// PGMIG_STRESS_SCALE: PGMIG_STRESS_PG13_TRIALS (server restarts on
// PostgreSQL 13, default 3), PGMIG_STRESS_LEASE_RACE_ROUNDS (table-mode
// up/rollback races through PgBouncer, default 3),
// PGMIG_STRESS_LEASE_KILLS (table-mode SIGKILLs through PgBouncer, default
// 12), PGMIG_STRESS_SPLIT_INPUTS (the statement split against the server's
// parser, default 2000), PGMIG_STRESS_SPECIAL_TRIALS (FIFOs and links to
// devices in place of migration files, default 16) and
// PGMIG_STRESS_MEM_UP_STATEMENTS (the peak-memory
// `up`, default 520000); PGMIG_STRESS_MEM_ASSERT=0 makes the peak-memory
// trial only report its figures, not enforce issue 16's target.
//
// Each test logs one summary line, "stress: NAME: N trials, F invariant
// failures (seed S)", which CI prints.
package stress
