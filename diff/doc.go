// Package diff writes the next migration from the schema a project wants:
// given the catalog its migrations build (current) and the catalog of the
// schema as it should be (desired), both read by schema.Inspect, Plan
// returns the statements that turn the first into the second (up) and back
// (down), the list of changes, and the hazards a live database would feel.
// Prove is the whole of pgmig diff: it builds both schemas on scratch
// databases (check.NewScratch), plans, applies the new migration's up and
// down there and compares the schemas after each, lints it, and returns the
// file or files to write, writing nothing itself.
//
// The plan is safe by construction: lock_timeout is set first; an index on
// a table that already exists is built (and dropped) CONCURRENTLY, outside
// a transaction; a unique or primary key constraint on one is added USING
// such an index; a foreign key or check added to an existing table is
// added NOT VALID and validated after; NOT NULL on an existing column goes
// through a validated CHECK (col IS NOT NULL), so that SET NOT NULL skips
// its scan. Changes that lose data are refused (*DestructiveError) unless
// Options.AllowDestructive is set, and a change it cannot write is an
// *UnsupportedError naming it: nothing is left out in silence.
//
//	sql, err := diff.DesiredSQL("schema.sql")
//	...
//	p, err := diff.Prove(ctx, server, os.DirFS("migrations"), sql, diff.ProveOptions{})
//	var de *diff.DestructiveError
//	switch {
//	case errors.As(err, &de):
//		// de.Changes names each refused change
//	case err != nil:
//		return err
//	}
//	for _, f := range p.Files {
//		os.WriteFile(filepath.Join("migrations", f.Name), []byte(f.Text), 0o644)
//	}
//
// Plan is pure and safe for concurrent use; Prove needs a role that may
// create databases.
package diff
