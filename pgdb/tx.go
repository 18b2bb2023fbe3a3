package pgdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Beginner starts transactions. *pgxpool.Pool and *pgx.Conn satisfy it, and
// so does pgx.Tx, whose Begin makes a savepoint.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// TxOptions tunes InTx. Its zero value runs fn once in a read-write
// transaction at the server's default isolation level (read committed
// unless configured otherwise).
type TxOptions struct {
	// Isolation is the isolation level, e.g. pgx.Serializable. Empty means
	// the server's default.
	Isolation pgx.TxIsoLevel
	// ReadOnly starts a READ ONLY transaction.
	ReadOnly bool
	// Deferrable starts a DEFERRABLE transaction (with Serializable and
	// ReadOnly: it waits for a snapshot that cannot fail).
	Deferrable bool
	// Retries is how many more times fn runs, in a new transaction, after
	// a serialization failure (40001) or a deadlock (40P01). Zero means
	// none: the error is returned.
	Retries int
	// RetryDelay is the first wait between two attempts; it doubles, with
	// jitter, up to one second. Zero means 20ms.
	RetryDelay time.Duration
}

// InTx runs fn in a transaction begun on db: it commits when fn returns
// nil, and rolls back when fn returns an error or panics (the panic goes
// on after the rollback). The error of fn is returned as it is, with
// constraint violations classified (see Classify); errors of the commit
// and the rollback are wrapped.
//
// When db is itself a pgx.Tx (for instance the tx of an outer InTx), fn
// runs in a savepoint of it: an error rolls back to the savepoint and the
// outer transaction goes on, nil releases the savepoint and the work
// commits, or not, with the outer transaction. Isolation, ReadOnly,
// Deferrable and Retries apply to a real transaction only and are ignored
// for a savepoint: a serialization failure aborts the whole outer
// transaction, so only the outermost InTx can retry it.
//
// The ctx given to fn carries tx (see TxFrom), so that code fn calls, such
// as a repository of the repo package, joins the transaction without being
// handed tx.
//
// With Retries set, fn may run more than once: it must not have effects
// outside the transaction that cannot be repeated.
func InTx(ctx context.Context, db Beginner, opts TxOptions, fn func(ctx context.Context, tx pgx.Tx) error) error {
	if _, nested := db.(pgx.Tx); nested || opts.Retries <= 0 {
		return runTx(ctx, db, opts, fn)
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = opts.RetryDelay
	if b.InitialInterval <= 0 {
		b.InitialInterval = 20 * time.Millisecond
	}
	b.MaxInterval = time.Second
	b.MaxElapsedTime = 0
	var err error
	for attempt := 0; ; attempt++ {
		err = runTx(ctx, db, opts, fn)
		if err == nil || attempt >= opts.Retries || !isRetryableTx(err) {
			return err
		}
		t := time.NewTimer(b.NextBackOff())
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: %w", ctx.Err(), err)
		case <-t.C:
		}
	}
}

func isRetryableTx(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

func runTx(ctx context.Context, db Beginner, opts TxOptions, fn func(ctx context.Context, tx pgx.Tx) error) (err error) {
	tx, err := begin(ctx, db, opts)
	if err != nil {
		return wrapErr(ctx, fmt.Errorf("begin: %w", err))
	}
	defer func() {
		if p := recover(); p != nil {
			// The rollback must run even if ctx is what made fn panic.
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
	}()
	if err := fn(WithTx(ctx, tx), tx); err != nil {
		if rbErr := tx.Rollback(context.WithoutCancel(ctx)); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) {
			return errors.Join(wrapErr(ctx, err), fmt.Errorf("rollback: %w", rbErr))
		}
		return wrapErr(ctx, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return wrapErr(ctx, fmt.Errorf("commit: %w", err))
	}
	return nil
}

type optionsBeginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

func begin(ctx context.Context, db Beginner, opts TxOptions) (pgx.Tx, error) {
	if _, nested := db.(pgx.Tx); nested {
		return db.Begin(ctx)
	}
	txOpts := pgx.TxOptions{IsoLevel: opts.Isolation}
	if opts.ReadOnly {
		txOpts.AccessMode = pgx.ReadOnly
	}
	if opts.Deferrable {
		txOpts.DeferrableMode = pgx.Deferrable
	}
	if ob, ok := db.(optionsBeginner); ok {
		return ob.BeginTx(ctx, txOpts)
	}
	if txOpts != (pgx.TxOptions{}) {
		return nil, fmt.Errorf("%T cannot begin a transaction with options", db)
	}
	return db.Begin(ctx)
}

// InTx runs fn in a transaction on the pool; see the package function InTx.
func (d *DB) InTx(ctx context.Context, opts TxOptions, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return InTx(ctx, d.pool, opts, fn)
}

type txKey struct{}

// WithTx returns a context that carries tx, for TxFrom. InTx does it for
// the ctx it gives its function.
func WithTx(ctx context.Context, tx pgx.Tx) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

// TxFrom returns the transaction ctx carries (see WithTx), or nil.
func TxFrom(ctx context.Context) pgx.Tx {
	tx, _ := ctx.Value(txKey{}).(pgx.Tx)
	return tx
}
