package lock

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// PoolerError reports that a session advisory lock cannot be trusted on
// these connections: a connection pooler in transaction (or statement)
// pooling mode, such as PgBouncer with pool_mode=transaction, hands each
// transaction to whichever server connection is free, so a session lock
// would be taken on one server connection and never released, and other
// runs would not reliably see it. The remedy is a lease (NewLease;
// runner.Options.LockMode = runner.LockTable).
type PoolerError struct {
	Name   string // what the lock protects: the tracking table's qualified name
	Reason string // what was observed
}

func (e *PoolerError) Error() string {
	return fmt.Sprintf("session advisory lock for %s refused: %s, so a connection pooler in transaction pooling mode (e.g. PgBouncer pool_mode=transaction) sits between pgmig and the server; a session lock is not safe there",
		e.Name, e.Reason)
}

// DetectPooler checks that a and b, two client connections, each keep a
// server backend of their own, as a session advisory lock needs. It asks
// for pg_backend_pid() on a, on b, then on a again, over the simple
// protocol so that the check itself works behind a pooler; it reports a
// *PoolerError when a's two statements ran on different backends or when
// b ran on a backend a used. Behind an idle PgBouncer in transaction mode
// this is found every time: PgBouncer hands b the server connection a has
// just released. On a busy pooler it may miss, so it is a guard, not a
// proof. Call it before taking the lock, so that a lock is never left on a
// pooled server connection.
func DetectPooler(ctx context.Context, a, b *pgx.Conn, name string) error {
	pid := func(c *pgx.Conn) (int64, error) {
		var p int64
		err := c.QueryRow(ctx, "SELECT pg_backend_pid()", simple).Scan(&p)
		return p, err
	}
	a1, err := pid(a)
	if err != nil {
		return fmt.Errorf("check for a connection pooler: %w", err)
	}
	b1, err := pid(b)
	if err != nil {
		return fmt.Errorf("check for a connection pooler: %w", err)
	}
	a2, err := pid(a)
	if err != nil {
		return fmt.Errorf("check for a connection pooler: %w", err)
	}
	switch {
	case a1 != a2:
		return &PoolerError{Name: name, Reason: fmt.Sprintf("two statements on one client connection ran on server backends %d and %d", a1, a2)}
	case b1 == a1 || b1 == a2:
		return &PoolerError{Name: name, Reason: fmt.Sprintf("two client connections were served by the same server backend %d", b1)}
	}
	return nil
}

// Proxied reports whether c talks to its server through a proxy or pooler:
// the backend pid the server reported at connection start (BackendKeyData)
// is not the backend that runs c's statements. PgBouncer, in any pooling
// mode, makes up the pid it reports. Session pooling is safe for the
// session lock, so this is for logging only.
func Proxied(ctx context.Context, c *pgx.Conn) (bool, error) {
	var p int64
	if err := c.QueryRow(ctx, "SELECT pg_backend_pid()", simple).Scan(&p); err != nil {
		return false, err
	}
	return uint32(p) != c.PgConn().PID(), nil
}
