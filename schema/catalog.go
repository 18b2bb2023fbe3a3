package schema

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Catalog is a database's schema as structured objects, each with what a
// planner needs to create, change or drop it and with the objects it
// depends on. Take's Snapshot is for comparing two schemas as text;
// Catalog is for turning one into the other.
//
// Like Snapshot it leaves out what belongs to extensions, and the
// relations Options.Exclude names. Unlike Snapshot it keeps privileges
// (grants are part of a schema a migration writes) and comments.
type Catalog struct {
	// Items maps Item.Key() to the item.
	Items map[string]*Item
	// User is the role that inspected the database (quoted where SQL
	// needs it): what a migration creates is owned by whoever runs it,
	// so an owner other than this one must be set.
	User string
	// Server is the server_version_num of the server inspected (150004):
	// what a migration may write depends on it (a NOT VALID foreign key
	// on a partitioned table needs 18). Zero when unknown.
	Server int
}

// Sorted returns the items in key order.
func (c *Catalog) Sorted() []*Item {
	out := make([]*Item, 0, len(c.Items))
	for _, it := range c.Items {
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b *Item) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

// Item is one object of a catalog. Which fields are set depends on Kind;
// names are quoted where SQL needs it and schema-qualified.
type Item struct {
	// Kind is "schema", "extension", "type", "sequence", "table",
	// "column", "constraint", "index", "view", "materialized view",
	// "function", "procedure", "aggregate", "trigger" or "policy".
	Kind string
	// Name is the qualified name: public.t, public.t.c (a column, a
	// constraint, a trigger, a policy), public.f(integer).
	Name string
	// Table is the relation a column, constraint, index, trigger or
	// policy belongs to; Local is the object's own name within it.
	Table, Local string
	// Schema is the object's schema; for a schema, its own name.
	Schema string
	// Def is the object's definition as PostgreSQL prints it: the
	// constraint (pg_get_constraintdef), index (pg_get_indexdef), view
	// query (pg_get_viewdef), function (pg_get_functiondef), trigger
	// (pg_get_triggerdef), sequence options, extension version.
	Def string
	// Deps are the keys of the items this one depends on (pg_depend),
	// sorted.
	Deps []string
	// Comment is the object's comment; nil when it has none.
	Comment *string
	// ACL is the object's privileges, one "grantee privilege" or
	// "grantee privilege grant" (with grant option) per entry, sorted;
	// the owner's default privileges included, so that an object never
	// granted anything and one granted and revoked again compare equal.
	ACL []string
	// DefaultACL is what ACL is for a new object of this kind and owner.
	DefaultACL []string
	// Owner is the owning role (quoted where SQL needs it) of a schema,
	// type, sequence, table, view, materialized view or function; empty
	// for what has none of its own.
	Owner string

	// Type: TypeKind is 'e' enum, 'd' domain, 'c' composite, 'r' range.
	TypeKind byte
	// Values are an enum's labels in their sort order.
	Values []string
	// Attrs are a composite type's attributes ("name type [COLLATE c]").
	Attrs []string
	// BaseType, Collation, NotNull and Default describe a domain too; its
	// CHECK constraints are in Checks ("name def").
	BaseType string
	Checks   []string

	// Column (and domain).
	Type      string // format_type
	Collation string // qualified; empty when the type's default
	NotNull   bool
	Default   string // pg_get_expr of the default (a view column's too); empty when none
	Identity  string // "always", "by default" or ""
	// IdentitySeq are the identity sequence's options (SEQUENCE NAME ...).
	IdentitySeq string
	Generated   string // the generation expression, or ""
	Num         int    // attnum: a table's columns sort by it
	// Virtual is set on a generated column computed when read (VIRTUAL,
	// PostgreSQL 18) rather than stored.
	Virtual bool
	// Storage, Compression, Statistics and ColOptions are a column's
	// ALTER COLUMN SET settings, empty (Statistics -1) when not set;
	// TypStorage is its type's default storage.
	Storage, TypStorage, Compression string
	Statistics                       int
	ColOptions                       string
	// Inherited is set on a partition's column, constraint, index or
	// trigger that comes from its parent: it is created with the parent's
	// and never on its own.
	Inherited bool

	// Constraint: ConType is p, u, c, f or x; Validated is false for a
	// NOT VALID constraint; IndexDef is the index of a p, u or x one.
	ConType   byte
	Validated bool
	IndexDef  string

	// Table.
	PartitionBy    string // "RANGE (a)" for a partitioned table
	PartitionOf    string // the parent of a partition
	PartitionBound string // "FOR VALUES ..." of a partition
	Unlogged       bool
	Options        string // reloptions, "fillfactor=70, ..."
	RowSecurity    bool
	ForceRLS       bool
	// ReplicaIdentity is "", "FULL", "NOTHING" or "USING INDEX name".
	ReplicaIdentity string
	// Clustered is set on the index (or the constraint whose index) a
	// table is CLUSTERed on.
	Clustered bool
	// Unsupported names what the planner cannot express about the
	// object (a foreign table, inheritance), for it to say so.
	Unsupported string

	// Sequence: OwnedBy is the column that owns it ("public.t.id").
	OwnedBy string

	// View and materialized view: Query is pg_get_viewdef without the
	// final semicolon; Populated is false for WITH NO DATA.
	Query     string
	Populated bool

	// Function: Args are the identity arguments, Result the result type.
	Args, Result string

	// Trigger: Enabled is pg_trigger.tgenabled (O, D, R, A).
	Enabled byte

	// Policy: its parts as CREATE POLICY takes them.
	Permissive bool
	Command    string // ALL, SELECT, INSERT, UPDATE, DELETE
	Roles      []string
	Using      string
	WithCheck  string
}

// Key identifies the item within a catalog: "column public.t.c".
func (it *Item) Key() string { return it.Kind + " " + it.Name }

// Inspect reads the catalog of the database behind db, in a read-only
// transaction of its own (repeatable read, so every query sees the same
// schema) with the settings Take fixes. It changes nothing.
func Inspect(ctx context.Context, db Beginner, opts Options) (*Catalog, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`); err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	exclude, err := readSetup(ctx, tx, opts.Exclude)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	in := &inspector{tx: tx, exclude: exclude, cat: &Catalog{Items: map[string]*Item{}}, ids: map[objID]string{}}
	if err := tx.QueryRow(ctx, "SELECT quote_ident(current_user)").Scan(&in.cat.User); err != nil {
		return nil, fmt.Errorf("inspect: current user: %w", err)
	}
	if err := tx.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&in.server); err != nil {
		return nil, fmt.Errorf("inspect: server version: %w", err)
	}
	if in.sql, err = sqlFor(in.server); err != nil {
		return nil, err
	}
	in.cat.Server = in.server
	for _, step := range []struct {
		what string
		run  func(context.Context) error
	}{
		{"schemas", in.schemas},
		{"extensions", in.extensions},
		{"types", in.types},
		{"sequences", in.sequences},
		{"tables", in.tables},
		{"columns", in.columns},
		{"constraints", in.constraints},
		{"indexes", in.indexes},
		{"views", in.views},
		{"functions", in.functions},
		{"triggers", in.triggers},
		{"policies", in.policies},
		{"other objects", in.others},
		{"aliases", in.aliases},
		{"dependencies", in.depends},
	} {
		if err := step.run(ctx); err != nil {
			return nil, fmt.Errorf("inspect %s: %w", step.what, err)
		}
	}
	return in.cat, nil
}

// objID is a pg_depend address: catalog, object, sub-object (a column).
type objID struct {
	class string
	oid   uint32
	sub   int32
}

type inspector struct {
	tx      pgx.Tx
	exclude []int64
	cat     *Catalog
	ids     map[objID]string // pg_depend address -> item key
	server  int              // server_version_num
	sql     versionSQL       // the query parts that differ by major
}

func (in *inspector) add(it *Item, class string, oid uint32, sub int32) {
	slices.Sort(it.ACL)
	slices.Sort(it.DefaultACL)
	in.cat.Items[it.Key()] = it
	in.ids[objID{class, oid, sub}] = it.Key()
}

// The filters every query shares: user schemas, and objects that are not
// an extension's members.
const (
	userSchema = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_namespace'::regclass AND e.objid = n.oid AND e.deptype = 'e')`
	notMember = `NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = '%s'::regclass AND e.objid = %s AND e.deptype = 'e')`
)

func member(class, oid string) string { return fmt.Sprintf(notMember, class, oid) }

// aclSQL is the privileges of an object as text entries, the owner's
// defaults filled in where the ACL is NULL.
func aclSQL(acl, kind, owner string) string {
	return fmt.Sprintf(`(SELECT coalesce(array_agg(coalesce(quote_ident(r.rolname), 'PUBLIC') || ' ' || a.privilege_type || CASE WHEN a.is_grantable THEN ' grant' ELSE '' END), '{}')
   FROM aclexplode(coalesce(%s, acldefault('%s', %s))) a LEFT JOIN pg_roles r ON r.oid = a.grantee)`, acl, kind, owner)
}

func storageSQL(col string) string {
	return `CASE ` + col + ` WHEN 'p' THEN 'PLAIN' WHEN 'e' THEN 'EXTERNAL' WHEN 'm' THEN 'MAIN' ELSE 'EXTENDED' END`
}

const collationSQL = `(SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = %s)`

func (in *inspector) schemas(ctx context.Context) error {
	rows, err := in.tx.Query(ctx, `SELECT n.oid, quote_ident(n.nspname), obj_description(n.oid, 'pg_namespace'), `+aclSQL("n.nspacl", "n", "n.nspowner")+`, `+aclSQL("NULL::aclitem[]", "n", "n.nspowner")+`, quote_ident(pg_get_userbyid(n.nspowner))
FROM pg_namespace n WHERE `+userSchema)
	if err != nil {
		return err
	}
	return scanEach(rows, func(r pgx.Rows) error {
		var oid uint32
		it := &Item{Kind: "schema"}
		if err := r.Scan(&oid, &it.Name, &it.Comment, &it.ACL, &it.DefaultACL, &it.Owner); err != nil {
			return err
		}
		it.Schema = it.Name
		in.add(it, "pg_namespace", oid, 0)
		return nil
	})
}

func (in *inspector) extensions(ctx context.Context) error {
	rows, err := in.tx.Query(ctx, `SELECT x.oid, quote_ident(x.extname), x.extversion, quote_ident(n.nspname), obj_description(x.oid, 'pg_extension')
FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace`)
	if err != nil {
		return err
	}
	return scanEach(rows, func(r pgx.Rows) error {
		var oid uint32
		it := &Item{Kind: "extension"}
		if err := r.Scan(&oid, &it.Name, &it.Def, &it.Schema, &it.Comment); err != nil {
			return err
		}
		in.add(it, "pg_extension", oid, 0)
		return nil
	})
}

func (in *inspector) types(ctx context.Context) error {
	rows, err := in.tx.Query(ctx, `SELECT t.oid, t.typtype::text, quote_ident(n.nspname), quote_ident(n.nspname) || '.' || quote_ident(t.typname),
  obj_description(t.oid, 'pg_type'), `+aclSQL("t.typacl", "T", "t.typowner")+`, `+aclSQL("NULL::aclitem[]", "T", "t.typowner")+`, quote_ident(pg_get_userbyid(t.typowner)),
  coalesce((SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '{}'),
  coalesce((SELECT array_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
       || coalesce(' COLLATE ' || CASE WHEN a.attcollation <> 0 AND a.attcollation <> at.typcollation THEN `+fmt.Sprintf(collationSQL, "a.attcollation")+` END, '')
       ORDER BY a.attnum)
     FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '{}'),
  CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) ELSE '' END,
  coalesce(CASE WHEN t.typtype = 'd' AND t.typcollation <> 0 AND t.typcollation <> (SELECT bt.typcollation FROM pg_type bt WHERE bt.oid = t.typbasetype) THEN `+fmt.Sprintf(collationSQL, "t.typcollation")+` END, ''),
  t.typnotnull, coalesce(pg_get_expr(t.typdefaultbin, 0), ''),
  coalesce((SELECT array_agg(quote_ident(co.conname) || ' ' || pg_get_constraintdef(co.oid) ORDER BY co.conname)
     FROM pg_constraint co WHERE co.contypid = t.oid AND co.contype = 'c'), '{}'),
  coalesce((SELECT 'SUBTYPE = ' || format_type(rg.rngsubtype, NULL)
       || CASE WHEN rg.rngsubdiff <> 0 THEN ', SUBTYPE_DIFF = ' || rg.rngsubdiff::regproc::text ELSE '' END
     FROM pg_range rg WHERE rg.rngtypid = t.oid), ''),
  coalesce((SELECT c.relkind::text FROM pg_class c WHERE c.oid = t.typrelid), '')
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype IN ('e', 'd', 'c', 'r') AND `+userSchema+` AND `+member("pg_type", "t.oid"))
	if err != nil {
		return err
	}
	return scanEach(rows, func(r pgx.Rows) error {
		var oid uint32
		var kind, relkind string
		it := &Item{Kind: "type"}
		if err := r.Scan(&oid, &kind, &it.Schema, &it.Name, &it.Comment, &it.ACL, &it.DefaultACL, &it.Owner, &it.Values, &it.Attrs,
			&it.BaseType, &it.Collation, &it.NotNull, &it.Default, &it.Checks, &it.Def, &relkind); err != nil {
			return err
		}
		if kind == "c" && relkind != "c" {
			return nil // a table's or view's row type
		}
		it.TypeKind = kind[0]
		in.add(it, "pg_type", oid, 0)
		return nil
	})
}

func (in *inspector) sequences(ctx context.Context) error {
	rows, err := in.tx.Query(ctx, `SELECT c.oid, quote_ident(n.nspname), quote_ident(n.nspname) || '.' || quote_ident(c.relname),
  obj_description(c.oid, 'pg_class'), `+aclSQL("c.relacl", "s", "c.relowner")+`, `+aclSQL("NULL::aclitem[]", "s", "c.relowner")+`, quote_ident(pg_get_userbyid(c.relowner)), c.relpersistence = 'u',
  concat_ws(' ', 'AS ' || format_type(s.seqtypid, NULL), 'INCREMENT BY ' || s.seqincrement, 'MINVALUE ' || s.seqmin, 'MAXVALUE ' || s.seqmax,
    'START WITH ' || s.seqstart, 'CACHE ' || s.seqcache, CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END),
  coalesce((SELECT quote_ident(tn.nspname) || '.' || quote_ident(tc.relname) || '.' || quote_ident(a.attname)
     FROM pg_depend d JOIN pg_class tc ON tc.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
     JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype = 'a'
     LIMIT 1), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid
WHERE c.relkind = 'S' AND `+userSchema+` AND `+member("pg_class", "c.oid")+`
  AND NOT c.oid::int8 = ANY ($1::int8[])
  -- identity sequences are their column's; those of excluded tables go with them
  AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
                  AND (d.deptype = 'i' OR d.deptype = 'a' AND d.refobjid::int8 = ANY ($1::int8[])))`, in.exclude)
	if err != nil {
		return err
	}
	return scanEach(rows, func(r pgx.Rows) error {
		var oid uint32
		it := &Item{Kind: "sequence"}
		if err := r.Scan(&oid, &it.Schema, &it.Name, &it.Comment, &it.ACL, &it.DefaultACL, &it.Owner, &it.Unlogged, &it.Def, &it.OwnedBy); err != nil {
			return err
		}
		in.add(it, "pg_class", oid, 0)
		return nil
	})
}

// relFilter selects the relations of the given kinds that the catalog
// holds.
func relFilter(kinds string) string {
	return `c.relkind IN (` + kinds + `) AND ` + userSchema + ` AND ` + member("pg_class", "c.oid") + ` AND NOT c.oid::int8 = ANY ($1::int8[])`
}

func (in *inspector) tables(ctx context.Context) error {
	rows, err := in.tx.Query(ctx, `SELECT c.oid, quote_ident(n.nspname), quote_ident(n.nspname) || '.' || quote_ident(c.relname),
  obj_description(c.oid, 'pg_class'), `+aclSQL("c.relacl", "r", "c.relowner")+`, `+aclSQL("NULL::aclitem[]", "r", "c.relowner")+`, quote_ident(pg_get_userbyid(c.relowner)), c.relpersistence = 'u',
  coalesce(array_to_string(c.reloptions, ', '), ''), c.relrowsecurity, c.relforcerowsecurity,
  CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) ELSE '' END,
  CASE WHEN c.relispartition THEN (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid) ELSE '' END,
  CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) ELSE '' END,
  CASE WHEN c.relkind = 'f' THEN 'a foreign table'
       WHEN c.reloftype <> 0 THEN 'a typed table (OF type)'
       WHEN NOT c.relispartition AND EXISTS (SELECT FROM pg_inherits i WHERE i.inhrelid = c.oid) THEN 'table inheritance (INHERITS)'
       WHEN c.relam <> 0 AND (SELECT amname FROM pg_am WHERE oid = c.relam) <> 'heap' THEN 'a table access method other than heap'
       ELSE '' END,
  CASE c.relreplident WHEN 'f' THEN 'FULL' WHEN 'n' THEN 'NOTHING'
       WHEN 'i' THEN 'USING INDEX ' || coalesce((SELECT quote_ident(ic.relname) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                                                 WHERE i.indrelid = c.oid AND i.indisreplident), '')
       ELSE '' END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE `+relFilter(`'r', 'p', 'f'`), in.exclude)
	if err != nil {
		return err
	}
	return scanEach(rows, func(r pgx.Rows) error {
		var oid uint32
		it := &Item{Kind: "table"}
		if err := r.Scan(&oid, &it.Schema, &it.Name, &it.Comment, &it.ACL, &it.DefaultACL, &it.Owner, &it.Unlogged, &it.Options, &it.RowSecurity, &it.ForceRLS,
			&it.PartitionBy, &it.PartitionOf, &it.PartitionBound, &it.Unsupported, &it.ReplicaIdentity); err != nil {
			return err
		}
		in.add(it, "pg_class", oid, 0)
		return nil
	})
}

func (in *inspector) columns(ctx context.Context) error {
	rows, err := in.tx.Query(ctx, `SELECT c.oid, a.attnum, quote_ident(n.nspname) || '.' || quote_ident(c.relname), quote_ident(a.attname),
  col_description(c.oid, a.attnum), coalesce((SELECT array_agg(coalesce(quote_ident(r.rolname), 'PUBLIC') || ' ' || x.privilege_type || CASE WHEN x.is_grantable THEN ' grant' ELSE '' END)
     FROM aclexplode(a.attacl) x LEFT JOIN pg_roles r ON r.oid = x.grantee), '{}'),
  format_type(a.atttypid, a.atttypmod),
  coalesce(CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN `+fmt.Sprintf(collationSQL, "a.attcollation")+` END, ''),
  a.attnotnull, CASE WHEN a.attgenerated = '' THEN coalesce(pg_get_expr(d.adbin, d.adrelid), '') ELSE '' END,
  CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' ELSE '' END,
  coalesce((SELECT concat_ws(' ', 'SEQUENCE NAME ' || quote_ident(sn.nspname) || '.' || quote_ident(sc.relname),
       'START WITH ' || s.seqstart, 'INCREMENT BY ' || s.seqincrement, 'MINVALUE ' || s.seqmin, 'MAXVALUE ' || s.seqmax, 'CACHE ' || s.seqcache,
       CASE WHEN s.seqcycle THEN 'CYCLE' END)
     FROM pg_depend dd JOIN pg_class sc ON sc.oid = dd.objid JOIN pg_namespace sn ON sn.oid = sc.relnamespace JOIN pg_sequence s ON s.seqrelid = sc.oid
     WHERE a.attidentity <> '' AND dd.classid = 'pg_class'::regclass AND dd.refclassid = 'pg_class'::regclass AND dd.refobjid = c.oid
       AND dd.refobjsubid = a.attnum AND dd.deptype = 'i' LIMIT 1), ''),
  CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) ELSE '' END, a.attgenerated = 'v',
  NOT a.attislocal,
  `+storageSQL("a.attstorage")+`, `+storageSQL("t.typstorage")+`,
  `+in.sql.compression+`,
  coalesce(a.attstattarget, -1)::int,
  -- n_distinct and n_distinct_inherited are the attribute options PostgreSQL defines
  coalesce((SELECT string_agg(o, ', ' ORDER BY o) FROM unnest(a.attoptions) o WHERE o ~ '^n_distinct(_inherited)?='), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE `+relFilter(`'r', 'p', 'f'`), in.exclude)
	if err != nil {
		return err
	}
	return scanEach(rows, func(r pgx.Rows) error {
		var oid uint32
		var num int32
		it := &Item{Kind: "column"}
		if err := r.Scan(&oid, &num, &it.Table, &it.Local, &it.Comment, &it.ACL, &it.Type, &it.Collation, &it.NotNull, &it.Default,
			&it.Identity, &it.IdentitySeq, &it.Generated, &it.Virtual, &it.Inherited,
			&it.Storage, &it.TypStorage, &it.Compression, &it.Statistics, &it.ColOptions); err != nil {
			return err
		}
		it.Name, it.Num = it.Table+"."+it.Local, int(num)
		in.add(it, "pg_class", oid, num)
		return nil
	})
}

func (in *inspector) constraints(ctx context.Context) error {
	rows, err := in.tx.Query(ctx, `SELECT co.oid, quote_ident(n.nspname), quote_ident(n.nspname) || '.' || quote_ident(c.relname), quote_ident(co.conname),
  obj_description(co.oid, 'pg_constraint'), co.contype::text, pg_get_constraintdef(co.oid), co.convalidated,
  CASE WHEN co.contype IN ('p', 'u', 'x') AND co.conindid <> 0 THEN pg_get_indexdef(co.conindid) ELSE '' END,
  NOT co.conislocal OR co.conparentid <> 0,
  coalesce((SELECT i.indisclustered FROM pg_index i WHERE i.indexrelid = co.conindid), false)
FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE co.contype IN ('p', 'u', 'c', 'f', 'x') AND `+relFilter(`'r', 'p', 'f'`), in.exclude)
	if err != nil {
		return err
	}
	return scanEach(rows, func(r pgx.Rows) error {
		var oid uint32
		var ct string
		it := &Item{Kind: "constraint"}
		if err := r.Scan(&oid, &it.Schema, &it.Table, &it.Local, &it.Comment, &ct, &it.Def, &it.Validated, &it.IndexDef, &it.Inherited, &it.Clustered); err != nil {
			return err
		}
		it.Name, it.ConType = it.Table+"."+it.Local, ct[0]
		in.add(it, "pg_constraint", oid, 0)
		return nil
	})
}

func (in *inspector) indexes(ctx context.Context) error {
	rows, err := in.tx.Query(ctx, `SELECT ic.oid, quote_ident(n.nspname), quote_ident(n.nspname) || '.' || quote_ident(ic.relname),
  quote_ident(n.nspname) || '.' || quote_ident(c.relname), obj_description(ic.oid, 'pg_class'), pg_get_indexdef(i.indexrelid),
  EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = ic.oid), i.indisclustered
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE `+relFilter(`'r', 'p', 'm'`)+`
  AND NOT EXISTS (SELECT FROM pg_constraint co WHERE co.conindid = i.indexrelid AND co.conrelid = c.oid AND co.contype IN ('p', 'u', 'x'))`, in.exclude)
	if err != nil {
		return err
	}
	return scanEach(rows, func(r pgx.Rows) error {
		var oid uint32
		it := &Item{Kind: "index"}
		if err := r.Scan(&oid, &it.Schema, &it.Name, &it.Table, &it.Comment, &it.Def, &it.Inherited, &it.Clustered); err != nil {
			return err
		}
		in.add(it, "pg_class", oid, 0)
		return nil
	})
}

func (in *inspector) views(ctx context.Context) error {
	rows, err := in.tx.Query(ctx, `SELECT c.oid, c.relkind = 'm', quote_ident(n.nspname), quote_ident(n.nspname) || '.' || quote_ident(c.relname),
  obj_description(c.oid, 'pg_class'), `+aclSQL("c.relacl", "r", "c.relowner")+`, `+aclSQL("NULL::aclitem[]", "r", "c.relowner")+`, quote_ident(pg_get_userbyid(c.relowner)),
  coalesce(array_to_string(c.reloptions, ', '), ''), rtrim(pg_get_viewdef(c.oid), '; '), c.relispopulated
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE `+relFilter(`'v', 'm'`), in.exclude)
	if err != nil {
		return err
	}
	if err := scanEach(rows, func(r pgx.Rows) error {
		var oid uint32
		var mat bool
		it := &Item{Kind: "view"}
		if err := r.Scan(&oid, &mat, &it.Schema, &it.Name, &it.Comment, &it.ACL, &it.DefaultACL, &it.Owner, &it.Options, &it.Query, &it.Populated); err != nil {
			return err
		}
		if mat {
			it.Kind = "materialized view"
		}
		it.Def = it.Options + "\n" + it.Query
		in.add(it, "pg_class", oid, 0)
		return nil
	}); err != nil {
		return err
	}
	// A view's columns carry comments, privileges and (ALTER VIEW … SET
	// DEFAULT, used by INSERTs through the view) defaults of their own;
	// keep them as "view column" items, created with the view.
	rows, err = in.tx.Query(ctx, `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relkind = 'm', quote_ident(a.attname),
  col_description(c.oid, a.attnum), coalesce((SELECT array_agg(coalesce(quote_ident(r.rolname), 'PUBLIC') || ' ' || x.privilege_type || CASE WHEN x.is_grantable THEN ' grant' ELSE '' END)
     FROM aclexplode(a.attacl) x LEFT JOIN pg_roles r ON r.oid = x.grantee), '{}'),
  coalesce(pg_get_expr(d.adbin, d.adrelid), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE `+relFilter(`'v', 'm'`)+` AND (a.attacl IS NOT NULL OR col_description(c.oid, a.attnum) IS NOT NULL OR d.adbin IS NOT NULL)`, in.exclude)
	if err != nil {
		return err
	}
	return scanEach(rows, func(r pgx.Rows) error {
		var rel, col, def string
		var mat bool
		var comment *string
		var acl []string
		if err := r.Scan(&rel, &mat, &col, &comment, &acl, &def); err != nil {
			return err
		}
		kind := "view"
		if mat {
			kind = "materialized view"
		}
		it := &Item{Kind: "view column", Name: rel + "." + col, Table: rel, Local: col, Comment: comment, ACL: acl, Default: def}
		in.cat.Items[it.Key()] = it
		it.Deps = []string{kind + " " + rel}
		return nil
	})
}

func (in *inspector) functions(ctx context.Context) error {
	rows, err := in.tx.Query(ctx, `SELECT p.oid, p.prokind::text, quote_ident(n.nspname),
  quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || oidvectortypes(p.proargtypes) || ')',
  pg_get_function_identity_arguments(p.oid), coalesce(pg_get_function_result(p.oid), ''),
  obj_description(p.oid, 'pg_proc'), `+aclSQL("p.proacl", "f", "p.proowner")+`, `+aclSQL("NULL::aclitem[]", "f", "p.proowner")+`, quote_ident(pg_get_userbyid(p.proowner)),
  CASE WHEN p.prokind = 'a' THEN '' ELSE pg_get_functiondef(p.oid) END
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE `+userSchema+` AND `+member("pg_proc", "p.oid"))
	if err != nil {
		return err
	}
	return scanEach(rows, func(r pgx.Rows) error {
		var oid uint32
		var kind string
		it := &Item{Kind: "function"}
		if err := r.Scan(&oid, &kind, &it.Schema, &it.Name, &it.Args, &it.Result, &it.Comment, &it.ACL, &it.DefaultACL, &it.Owner, &it.Def); err != nil {
			return err
		}
		switch kind {
		case "p":
			it.Kind = "procedure"
		case "a":
			it.Kind, it.Unsupported = "aggregate", "an aggregate"
		}
		it.Def = normalise(it.Def)
		in.add(it, "pg_proc", oid, 0)
		return nil
	})
}

func (in *inspector) triggers(ctx context.Context) error {
	rows, err := in.tx.Query(ctx, `SELECT tg.oid, quote_ident(n.nspname), quote_ident(n.nspname) || '.' || quote_ident(c.relname), quote_ident(tg.tgname),
  obj_description(tg.oid, 'pg_trigger'), pg_get_triggerdef(tg.oid), tg.tgenabled::text, tg.tgparentid <> 0
FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT tg.tgisinternal AND `+relFilter(`'r', 'p', 'f', 'v', 'm'`), in.exclude)
	if err != nil {
		return err
	}
	return scanEach(rows, func(r pgx.Rows) error {
		var oid uint32
		var enabled string
		it := &Item{Kind: "trigger"}
		if err := r.Scan(&oid, &it.Schema, &it.Table, &it.Local, &it.Comment, &it.Def, &enabled, &it.Inherited); err != nil {
			return err
		}
		it.Name, it.Enabled = it.Table+"."+it.Local, enabled[0]
		in.add(it, "pg_trigger", oid, 0)
		return nil
	})
}

func (in *inspector) policies(ctx context.Context) error {
	rows, err := in.tx.Query(ctx, `SELECT po.oid, quote_ident(n.nspname), quote_ident(n.nspname) || '.' || quote_ident(c.relname), quote_ident(po.polname),
  obj_description(po.oid, 'pg_policy'), po.polpermissive,
  CASE po.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
  coalesce((SELECT array_agg(CASE WHEN ro = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(ro)) END ORDER BY 1) FROM unnest(po.polroles) ro), '{}'),
  coalesce(pg_get_expr(po.polqual, po.polrelid), ''), coalesce(pg_get_expr(po.polwithcheck, po.polrelid), '')
FROM pg_policy po JOIN pg_class c ON c.oid = po.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE `+relFilter(`'r', 'p', 'f'`), in.exclude)
	if err != nil {
		return err
	}
	return scanEach(rows, func(r pgx.Rows) error {
		var oid uint32
		it := &Item{Kind: "policy"}
		if err := r.Scan(&oid, &it.Schema, &it.Table, &it.Local, &it.Comment, &it.Permissive, &it.Command, &it.Roles, &it.Using, &it.WithCheck); err != nil {
			return err
		}
		it.Name = it.Table + "." + it.Local
		in.add(it, "pg_policy", oid, 0)
		return nil
	})
}

// others lists the objects of kinds the planner does not handle, each an
// item whose Unsupported names it, so that one on either side, or one
// that changed, is an error rather than left out: rules other than views',
// extended statistics, collations, operators, casts, text search
// configurations and dictionaries, foreign-data wrappers and servers,
// publications, event triggers, default privileges, and NOT NULL
// constraints that are NOT VALID (PostgreSQL 18 keeps NOT NULL in
// pg_constraint, contype 'n', and can add one unvalidated; its column's
// attnotnull is set all the same, so the column alone would read as NOT
// NULL). Before 18 no table has a constraint of type 'n'.
func (in *inspector) others(ctx context.Context) error {
	rows, err := in.tx.Query(ctx, `
SELECT 'rule', pg_describe_object('pg_rewrite'::regclass, r.oid, 0), pg_get_ruledef(r.oid)
FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE r.rulename <> '_RETURN' AND `+userSchema+` AND NOT c.oid::int8 = ANY ($1::int8[])
UNION ALL SELECT 'extended statistics', pg_describe_object('pg_statistic_ext'::regclass, x.oid, 0), pg_get_statisticsobjdef(x.oid)
FROM pg_statistic_ext x JOIN pg_namespace n ON n.oid = x.stxnamespace WHERE `+userSchema+`
UNION ALL SELECT 'collation', pg_describe_object('pg_collation'::regclass, co.oid, 0), concat_ws(' ', co.collprovider, co.collcollate, co.collctype, `+in.sql.collLocale+`, `+in.sql.collRules+`, co.collisdeterministic)
FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace WHERE `+userSchema+` AND `+member("pg_collation", "co.oid")+`
UNION ALL SELECT 'NOT NULL constraint that is NOT VALID', pg_describe_object('pg_constraint'::regclass, co.oid, 0), pg_get_constraintdef(co.oid)
FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE co.contype = 'n' AND NOT co.convalidated AND `+relFilter(`'r', 'p', 'f'`)+`
UNION ALL SELECT 'operator', pg_describe_object('pg_operator'::regclass, o.oid, 0), o.oprcode::text
FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE `+userSchema+` AND `+member("pg_operator", "o.oid")+`
UNION ALL SELECT 'operator class', pg_describe_object('pg_opclass'::regclass, o.oid, 0), ''
FROM pg_opclass o JOIN pg_namespace n ON n.oid = o.opcnamespace WHERE `+userSchema+` AND `+member("pg_opclass", "o.oid")+`
UNION ALL SELECT 'cast', pg_describe_object('pg_cast'::regclass, ca.oid, 0), concat_ws(' ', ca.castfunc::regproc::text, ca.castcontext, ca.castmethod)
FROM pg_cast ca WHERE ca.oid >= 16384 AND `+member("pg_cast", "ca.oid")+`
UNION ALL SELECT 'text search configuration', pg_describe_object('pg_ts_config'::regclass, c.oid, 0), ''
FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace WHERE `+userSchema+` AND `+member("pg_ts_config", "c.oid")+`
UNION ALL SELECT 'text search dictionary', pg_describe_object('pg_ts_dict'::regclass, d.oid, 0), coalesce(d.dictinitoption, '')
FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace WHERE `+userSchema+` AND `+member("pg_ts_dict", "d.oid")+`
UNION ALL SELECT 'foreign-data wrapper', pg_describe_object('pg_foreign_data_wrapper'::regclass, w.oid, 0), coalesce(array_to_string(w.fdwoptions, ','), '')
FROM pg_foreign_data_wrapper w WHERE `+member("pg_foreign_data_wrapper", "w.oid")+`
UNION ALL SELECT 'foreign server', pg_describe_object('pg_foreign_server'::regclass, s.oid, 0), coalesce(array_to_string(s.srvoptions, ','), '')
FROM pg_foreign_server s
UNION ALL SELECT 'publication', pg_describe_object('pg_publication'::regclass, p.oid, 0), concat_ws(' ', p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate)
FROM pg_publication p
UNION ALL SELECT 'event trigger', pg_describe_object('pg_event_trigger'::regclass, et.oid, 0), concat_ws(' ', et.evtevent, et.evtfoid::regproc::text, et.evtenabled)
FROM pg_event_trigger et WHERE `+member("pg_event_trigger", "et.oid")+`
UNION ALL SELECT 'default privileges', pg_describe_object('pg_default_acl'::regclass, d.oid, 0), d.defaclacl::text
FROM pg_default_acl d`, in.exclude)
	if err != nil {
		return err
	}
	return scanEach(rows, func(r pgx.Rows) error {
		it := &Item{Kind: "other"}
		var kind string
		if err := r.Scan(&kind, &it.Name, &it.Def); err != nil {
			return err
		}
		it.Unsupported = kind
		in.cat.Items[it.Key()] = it
		return nil
	})
}

// aliases maps the other addresses pg_depend uses for an item to it: a
// view's rewrite rule, a column's default, a constraint's index, a type's
// array type, a table's row type, a composite type's relation.
func (in *inspector) aliases(ctx context.Context) error {
	rows, err := in.tx.Query(ctx, `
SELECT 'pg_rewrite', rw.oid, 'pg_class', rw.ev_class, 0 FROM pg_rewrite rw
UNION ALL SELECT 'pg_attrdef', d.oid, 'pg_class', d.adrelid, d.adnum FROM pg_attrdef d
UNION ALL SELECT 'pg_class', co.conindid, 'pg_constraint', co.oid, 0 FROM pg_constraint co WHERE co.conindid <> 0 AND co.contype IN ('p', 'u', 'x')
UNION ALL SELECT 'pg_type', t.typarray, 'pg_type', t.oid, 0 FROM pg_type t WHERE t.typarray <> 0
UNION ALL SELECT 'pg_type', t.oid, 'pg_class', t.typrelid, 0 FROM pg_type t WHERE t.typrelid <> 0
`+in.sql.multirangeAlias+`
UNION ALL SELECT 'pg_class', t.typrelid, 'pg_type', t.oid, 0 FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid WHERE c.relkind = 'c'
UNION ALL SELECT 'pg_constraint', co.oid, 'pg_type', co.contypid, 0 FROM pg_constraint co WHERE co.contypid <> 0
UNION ALL SELECT d.classid::regclass::text, d.objid, 'pg_extension', d.refobjid, 0 FROM pg_depend d WHERE d.deptype = 'e'`)
	if err != nil {
		return err
	}
	type alias struct{ from, to objID }
	var as []alias
	if err := scanEach(rows, func(r pgx.Rows) error {
		var a alias
		if err := r.Scan(&a.from.class, &a.from.oid, &a.to.class, &a.to.oid, &a.to.sub); err != nil {
			return err
		}
		as = append(as, a)
		return nil
	}); err != nil {
		return err
	}
	for _, a := range as {
		if key, ok := in.ids[a.to]; ok {
			if _, taken := in.ids[a.from]; !taken {
				in.ids[a.from] = key
			}
		}
	}
	return nil
}

func (in *inspector) depends(ctx context.Context) error {
	rows, err := in.tx.Query(ctx, `SELECT d.classid::regclass::text, d.objid, d.objsubid, d.refclassid::regclass::text, d.refobjid, d.refobjsubid
FROM pg_depend d WHERE d.deptype IN ('n', 'a') AND d.objid >= 16384 AND d.refobjid >= 16384`)
	if err != nil {
		return err
	}
	deps := map[string]map[string]bool{}
	if err := scanEach(rows, func(r pgx.Rows) error {
		var from, to objID
		if err := r.Scan(&from.class, &from.oid, &from.sub, &to.class, &to.oid, &to.sub); err != nil {
			return err
		}
		fk, ok := in.lookup(from)
		if !ok {
			return nil
		}
		tk, ok := in.lookup(to)
		if !ok || tk == fk {
			return nil
		}
		if deps[fk] == nil {
			deps[fk] = map[string]bool{}
		}
		deps[fk][tk] = true
		return nil
	}); err != nil {
		return err
	}
	for fk, set := range deps {
		it := in.cat.Items[fk]
		for k := range set {
			it.Deps = append(it.Deps, k)
		}
		slices.Sort(it.Deps)
	}
	// What pg_depend leaves implicit: a column, constraint, index,
	// trigger or policy needs its table; a partition its parent; an
	// object its schema.
	for _, it := range in.cat.Items {
		var more []string
		if it.Table != "" {
			for _, k := range []string{"table", "view", "materialized view"} {
				if _, ok := in.cat.Items[k+" "+it.Table]; ok {
					more = append(more, k+" "+it.Table)
				}
			}
		}
		if it.PartitionOf != "" {
			more = append(more, "table "+it.PartitionOf)
		}
		if it.OwnedBy != "" {
			more = append(more, "column "+it.OwnedBy)
		}
		if it.Schema != "" && it.Kind != "schema" {
			if _, ok := in.cat.Items["schema "+it.Schema]; ok {
				more = append(more, "schema "+it.Schema)
			}
		}
		for _, k := range more {
			if !slices.Contains(it.Deps, k) && k != it.Key() {
				it.Deps = append(it.Deps, k)
			}
		}
		slices.Sort(it.Deps)
	}
	return nil
}

// lookup finds the item at a pg_depend address; a view's column counts
// as the view.
func (in *inspector) lookup(id objID) (string, bool) {
	if k, ok := in.ids[id]; ok {
		return k, true
	}
	if id.sub != 0 {
		k, ok := in.ids[objID{id.class, id.oid, 0}]
		return k, ok
	}
	return "", false
}

func scanEach(rows pgx.Rows, f func(pgx.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
