// Package schema takes a normalised, deterministic text snapshot of a
// PostgreSQL database's schema from the system catalogs, and diffs two
// snapshots. pgmig verify compares the schema before a migration's up with
// the schema after its down; pgmig drift compares a live database with one
// built from the same migrations.
//
// A snapshot holds one entry per object (schema, extension, type, sequence,
// table, column, constraint, index, trigger, view, materialized view,
// function), sorted, with its definition as PostgreSQL itself prints it
// (format_type, pg_get_expr, pg_get_constraintdef, pg_get_indexdef,
// pg_get_viewdef, pg_get_functiondef, pg_get_triggerdef), every name
// schema-qualified. It leaves out what differs between two databases built
// from the same SQL: OIDs, owners and privileges (roles differ between
// servers), sequences' current values, data, and the database's own name.
// Objects that belong to an extension are covered by the extension's line.
//
//	before, err := schema.Snapshot(ctx, conn, schema.Options{
//		Exclude: []string{"public.pgmig_migrations"},
//	})
//	...
//	after, err := schema.Snapshot(ctx, conn, schema.Options{...})
//	if diff, objects := schema.Diff(before, after); len(objects) > 0 {
//		fmt.Print(diff) // a unified diff of the two snapshots
//	}
//
// Inspect reads the same catalogs into a Catalog of structured items (a
// column's type, default and identity; a constraint's kind and validity;
// each object's pg_depend dependencies, comments and privileges): what
// package diff needs to plan the statements that turn one schema into
// another. Snapshot is for comparing; Catalog is for planning.
//
// The package imports nothing else from pgmig.
package schema
