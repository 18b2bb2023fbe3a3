// Package lock takes the lock that serialises pgmig runs against one
// database and tracking table, behind one interface, Locker, with two
// implementations:
//
//   - NewSession: a session-level advisory lock on a connection of its
//     own, so it goes away when the process ends, however it ends;
//   - NewLease: a row in a lease table, renewed while held and taken over
//     once expired, for connection poolers in transaction mode, where a
//     session lock cannot work.
//
// Both wait with the same loop: they poll with backoff instead of sitting
// in a blocking call (a blocked pg_advisory_lock waiter holds a snapshot
// that CREATE INDEX CONCURRENTLY in the holder's migration would wait for,
// a deadlock PostgreSQL cannot detect), up to Options.Timeout, and report
// a *TimeoutError naming the holder.
//
//	held, err := lock.NewSession(conn, work, "public.pgmig_migrations", lock.Options{Timeout: time.Minute}).Lock(ctx)
//	if err != nil {
//		var te *lock.TimeoutError
//		if errors.As(err, &te) && te.Holder != nil {
//			log.Printf("held by pid %d", te.Holder.PID)
//		}
//		return err
//	}
//	defer held.Release(context.Background())
//	if err := held.Check(ctx); errors.Is(err, lock.ErrLost) {
//		// another run may be migrating: stop
//	}
//
// Held.Probe is Check in two halves, for a check before each commit that
// costs no round trip of its own: send it, run the work's query, then read
// the answer.
//
//	answer := held.Probe(ctx)
//	_, err := work.Exec(ctx, query)
//	if lerr := answer(); lerr != nil {
//		// roll back: the lock is gone
//	}
package lock
