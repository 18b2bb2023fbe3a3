package runner

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/source"
)

// LockTableError refuses a single transaction that would need more locks
// than the server's shared lock table holds. Every object such a run
// creates or alters stays locked until its one COMMIT, so a long history
// applied at once fails with "out of shared memory" (53200) after
// thousands of migrations; the estimate refuses it before the first.
type LockTableError struct {
	Migrations int   // in the planned transaction
	Need       int64 // estimated locks, from the migrations' statements
	Capacity   int64 // max_locks_per_transaction × (backends + prepared transactions)
	PerTx      int64 // max_locks_per_transaction, the setting to raise
	Err        error // the server's 53200, when the estimate let it through
}

func (e *LockTableError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("one transaction over %d migrations filled the server's lock table (max_locks_per_transaction=%d, %d locks in all): raise max_locks_per_transaction, or apply in several transactions: %v",
			e.Migrations, e.PerTx, e.Capacity, e.Err)
	}
	return fmt.Sprintf("one transaction over %d migrations would hold about %d locks until its COMMIT, but the server's lock table holds about %d (max_locks_per_transaction=%d for each backend): raise max_locks_per_transaction to at least %d, or apply in several transactions",
		e.Migrations, e.Need, lockTableSlack*e.Capacity, e.PerTx, e.Need/(lockTableSlack*max(e.Capacity/max(e.PerTx, 1), 1))+1)
}

func (e *LockTableError) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	return ErrInvalidOption
}

// Locks taken, and held to the end of the transaction, by the statements
// that create or change objects, as measured on PostgreSQL 15 (pg_locks of
// the session, relation and object locks): a table takes 3, and as many
// again for each index, sequence and TOAST table it comes with.
var (
	createTable   = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?:(?:TEMP|TEMPORARY|UNLOGGED)\s+)?TABLE\b`)
	indexed       = regexp.MustCompile(`(?i)\b(?:PRIMARY\s+KEY|UNIQUE|EXCLUDE)\b`)
	sequenced     = regexp.MustCompile(`(?i)\b(?:SMALLSERIAL|SERIAL|BIGSERIAL|SERIAL[248]|GENERATED\s+(?:ALWAYS|BY\s+DEFAULT)\s+AS\s+IDENTITY)\b`)
	toasted       = regexp.MustCompile(`(?i)\b(?:TEXT|VARCHAR|CHARACTER\s+VARYING|JSONB?|BYTEA|NUMERIC|DECIMAL|XML|TSVECTOR)\b|\[\]`)
	otherCreation = regexp.MustCompile(`(?is)^\s*(?:CREATE|ALTER|DROP|COMMENT\s+ON|GRANT|REVOKE)\b`)
)

// locksOf estimates the locks that the statements of sql hold until COMMIT.
func locksOf(sql string) int64 {
	var n int64
	for st := range source.SplitSeq(sql) {
		if st.Empty() {
			continue
		}
		text := st.Text[st.Start-st.Offset:]
		switch {
		case createTable.MatchString(text):
			n += 3
			n += 3 * int64(len(indexed.FindAllStringIndex(text, -1)))
			n += 3 * int64(len(sequenced.FindAllStringIndex(text, -1)))
			if toasted.MatchString(text) {
				n += 3
			}
		case otherCreation.MatchString(text):
			n++
		}
	}
	return n
}

// lockTableSQL reads the size of the server's shared lock table: room for
// max_locks_per_transaction locks for each backend the server may run
// (connections, autovacuum workers and their launcher, background workers,
// WAL senders) and each prepared transaction. The table grows into spare
// shared memory beyond that: measured on PostgreSQL 15 with the default
// settings, one transaction held some 14,800 locks where this reads 7,808.
// So only an estimate past lockTableSlack times the size is refused before
// the start; one that merely may not fit is tried, and a full table is
// reported as such.
const lockTableSQL = `SELECT current_setting('max_locks_per_transaction')::bigint,
	current_setting('max_locks_per_transaction')::bigint * (
		current_setting('max_connections')::bigint + current_setting('autovacuum_max_workers')::bigint + 1 +
		current_setting('max_worker_processes')::bigint + current_setting('max_wal_senders')::bigint +
		current_setting('max_prepared_transactions')::bigint)`

// lockTableSlack is how much room the lock table finds beyond its size.
const lockTableSlack = 2

// checkLockTable refuses, before anything is sent, a single transaction
// over todo that the server's lock table cannot hold.
func checkLockTable(ctx context.Context, conn *pgx.Conn, todo []*source.Migration) error {
	var need int64
	for _, m := range todo {
		need += locksOf(m.Up.SQL)
	}
	e := &LockTableError{Migrations: len(todo), Need: need}
	err := conn.QueryRow(ctx, lockTableSQL,
		pgx.QueryExecModeSimpleProtocol).Scan(&e.PerTx, &e.Capacity)
	if err != nil {
		return fmt.Errorf("read the server's lock table size: %w", err)
	}
	if need > lockTableSlack*e.Capacity {
		return e
	}
	return nil
}

// lockTableFull turns the server's "out of shared memory" inside the
// single transaction into a LockTableError that names the setting; other
// errors pass as they are.
func lockTableFull(ctx context.Context, conn *pgx.Conn, todo []*source.Migration, err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "53200" || !strings.Contains(pe.Hint, "max_locks_per_transaction") {
		return err
	}
	e := &LockTableError{Migrations: len(todo), Err: err}
	// The transaction is gone; this is a fresh read on the same session.
	_ = conn.QueryRow(ctx, lockTableSQL,
		pgx.QueryExecModeSimpleProtocol).Scan(&e.PerTx, &e.Capacity)
	return e
}
