package schema

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Object is one entry of a snapshot: a schema object or one attribute of a
// table (a column, a constraint).
type Object struct {
	// Kind is "schema", "extension", "type", "sequence", "table", "column",
	// "constraint", "index", "trigger", "view", "materialized view",
	// "function", "procedure" or "aggregate".
	Kind string
	// Name is schema-qualified and quoted where SQL needs it:
	// public.users, public.users.email (a column), public.f(integer).
	Name string
	// Def is the definition, normalised; it spans lines for functions and
	// views, and is empty for a schema.
	Def string

	// Where the object sorts: its section (schemas, extensions, types,
	// sequences, tables, views, functions), the relation it belongs to,
	// and its rank within that relation (the table, its columns, its
	// constraints, indexes, triggers).
	section int
	group   string
	rank    int
}

// Key identifies the object within a snapshot: "index public.idx_users_email".
func (o Object) Key() string { return o.Kind + " " + o.Name }

// Lines renders the object: one line, or for a definition that spans
// lines, a header line followed by the definition indented by four spaces.
func (o Object) Lines() []string {
	head := o.Key()
	if o.Def == "" {
		return []string{head}
	}
	if !strings.Contains(o.Def, "\n") {
		return []string{head + " " + o.Def}
	}
	lines := []string{head}
	for _, l := range strings.Split(o.Def, "\n") {
		lines = append(lines, strings.TrimRight("    "+l, " \t"))
	}
	return lines
}

func compareObjects(a, b Object) int {
	return cmp.Or(
		cmp.Compare(a.section, b.section),
		strings.Compare(a.group, b.group),
		cmp.Compare(a.rank, b.rank),
		strings.Compare(a.Name, b.Name),
		strings.Compare(a.Kind, b.Kind),
	)
}

// Snapshot is a database's schema as a sorted list of objects. Two
// databases built by the same SQL have equal snapshots.
type Snapshot struct {
	// Label names the snapshot in the header of a diff; Take leaves it
	// empty, and Diff then writes "a" and "b".
	Label   string
	Objects []Object
}

// Lines renders the snapshot, one line per object (more for functions and
// views), in its sorted order.
func (s *Snapshot) Lines() []string {
	var lines []string
	for _, o := range s.Objects {
		lines = append(lines, o.Lines()...)
	}
	return lines
}

// String is the snapshot as text, each line ending in a newline.
func (s *Snapshot) String() string {
	var b strings.Builder
	for _, l := range s.Lines() {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// Empty reports whether the snapshot holds nothing a user created: no
// object other than extensions and the public schema, which every new
// database has.
func (s *Snapshot) Empty() bool {
	for _, o := range s.Objects {
		switch {
		case o.Kind == "extension":
		case o.Kind == "schema" && o.Name == "public":
		default:
			return false
		}
	}
	return true
}

// Options tunes Take. The zero value snapshots every user schema.
type Options struct {
	// Exclude lists relations to leave out, together with their columns,
	// constraints, indexes, triggers and owned sequences: pgmig's tracking
	// table. Each is read as to_regclass reads it, before the snapshot's
	// own search_path is set, so an unqualified name is found through the
	// connection's search_path and a mixed-case one must be quoted
	// ("Sales"."History"). Names that do not exist are ignored.
	Exclude []string
}

// Beginner starts a transaction: *pgx.Conn, *pgxpool.Pool and pgx.Tx (a
// savepoint) all do.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Take reads the schema of the database behind db. It runs in a
// transaction of its own, rolled back at the end, that fixes the settings
// the catalog functions' output depends on: an empty search_path (so
// every name comes out schema-qualified, whatever the database's
// search_path), DateStyle, IntervalStyle, TimeZone and extra_float_digits
// (for constants in defaults). It changes nothing.
func Take(ctx context.Context, db Beginner, opts Options) (*Snapshot, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	exclude, err := readSetup(ctx, tx, opts.Exclude)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	rows, err := tx.Query(ctx, snapshotSQL, exclude)
	if err != nil {
		return nil, fmt.Errorf("snapshot: read catalogs: %w", err)
	}
	var objs []Object
	for rows.Next() {
		var o Object
		var def *string
		if err := rows.Scan(&o.section, &o.group, &o.rank, &o.Kind, &o.Name, &def); err != nil {
			rows.Close()
			return nil, fmt.Errorf("snapshot: read catalogs: %w", err)
		}
		if def != nil {
			o.Def = normalise(*def)
		}
		if o.group == "" {
			o.group = o.Name
		}
		objs = append(objs, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("snapshot: read catalogs: %w", err)
	}
	// Sort here rather than with ORDER BY: the server would sort by the
	// database's collation, and two databases may have different ones.
	slices.SortFunc(objs, compareObjects)
	return &Snapshot{Objects: objs}, nil
}

// normalise drops trailing blanks from each line, and blanks at the ends:
// pg_get_functiondef ends its output with a newline, pg_get_viewdef begins
// it with a space, and editors leave trailing spaces in function bodies
// that do not matter to a diff.
func normalise(def string) string {
	lines := strings.Split(strings.ReplaceAll(def, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// snapshotSQL reads every object in one statement, so that the snapshot
// is consistent. $1 holds the OIDs of the excluded relations. Objects that
// belong to an extension (pg_depend deptype 'e') are left out: the
// extension's line and version stand for them.
//
// Sections: 0 schemas, 1 extensions, 2 types, 3 sequences, 4 tables (with
// their columns, constraints, indexes and triggers, ranked 0 to 4), 5 views
// and materialized views (with their columns' defaults, indexes and triggers), 6 functions.
const snapshotSQL = `
WITH ext AS (
  SELECT classid, objid FROM pg_depend WHERE deptype = 'e'
),
nsp AS (
  SELECT n.oid, quote_ident(n.nspname) AS q
  FROM pg_namespace n
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND n.nspname !~ '^pg_(toast_)?temp_'
    AND NOT EXISTS (SELECT FROM ext WHERE ext.classid = 'pg_namespace'::regclass AND ext.objid = n.oid)
),
rel AS (
  SELECT c.oid, c.relkind, c.relpersistence, c.relispartition, c.relpartbound, c.reloptions,
         c.relrowsecurity, c.relforcerowsecurity,
         n.q AS nq, n.q || '.' || quote_ident(c.relname) AS q,
         CASE WHEN c.relkind IN ('v', 'm') THEN 5 ELSE 4 END AS section
  FROM pg_class c JOIN nsp n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm')
    AND NOT c.oid::int8 = ANY ($1::int8[])
    AND NOT EXISTS (SELECT FROM ext WHERE ext.classid = 'pg_class'::regclass AND ext.objid = c.oid)
)
SELECT 0, '', 0, 'schema', q, NULL FROM nsp

UNION ALL
SELECT 1, '', 0, 'extension', quote_ident(e.extname),
       'version ' || e.extversion || ' schema ' || quote_ident(n.nspname)
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace

UNION ALL
SELECT 2, '', 0, 'type', n.q || '.' || quote_ident(t.typname),
  CASE t.typtype
  WHEN 'e' THEN 'enum (' || coalesce((SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                      FROM pg_enum e WHERE e.enumtypid = t.oid), '') || ')'
  WHEN 'd' THEN concat_ws(' ', 'domain ' || format_type(t.typbasetype, t.typtypmod),
    CASE WHEN t.typcollation <> 0 AND t.typcollation <> (SELECT bt.typcollation FROM pg_type bt WHERE bt.oid = t.typbasetype)
         THEN 'collate ' || (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                             FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation) END,
    CASE WHEN t.typnotnull THEN 'not null' END,
    'default ' || pg_get_expr(t.typdefaultbin, 0),
    (SELECT string_agg('constraint ' || quote_ident(co.conname) || ' ' || pg_get_constraintdef(co.oid), ' ' ORDER BY co.conname)
     FROM pg_constraint co WHERE co.contypid = t.oid AND co.contype <> 'n'))
  WHEN 'c' THEN 'composite (' || coalesce((SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                                           FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'
  WHEN 'r' THEN 'range (subtype ' || (SELECT format_type(rg.rngsubtype, NULL) FROM pg_range rg WHERE rg.rngtypid = t.oid) || ')'
  END
FROM pg_type t JOIN nsp n ON n.oid = t.typnamespace
WHERE t.typtype IN ('e', 'd', 'c', 'r')
  AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
  AND NOT EXISTS (SELECT FROM ext WHERE ext.classid = 'pg_type'::regclass AND ext.objid = t.oid)

UNION ALL
SELECT 3, '', 0, 'sequence', n.q || '.' || quote_ident(c.relname),
  concat_ws(' ',
    CASE WHEN c.relpersistence = 'u' THEN 'unlogged' END,
    format_type(s.seqtypid, NULL),
    'increment by ' || s.seqincrement, 'minvalue ' || s.seqmin, 'maxvalue ' || s.seqmax,
    'start with ' || s.seqstart, 'cache ' || s.seqcache,
    CASE WHEN s.seqcycle THEN 'cycle' ELSE 'no cycle' END,
    'owned by ' || (SELECT d.refobjid::regclass::text || '.' || quote_ident(a.attname)
                    FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
                      AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
                    LIMIT 1))
FROM pg_class c JOIN nsp n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid
WHERE c.relkind = 'S'
  AND NOT c.oid::int8 = ANY ($1::int8[])
  AND NOT EXISTS (SELECT FROM ext WHERE ext.classid = 'pg_class'::regclass AND ext.objid = c.oid)
  AND NOT EXISTS (SELECT FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
                    AND d.deptype IN ('a', 'i') AND d.refobjid::int8 = ANY ($1::int8[]))

UNION ALL
SELECT r.section, r.q, 0, 'table', r.q,
  concat_ws(' ',
    '(' || coalesce((SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                     FROM pg_attribute a WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')',
    CASE r.relkind WHEN 'p' THEN 'partitioned' WHEN 'f' THEN 'foreign' END,
    CASE WHEN r.relpersistence = 'u' THEN 'unlogged' END,
    CASE WHEN r.relkind = 'p' THEN 'partition by ' || pg_get_partkeydef(r.oid) END,
    CASE WHEN r.relispartition
         THEN 'partition of ' || (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = r.oid LIMIT 1)
              || ' ' || pg_get_expr(r.relpartbound, r.oid)
         ELSE 'inherits (' || (SELECT string_agg(i.inhparent::regclass::text, ', ' ORDER BY i.inhseqno)
                               FROM pg_inherits i WHERE i.inhrelid = r.oid) || ')' END,
    'with (' || array_to_string(r.reloptions, ', ') || ')',
    CASE WHEN r.relrowsecurity THEN 'row level security' END,
    CASE WHEN r.relforcerowsecurity THEN 'force row level security' END)
FROM rel r WHERE r.relkind IN ('r', 'p', 'f')

UNION ALL
SELECT r.section, r.q, 1, 'column', r.q || '.' || quote_ident(a.attname),
  concat_ws(' ',
    format_type(a.atttypid, a.atttypmod),
    CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
         THEN 'collate ' || (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                             FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END,
    CASE WHEN a.attnotnull THEN 'not null' END,
    CASE a.attidentity WHEN 'a' THEN 'generated always as identity' WHEN 'd' THEN 'generated by default as identity' END,
    CASE WHEN a.attgenerated = 's' THEN 'generated always as (' || pg_get_expr(d.adbin, d.adrelid) || ') stored'
         WHEN a.attgenerated = 'v' THEN 'generated always as (' || pg_get_expr(d.adbin, d.adrelid) || ') virtual'
         ELSE 'default ' || pg_get_expr(d.adbin, d.adrelid) END)
FROM rel r
JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE r.relkind IN ('r', 'p', 'f')

UNION ALL
-- NOT NULL constraints (contype 'n', PostgreSQL 18) are the columns' "not null".
SELECT r.section, r.q, 2, 'constraint', r.q || '.' || quote_ident(co.conname), pg_get_constraintdef(co.oid)
FROM rel r JOIN pg_constraint co ON co.conrelid = r.oid
WHERE co.contype <> 'n'

UNION ALL
-- An index that implements a primary key, unique or exclusion constraint
-- is the constraint's line.
SELECT r.section, r.q, 3, 'index', r.nq || '.' || quote_ident(ic.relname),
  pg_get_indexdef(i.indexrelid)
  || CASE WHEN NOT i.indisvalid THEN ' INVALID' ELSE '' END
  || CASE WHEN i.indisclustered THEN ' CLUSTER' ELSE '' END
FROM rel r
JOIN pg_index i ON i.indrelid = r.oid
JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE NOT EXISTS (SELECT FROM pg_constraint co
                  WHERE co.conindid = i.indexrelid AND co.conrelid = r.oid AND co.contype IN ('p', 'u', 'x'))

UNION ALL
SELECT r.section, r.q, 4, 'trigger', r.q || '.' || quote_ident(tg.tgname),
  pg_get_triggerdef(tg.oid)
  || CASE tg.tgenabled WHEN 'D' THEN ' (disabled)' WHEN 'R' THEN ' (enabled on replica only)' WHEN 'A' THEN ' (enabled always)' ELSE '' END
FROM rel r JOIN pg_trigger tg ON tg.tgrelid = r.oid
WHERE NOT tg.tgisinternal

UNION ALL
-- A view's column has a line only when it has a default (ALTER VIEW …
-- ALTER COLUMN … SET DEFAULT): its type and name are the view's query's.
SELECT r.section, r.q, 1, 'column', r.q || '.' || quote_ident(a.attname), 'default ' || pg_get_expr(d.adbin, d.adrelid)
FROM rel r
JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE r.relkind = 'v'

UNION ALL
SELECT r.section, r.q, 0, CASE r.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END, r.q,
  concat_ws(E'\n', 'with (' || array_to_string(r.reloptions, ', ') || ')', pg_get_viewdef(r.oid, true))
FROM rel r WHERE r.relkind IN ('v', 'm')

UNION ALL
SELECT 6, '', 0, CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
  n.q || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')',
  CASE WHEN p.prokind = 'a'
       THEN (SELECT concat_ws(' ', 'sfunc ' || ag.aggtransfn::regproc::text, 'stype ' || format_type(ag.aggtranstype, NULL),
                              'finalfunc ' || nullif(ag.aggfinalfn, 0)::regproc::text, 'initcond ' || ag.agginitval)
             FROM pg_aggregate ag WHERE ag.aggfnoid = p.oid)
       ELSE pg_get_functiondef(p.oid) END
FROM pg_proc p JOIN nsp n ON n.oid = p.pronamespace
WHERE NOT EXISTS (SELECT FROM ext WHERE ext.classid = 'pg_proc'::regclass AND ext.objid = p.oid)
`

// readSetup prepares a read-only transaction for reading the catalogs the
// same way whoever reads them: the relations named in exclude resolved to
// their OIDs, and the settings that pg_get_*def and value output depend on
// fixed, so that two servers' texts compare equal.
func readSetup(ctx context.Context, tx pgx.Tx, exclude []string) ([]int64, error) {
	oids := []int64{}
	if len(exclude) > 0 {
		err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(r::oid::int8), '{}') FROM unnest($1::text[]) x, to_regclass(x) r WHERE r IS NOT NULL`,
			exclude).Scan(&oids)
		if err != nil {
			return nil, fmt.Errorf("resolve excluded relations: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `SET LOCAL search_path = pg_catalog;
SET LOCAL DateStyle = 'ISO, YMD';
SET LOCAL IntervalStyle = 'postgres';
SET LOCAL TimeZone = 'UTC';
SET LOCAL extra_float_digits = 1;
SET LOCAL bytea_output = 'hex'`); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	return oids, nil
}
