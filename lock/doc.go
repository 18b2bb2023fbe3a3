// Package lock takes the session-level advisory lock that serialises pgmig
// runs against one database and tracking table.
//
// The lock lives on a connection of its own, so it goes away when the
// process ends, however it ends. A waiter polls pg_try_advisory_lock with
// backoff instead of sitting in a blocking pg_advisory_lock call: a blocked
// waiter holds a snapshot that CREATE INDEX CONCURRENTLY in the holder's
// migration would wait for, a deadlock PostgreSQL cannot detect.
//
//	l, err := lock.Acquire(ctx, conn, "public.pgmig_migrations", lock.Options{Timeout: time.Minute})
//	if err != nil {
//		var te *lock.TimeoutError
//		if errors.As(err, &te) {
//			log.Printf("held by pid %d", te.Holder.PID)
//		}
//		return err
//	}
//	defer l.Release(context.Background())
package lock
