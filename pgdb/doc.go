// Package pgdb opens and checks a PostgreSQL connection pool, and gives the
// small helpers most data-access code needs on top of pgx: typed queries
// (mapped by the db tag rule of Field, which the repo package follows
// too), transactions with rollback on error or panic and optional retries
// (the transaction travels in ctx, see TxFrom), constraint violations and
// rejected values as typed errors (*ConstraintError, *DataError matching
// ErrInvalidInput), and query logging with log/slog.
//
// It imports nothing from the rest of pgmig; the pgmig CLI uses Open,
// Redact and Check itself.
//
//	db, err := pgdb.Open(ctx, os.Getenv("DATABASE_URL"), pgdb.Config{
//		ApplicationName: "billing", // empty sets none
//		ConnectTimeout:  time.Minute, // zero means 30s
//		Logger:          logger,      // nil discards the query log
//	})
//	if err != nil {
//		return err // its text never shows the password
//	}
//	defer db.Close()
//
//	err = pgdb.InTx(ctx, db.Pool(), pgdb.TxOptions{Isolation: pgx.Serializable, Retries: 3},
//		func(ctx context.Context, tx pgx.Tx) error {
//			u, err := pgdb.QueryOne[User](ctx, tx, "SELECT id, email FROM users WHERE id = $1", id)
//			if err != nil {
//				return err // errors.Is(err, pgdb.ErrNotFound) when there is no such row
//			}
//			_, err = tx.Exec(ctx, "UPDATE users SET email = $1 WHERE id = $2", email, u.ID)
//			return pgdb.Classify(err) // errors.Is(err, pgdb.ErrUniqueViolation) on a duplicate
//		})
//
//	http.Handle("/healthz", pgdb.HealthHandler(db.Pool(), pgdb.HealthOptions{})) // status only
package pgdb
