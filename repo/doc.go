// Package repo is a generic repository base for PostgreSQL tables, on pgx,
// with typed models and ready repositories for pgmig's four core tables
// (users, user_security, audit_log, user_sessions).
//
// A Base[T] is configured once with the table, the primary key and the
// entity's `db:"column"` tags; New works out the column mapping and every
// fixed statement then, so calls build no SQL by reflection. It runs on a
// *pgxpool.Pool, a *pgx.Conn or a pgx.Tx (DBTX), and gives:
//
//   - Create (RETURNING the generated columns into the struct), Get,
//     Update (all columns), Patch (some, by name), Delete, HardDelete;
//   - soft delete on a timestamp column: Delete sets it, reads skip such
//     rows unless IncludeDeleted, Restore clears it;
//   - List (offset pages, with a total unless SkipCount) and ListKeyset
//     (signed cursors, NULLS FIRST/LAST on nullable columns), with filters
//     and sorts only on the columns tagged filter and sort: anything else,
//     and any value that does not suit its column's type, is an error
//     matching ErrInvalidQuery (400 in a service), never SQL;
//   - an audit trail: with Config.Audit, each change writes an audit_log
//     row (action, JSON diff with secrets masked, actor from WithActor) in
//     the change's transaction, so one never commits without the other.
//
// Errors: ErrNotFound (also pgdb.ErrNotFound) for a missing row; constraint
// violations as *pgdb.ConstraintError (errors.Is pgdb.ErrUniqueViolation);
// a client's bad filter, key or value, and the server's data exceptions,
// match ErrInvalidQuery (which is pgdb.ErrInvalidInput); a cancelled
// context matches context.Canceled.
//
//	users := repo.NewUsers(pool, repo.Options{Audit: true, CursorKey: key})
//	ctx = repo.WithActor(ctx, repo.Actor{UserID: adminID, IP: ip, UserAgent: ua})
//	u := repo.User{Email: "ada@example.com", Username: "ada", PasswordHash: hash}
//	if err := users.Create(ctx, &u); errors.Is(err, pgdb.ErrUniqueViolation) {
//		// taken
//	}
//	page, err := users.List(ctx, repo.ListOptions{
//		Filters: []repo.Filter{{Field: "status", Op: repo.Eq, Value: "active"}},
//		Sort:    []repo.Sort{{Field: "created_at", Desc: true}},
//		Limit:   20,
//	})
//
// Inside pgdb.InTx a repository joins the transaction through ctx, with
// every method of a type that embeds *Base (FindByEmail here):
//
//	err = pgdb.InTx(ctx, pool, pgdb.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
//		u, err := users.FindByEmail(ctx, email)
//		if err != nil {
//			return err
//		}
//		return users.Delete(ctx, u.ID)
//	})
package repo
