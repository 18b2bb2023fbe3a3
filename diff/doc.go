// Package diff plans the migration between two schemas: given the catalog
// a project's migrations build (current) and the catalog of the schema as
// it should be (desired), both read by schema.Inspect, Plan returns the
// statements that turn the first into the second (up) and back (down), the
// list of changes, and the hazards a live database would feel.
//
// The plan is safe by construction: lock_timeout is set first; an index on
// a table that already exists is built (and dropped) CONCURRENTLY, outside
// a transaction; a foreign key or check added to an existing table is
// added NOT VALID and validated after; NOT NULL on an existing column goes
// through a validated CHECK (col IS NOT NULL), so that SET NOT NULL skips
// its scan. Changes that lose data are refused (*DestructiveError) unless
// Options.AllowDestructive is set, and a change it cannot write is an
// *UnsupportedError naming it: nothing is left out in silence.
//
//	cur, err := schema.Inspect(ctx, currentDB, schema.Options{})
//	...
//	des, err := schema.Inspect(ctx, desiredDB, schema.Options{})
//	...
//	m, err := diff.Plan(cur, des, diff.Options{})
//	if err != nil {
//		return err // *diff.DestructiveError, *diff.UnsupportedError, ...
//	}
//	if !m.Empty() {
//		os.WriteFile("migrations/005_diff.sql", []byte(m.File()), 0o644)
//	}
package diff
