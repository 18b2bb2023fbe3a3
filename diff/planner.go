package diff

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pgmig/pgmig/schema"
)

// Phases order a plan's statements: every drop of something that uses
// another object comes before the drop of that object, every create after
// the creates of what it uses. Within a phase, statements are ordered by
// the catalogs' dependencies.
const (
	phRename       = 10
	phDropTrigger  = 20
	phDropPolicy   = 21
	phDropView     = 22 // views, materialized views
	phDropFK       = 23
	phDropCon      = 24
	phDropIndex    = 25
	phDropFunc     = 26 // replaced functions, after the checks and indexes that use them
	phSettings     = 29
	phSchema       = 30
	phExtension    = 31
	phType         = 32
	phSequence     = 34
	phFunction     = 35
	phTable        = 40
	phColumn       = 41
	phOwnedBy      = 42
	phTableProps   = 43
	phConstraint   = 44
	phFK           = 45
	phIndex        = 46
	phLate         = 48 // views, materialized views, functions that use relations
	phTrigger      = 49
	phOwner        = 50 // before the grants, which are written against the new owner
	phAttrs        = 51 // comments and grants
	phDropLast     = 90 // columns, tables, sequences, functions, types, extensions, schemas
	phNoTxDropIdx  = 95
	phNoTxValidate = 96
	phNoTxNotNull  = 97
	phNoTxIndex    = 98
	phNoTxUsing    = 99
	phNoTxFK       = 100
)

type step struct {
	phase int
	key   string // the item the step is about, for ordering
	drop  bool   // ordered by the current catalog's dependencies, reversed
	stmt  Statement
	// enumValue is the value an ALTER TYPE … ADD VALUE adds.
	enumValue string
}

type planner struct {
	cur, des *schema.Catalog
	renames  []rename
	destroy  bool
	reverse  bool // planning the down
	reorders []string
	castable func(from, to string) bool // Options.Castable

	steps       []step
	changes     []Change
	hazards     []Hazard
	destructive []Destructive
	unsupported []Unsupported

	// replaced holds the keys of current items that are dropped and
	// created again; dropped those dropped for good; fresh the relations
	// this plan creates (new or replaced), on which plain DDL is safe.
	replaced, dropped, fresh map[string]bool
	// retyped holds the columns whose type changes: what uses them in a
	// view, policy or trigger is dropped and created again around it.
	retyped map[string]bool
	// late holds the desired keys created in the no-transaction phases,
	// that an FK on them must follow.
	late map[string]bool
}

type planResult struct {
	reorders []string
	stmts    []Statement
	changes  []Change
	hazards  []Hazard
}

func newPlanner(cur, des *schema.Catalog, renames []rename, destroy bool) *planner {
	return &planner{cur: cur, des: des, renames: renames, destroy: destroy,
		replaced: map[string]bool{}, dropped: map[string]bool{}, fresh: map[string]bool{},
		retyped: map[string]bool{}, late: map[string]bool{}}
}

func (p *planner) add(phase int, key string, sql string) *step {
	p.steps = append(p.steps, step{phase: phase, key: key, stmt: Statement{SQL: sql, id: len(p.steps) + 1}})
	return &p.steps[len(p.steps)-1]
}

func (p *planner) addDrop(phase int, key string, sql string) *step {
	s := p.add(phase, key, sql)
	s.drop = true
	return s
}

// alter adds a step that alters the object key names, and records the
// change.
func (p *planner) alter(phase int, key string, sql string) *step {
	p.change(key, "alter")
	return p.add(phase, key, sql)
}

// create adds the step that creates the object key names, and records the
// change.
func (p *planner) create(phase int, key string, sql string) *step {
	p.change(key, "create")
	return p.add(phase, key, sql)
}

// change records that object is created, altered or dropped, once.
func (p *planner) change(object, action string) {
	for _, c := range p.changes {
		if c.Object == object && c.Action == action {
			return
		}
	}
	p.changes = append(p.changes, Change{Object: object, Action: action})
}

// hazard records a hazard of the statement added last, which each caller
// has just added: a file of part of the plan names the hazards of its
// own statements (Render).
func (p *planner) hazard(object, format string, args ...any) {
	p.hazards = append(p.hazards, Hazard{Object: object, Message: fmt.Sprintf(format, args...), stmt: len(p.steps)})
}

func (p *planner) refuse(object, format string, args ...any) {
	if !p.destroy {
		p.destructive = append(p.destructive, Destructive{Object: object, Reason: fmt.Sprintf(format, args...)})
	}
}

func (p *planner) cannot(object, format string, args ...any) {
	p.unsupported = append(p.unsupported, Unsupported{Object: object, What: fmt.Sprintf(format, args...)})
}

// unlintable refuses to write what only PostgreSQL 18's grammar has
// (what, "a virtual generated column"): pgmig lint reads migrations with
// PostgreSQL 17's parser, so the file could not pass it, and a migration
// diff writes always does. The object is named, as anything else Plan
// cannot write.
func (p *planner) unlintable(object, what string) {
	p.cannot(object, "creating %s: PostgreSQL 18 syntax, which the linter's parser (package lint, PostgreSQL 17's) cannot read; write this change by hand", what)
}

func (p *planner) plan() (*planResult, error) {
	if len(p.renames) > 0 {
		p.cur = applyRenames(p.cur, p.renames)
		for _, r := range p.renames {
			p.add(phRename, "", r.sql())
			p.change(r.kind+" "+r.to, "rename")
		}
	}
	p.classify()
	for _, it := range p.union() {
		c, d := p.cur.Items[it], p.des.Items[it]
		switch {
		case c != nil && d != nil && (c.Unsupported != "" || d.Unsupported != ""):
			if !sameUnsupported(c, d) {
				p.cannot(it, "changing %s", firstNonEmpty(c.Unsupported, d.Unsupported))
			}
		case c != nil && c.Unsupported != "":
			p.cannot(it, "dropping %s", c.Unsupported)
		case d != nil && d.Unsupported != "":
			p.cannot(it, "creating %s", d.Unsupported)
		}
	}
	if len(p.unsupported) > 0 {
		return nil, &UnsupportedError{Objects: p.unsupported}
	}
	p.schemasAndExtensions()
	p.types()
	p.sequences()
	p.functions()
	p.tables()
	p.constraints()
	p.indexes()
	p.tableExtras()
	p.views()
	p.triggersAndPolicies()
	p.attributes()
	if len(p.unsupported) > 0 {
		return nil, &UnsupportedError{Objects: p.unsupported, Renames: p.renameCandidates()}
	}
	if len(p.destructive) > 0 {
		return nil, &DestructiveError{Changes: p.destructive, Renames: p.renameCandidates()}
	}
	res := &planResult{changes: p.changes, hazards: p.hazards, reorders: p.reorders}
	for _, s := range p.order() {
		res.stmts = append(res.stmts, s.stmt)
	}
	return res, nil
}

func sameUnsupported(c, d *schema.Item) bool {
	return c.Unsupported == d.Unsupported && c.Def == d.Def && c.Args == d.Args && c.Result == d.Result
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// union is every key of either catalog, sorted.
func (p *planner) union() []string {
	var keys []string
	for k := range p.cur.Items {
		keys = append(keys, k)
	}
	for k := range p.des.Items {
		if _, ok := p.cur.Items[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func (p *planner) kind(kind string) []string {
	var keys []string
	for _, k := range p.union() {
		it := p.cur.Items[k]
		if it == nil {
			it = p.des.Items[k]
		}
		if it.Kind == kind {
			keys = append(keys, k)
		}
	}
	return keys
}

// classify decides, before any statement is written, which current items
// go (dropped), which are dropped and created again (replaced), and which
// columns change type, following dependencies: what uses a replaced
// object is replaced with it.
func (p *planner) classify() {
	for k, c := range p.cur.Items {
		d := p.des.Items[k]
		switch {
		case d == nil:
			p.dropped[k] = true
		case c.Kind == "view" || c.Kind == "materialized view":
			if c.Def != d.Def {
				p.replaced[k] = true
			}
		case c.Kind == "function" || c.Kind == "procedure":
			if c.Def != d.Def && (c.Result != d.Result || c.Args != d.Args) {
				p.replaced[k] = true
			}
		case c.Kind == "trigger", c.Kind == "index":
			if c.Def != d.Def {
				p.replaced[k] = true
			}
		case c.Kind == "constraint":
			if strings.TrimSuffix(c.Def, " NOT VALID") != strings.TrimSuffix(d.Def, " NOT VALID") {
				p.replaced[k] = true
			}
		case c.Kind == "policy":
			if c.Permissive != d.Permissive || c.Command != d.Command || !slices.Equal(c.Roles, d.Roles) || c.Using != d.Using || c.WithCheck != d.WithCheck {
				p.replaced[k] = true
			}
		case c.Kind == "column":
			if c.Type != d.Type || c.Collation != d.Collation {
				p.retyped[k] = true
			}
		case c.Kind == "type" && c.TypeKind == 'e':
			if !isSubsequence(c.Values, d.Values) {
				// Recreated under the same name; its columns change type.
				p.replaced[k] = true
				for ck, col := range p.cur.Items {
					if col.Kind == "column" && (col.Type == c.Name || col.Type == c.Name+"[]") {
						p.retyped[ck] = true
					}
				}
			}
		}
	}
	// What uses a replaced or dropped object, or a column that changes
	// type, is dropped and created again with it.
	users := map[string][]string{}
	for k, it := range p.cur.Items {
		for _, d := range it.Deps {
			users[d] = append(users[d], k)
		}
	}
	var queue []string
	for k := range p.replaced {
		queue = append(queue, k)
	}
	for k := range p.dropped {
		queue = append(queue, k)
	}
	for k := range p.retyped {
		queue = append(queue, k)
	}
	slices.Sort(queue)
	seen := map[string]bool{}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		if seen[k] {
			continue
		}
		seen[k] = true
		for _, u := range users[k] {
			it := p.cur.Items[u]
			if p.dropped[u] || p.replaced[u] {
				continue
			}
			switch it.Kind {
			case "view", "materialized view", "trigger", "policy", "function", "procedure":
			case "constraint", "index":
				// ALTER COLUMN TYPE rebuilds these itself, from their
				// text. Not those that also use a recreated enum: their
				// constants would be of its old type, renamed aside, so
				// they are replaced through the type's own users.
				if p.retyped[k] && !p.replaced[k] && !p.dropped[k] {
					continue
				}
				// A column's own drop takes them with it.
				if p.dropped[k] && strings.HasPrefix(k, "column ") {
					continue
				}
			default:
				continue
			}
			p.replaced[u] = true
			queue = append(queue, u)
		}
	}
	for k := range p.replaced {
		switch it := p.cur.Items[k]; it.Kind {
		case "materialized view":
			p.fresh[it.Name] = true
		}
	}
	for k, d := range p.des.Items {
		if d.Kind == "table" || d.Kind == "materialized view" {
			if _, ok := p.cur.Items[k]; !ok {
				p.fresh[d.Name] = true
			}
		}
	}
}

// gone reports whether the current item k is dropped, for good or to be
// created again.
func (p *planner) gone(k string) bool { return p.dropped[k] || p.replaced[k] }

// creating reports whether the desired item k is created by the plan.
func (p *planner) creating(k string) bool {
	_, ok := p.cur.Items[k]
	return !ok || p.replaced[k]
}

// tableGone reports whether the current table (or view) name is dropped.
func (p *planner) tableGone(name string) bool {
	for _, k := range []string{"table ", "view ", "materialized view "} {
		if p.gone(k + name) {
			return true
		}
	}
	return false
}

func isSubsequence(a, b []string) bool {
	i := 0
	for _, x := range b {
		if i < len(a) && a[i] == x {
			i++
		}
	}
	return i == len(a)
}

func (p *planner) schemasAndExtensions() {
	for _, k := range p.kind("schema") {
		c, d := p.cur.Items[k], p.des.Items[k]
		switch {
		case c == nil:
			p.create(phSchema, k, "CREATE SCHEMA "+d.Name)
		case d == nil:
			p.addDrop(phDropLast, k, "DROP SCHEMA "+c.Name)
			p.change(k, "drop")
		}
	}
	for _, k := range p.kind("extension") {
		c, d := p.cur.Items[k], p.des.Items[k]
		switch {
		case c == nil:
			p.create(phExtension, k, fmt.Sprintf("CREATE EXTENSION IF NOT EXISTS %s WITH SCHEMA %s VERSION %s", d.Name, d.Schema, lit(d.Def)))
		case d == nil:
			p.addDrop(phDropLast, k, "DROP EXTENSION "+c.Name)
			p.change(k, "drop")
		default:
			if c.Schema != d.Schema {
				p.alter(phExtension, k, fmt.Sprintf("ALTER EXTENSION %s SET SCHEMA %s", d.Name, d.Schema))
			}
			if c.Def != d.Def {
				p.alter(phExtension, k, fmt.Sprintf("ALTER EXTENSION %s UPDATE TO %s", d.Name, lit(d.Def)))
			}
		}
	}
}

func (p *planner) types() {
	for _, k := range p.kind("type") {
		c, d := p.cur.Items[k], p.des.Items[k]
		switch {
		case c == nil:
			p.create(phType, k, createType(d))
		case d == nil:
			p.addDrop(phDropLast, k, "DROP TYPE "+c.Name)
			p.change(k, "drop")
			p.refuse(k, "dropping a type drops its values wherever they are kept")
		case c.TypeKind != d.TypeKind:
			p.cannot(k, "changing what kind of type it is (enum, domain, composite, range)")
		case c.TypeKind == 'e':
			p.enum(k, c, d)
		case c.TypeKind == 'd':
			p.domain(k, c, d)
		case c.TypeKind == 'c':
			p.composite(k, c, d)
		case c.TypeKind == 'r':
			if c.Def != d.Def {
				p.cannot(k, "changing a range type's definition")
			}
		}
	}
}

func createType(d *schema.Item) string {
	switch d.TypeKind {
	case 'e':
		vals := make([]string, len(d.Values))
		for i, v := range d.Values {
			vals[i] = lit(v)
		}
		return fmt.Sprintf("CREATE TYPE %s AS ENUM (%s)", d.Name, strings.Join(vals, ", "))
	case 'c':
		return fmt.Sprintf("CREATE TYPE %s AS (%s)", d.Name, strings.Join(d.Attrs, ", "))
	case 'r':
		return fmt.Sprintf("CREATE TYPE %s AS RANGE (%s)", d.Name, d.Def)
	default:
		s := "CREATE DOMAIN " + d.Name + " AS " + d.BaseType
		if d.Collation != "" {
			s += " COLLATE " + d.Collation
		}
		if d.Default != "" {
			s += " DEFAULT " + d.Default
		}
		if d.NotNull {
			s += " NOT NULL"
		}
		for _, c := range d.Checks {
			s += " CONSTRAINT " + c
		}
		return s
	}
}

func (p *planner) enum(k string, c, d *schema.Item) {
	if slices.Equal(c.Values, d.Values) {
		return
	}
	p.change(k, "alter")
	if isSubsequence(c.Values, d.Values) {
		have := map[string]bool{}
		for _, v := range c.Values {
			have[v] = true
		}
		for i, v := range d.Values {
			if have[v] {
				continue
			}
			sql := fmt.Sprintf("ALTER TYPE %s ADD VALUE %s", d.Name, lit(v))
			if i > 0 {
				sql += " AFTER " + lit(d.Values[i-1])
			} else if len(c.Values) > 0 {
				sql += " BEFORE " + lit(c.Values[0])
			}
			have[v] = true
			// A value added in a transaction cannot be used before it
			// commits: order marks the statement when the plan uses it.
			p.add(phType, k, sql).enumValue = v
		}
		return
	}
	for _, v := range c.Values {
		if !slices.Contains(d.Values, v) {
			p.refuse(k, "removing enum value %s loses the rows that hold it", lit(v))
		}
	}
	// Recreate the type under its name: the old one is renamed aside, the
	// columns are converted through text, and the old one is dropped.
	sch, local := splitQualified(c.Name)
	local = ident(unquote(local) + "__pgmig_old")
	old := sch + "." + local
	p.add(phType, k, fmt.Sprintf("ALTER TYPE %s RENAME TO %s", c.Name, local))
	p.add(phType, k, createType(d))
	p.addDrop(phDropLast, k, "DROP TYPE "+old)
	p.hazard(k, "enum values removed or reordered: the type is recreated and every column of it rewritten")
}

func (p *planner) domain(k string, c, d *schema.Item) {
	if c.BaseType != d.BaseType || c.Collation != d.Collation {
		p.cannot(k, "changing a domain's base type or collation")
		return
	}
	alter := func(sql string) {
		p.alter(phType, k, "ALTER DOMAIN "+d.Name+" "+sql)
	}
	if c.Default != d.Default {
		if d.Default == "" {
			alter("DROP DEFAULT")
		} else {
			alter("SET DEFAULT " + d.Default)
		}
	}
	for _, ch := range c.Checks {
		if !slices.Contains(d.Checks, ch) {
			name, _, _ := strings.Cut(ch, " ")
			alter("DROP CONSTRAINT " + name)
		}
	}
	if c.NotNull != d.NotNull {
		if d.NotNull {
			alter("SET NOT NULL")
			p.hazard(k, "SET NOT NULL on a domain checks every column of it")
		} else {
			alter("DROP NOT NULL")
		}
	}
	for _, ch := range d.Checks {
		if !slices.Contains(c.Checks, ch) {
			alter("ADD CONSTRAINT " + ch)
			p.hazard(k, "adding a CHECK to a domain checks every column of it")
		}
	}
}

func (p *planner) composite(k string, c, d *schema.Item) {
	if slices.Equal(c.Attrs, d.Attrs) {
		return
	}
	name := func(a string) string { n, _, _ := strings.Cut(a, " "); return n }
	curNames, desNames := map[string]string{}, map[string]string{}
	for _, a := range c.Attrs {
		curNames[name(a)] = a
	}
	var kept []string
	for _, a := range d.Attrs {
		desNames[name(a)] = a
		if _, ok := curNames[name(a)]; ok {
			kept = append(kept, name(a))
		}
	}
	var curKept []string
	for _, a := range c.Attrs {
		if _, ok := desNames[name(a)]; ok {
			curKept = append(curKept, name(a))
		}
	}
	if !slices.Equal(kept, curKept) || !slices.Equal(kept, namesOf(d.Attrs[:len(kept)], name)) {
		p.cannot(k, "reordering a composite type's attributes (ALTER TYPE adds them at the end)")
		return
	}
	p.change(k, "alter")
	for _, a := range c.Attrs {
		if _, ok := desNames[name(a)]; !ok {
			p.add(phType, k, fmt.Sprintf("ALTER TYPE %s DROP ATTRIBUTE %s", d.Name, name(a)))
			p.refuse(k, "dropping attribute %s loses its values", name(a))
		}
	}
	for _, a := range d.Attrs {
		if ca, ok := curNames[name(a)]; !ok {
			p.add(phType, k, fmt.Sprintf("ALTER TYPE %s ADD ATTRIBUTE %s", d.Name, a))
		} else if ca != a {
			_, typ, _ := strings.Cut(a, " ")
			p.add(phType, k, fmt.Sprintf("ALTER TYPE %s ALTER ATTRIBUTE %s TYPE %s", d.Name, name(a), typ))
			p.refuse(k, "changing attribute %s's type may not keep its values", name(a))
		}
	}
}

func namesOf(attrs []string, name func(string) string) []string {
	out := make([]string, len(attrs))
	for i, a := range attrs {
		out[i] = name(a)
	}
	return out
}

func (p *planner) sequences() {
	for _, k := range p.kind("sequence") {
		c, d := p.cur.Items[k], p.des.Items[k]
		switch {
		case c == nil:
			kw := "SEQUENCE"
			if d.Unlogged {
				kw = "UNLOGGED SEQUENCE"
			}
			p.create(phSequence, k, fmt.Sprintf("CREATE %s %s %s", kw, d.Name, d.Def))
			if d.OwnedBy != "" {
				p.add(phOwnedBy, k, fmt.Sprintf("ALTER SEQUENCE %s OWNED BY %s", d.Name, d.OwnedBy))
			}
		case d == nil:
			// A sequence owned by a column that goes goes with it.
			if c.OwnedBy == "" || !p.gone("column "+c.OwnedBy) && !p.tableGone(tableOf(c.OwnedBy)) {
				p.addDrop(phDropLast, k, "DROP SEQUENCE "+c.Name)
			}
			p.change(k, "drop")
		default:
			if c.Def != d.Def {
				p.alter(phSequence, k, fmt.Sprintf("ALTER SEQUENCE %s %s", d.Name, d.Def))
			}
			if c.Unlogged != d.Unlogged {
				p.alter(phSequence, k, fmt.Sprintf("ALTER SEQUENCE %s SET %s", d.Name, map[bool]string{true: "UNLOGGED", false: "LOGGED"}[d.Unlogged]))
			}
			if c.OwnedBy != d.OwnedBy {
				owner := d.OwnedBy
				if owner == "" {
					owner = "NONE"
				}
				p.alter(phOwnedBy, k, fmt.Sprintf("ALTER SEQUENCE %s OWNED BY %s", d.Name, owner))
			}
		}
	}
}

// tableOf is the table of a qualified column name.
func tableOf(col string) string {
	i := lastDot(col)
	if i < 0 {
		return col
	}
	return col[:i]
}

func (p *planner) usesRelations(cat *schema.Catalog, it *schema.Item) bool {
	for _, d := range it.Deps {
		if dep := cat.Items[d]; dep != nil {
			switch dep.Kind {
			case "table", "column", "view", "materialized view":
				return true
			}
		}
	}
	return false
}

func (p *planner) functions() {
	created := false
	for _, kind := range []string{"function", "procedure"} {
		for _, k := range p.kind(kind) {
			c, d := p.cur.Items[k], p.des.Items[k]
			switch {
			case d == nil:
				s := p.addDrop(phDropLast, k, "DROP "+strings.ToUpper(kind)+" "+c.Name)
				if p.usedByConcurrentDrop(k) {
					// An index that uses it is dropped concurrently, after
					// the transaction: the function must wait for it.
					s.phase = phNoTxDropIdx
					s.stmt.NoTransaction = true
				}
				p.change(k, "drop")
			case c == nil || p.replaced[k] || c.Def != d.Def:
				if c != nil && p.replaced[k] {
					p.addDrop(phDropFunc, k, "DROP "+strings.ToUpper(kind)+" "+c.Name)
					p.change(k, "replace")
				} else if c == nil {
					p.change(k, "create")
				} else {
					p.change(k, "alter")
				}
				ph := phFunction
				if p.usesRelations(p.des, d) {
					ph = phLate
				}
				p.add(ph, k, d.Def)
				created = true
			}
		}
	}
	if created {
		// As pg_dump does: a function's body is checked when it runs, not
		// when it is created, so functions may come before their tables.
		p.add(phSettings, "", "SET check_function_bodies = false")
	}
}

// usedByConcurrentDrop reports whether an index that is dropped
// CONCURRENTLY (in the no-transaction tail) uses the current item k.
func (p *planner) usedByConcurrentDrop(k string) bool {
	for _, it := range p.cur.Items {
		if it.Kind != "index" || !p.gone(it.Key()) || !slices.Contains(it.Deps, k) {
			continue
		}
		if !it.Inherited && !p.tableGone(it.Table) && !p.columnGone(it) && p.dropFirst(it) == "" && !p.onPartitioned(p.cur, it.Table) {
			return true
		}
	}
	return false
}

func (p *planner) views() {
	for _, kind := range []string{"view", "materialized view"} {
		for _, k := range p.kind(kind) {
			c, d := p.cur.Items[k], p.des.Items[k]
			if c != nil && p.gone(k) {
				p.addDrop(phDropView, k, "DROP "+strings.ToUpper(kind)+" "+c.Name)
				if d == nil {
					p.change(k, "drop")
				}
			}
			if d != nil && p.creating(k) {
				sql := "CREATE " + strings.ToUpper(kind) + " " + d.Name
				if d.Options != "" {
					sql += " WITH (" + d.Options + ")"
				}
				sql += " AS\n" + d.Query
				if kind == "materialized view" {
					if d.Populated {
						sql += "\n  WITH DATA"
					} else {
						sql += "\n  WITH NO DATA"
					}
				}
				p.add(phLate, k, sql)
				p.change(k, map[bool]string{true: "replace", false: "create"}[c != nil])
			}
		}
	}
}

func (p *planner) triggersAndPolicies() {
	for _, k := range p.kind("trigger") {
		c, d := p.cur.Items[k], p.des.Items[k]
		if c != nil && c.Inherited || d != nil && d.Inherited {
			continue
		}
		if c != nil && p.gone(k) && !p.tableGone(c.Table) {
			p.addDrop(phDropTrigger, k, fmt.Sprintf("DROP TRIGGER %s ON %s", c.Local, c.Table))
		}
		if c != nil && d == nil {
			p.change(k, "drop")
		}
		if d == nil {
			continue
		}
		if p.creating(k) {
			p.add(phTrigger, k, d.Def)
			p.change(k, map[bool]string{true: "replace", false: "create"}[c != nil])
		}
		if (p.creating(k) && d.Enabled != 'O') || (!p.creating(k) && c.Enabled != d.Enabled) {
			what := map[byte]string{'O': "ENABLE", 'D': "DISABLE", 'R': "ENABLE REPLICA", 'A': "ENABLE ALWAYS"}[d.Enabled]
			p.alter(phTrigger, k, fmt.Sprintf("ALTER TABLE %s %s TRIGGER %s", d.Table, what, d.Local))
		}
	}
	for _, k := range p.kind("policy") {
		c, d := p.cur.Items[k], p.des.Items[k]
		if c != nil && p.gone(k) && !p.tableGone(c.Table) {
			p.addDrop(phDropPolicy, k, fmt.Sprintf("DROP POLICY %s ON %s", c.Local, c.Table))
		}
		if c != nil && d == nil {
			p.change(k, "drop")
		}
		if d != nil && p.creating(k) {
			sql := fmt.Sprintf("CREATE POLICY %s ON %s AS %s FOR %s TO %s", d.Local, d.Table,
				map[bool]string{true: "PERMISSIVE", false: "RESTRICTIVE"}[d.Permissive], d.Command, strings.Join(d.Roles, ", "))
			if d.Using != "" {
				sql += " USING (" + d.Using + ")"
			}
			if d.WithCheck != "" {
				sql += " WITH CHECK (" + d.WithCheck + ")"
			}
			p.add(phTrigger, k, sql)
			p.change(k, map[bool]string{true: "replace", false: "create"}[c != nil])
		}
	}
}

// commentTarget is how COMMENT ON and GRANT name an item.
func commentTarget(it *schema.Item) string {
	switch it.Kind {
	case "column", "view column":
		return "COLUMN " + it.Name
	case "constraint":
		return "CONSTRAINT " + it.Local + " ON " + it.Table
	case "trigger":
		return "TRIGGER " + it.Local + " ON " + it.Table
	case "policy":
		return "POLICY " + it.Local + " ON " + it.Table
	case "type":
		if it.TypeKind == 'd' {
			return "DOMAIN " + it.Name
		}
		return "TYPE " + it.Name
	}
	return strings.ToUpper(it.Kind) + " " + it.Name
}

// grantTarget is how GRANT and REVOKE name an item: as ALTER … OWNER TO
// does, but for views, which GRANT names as tables.
func grantTarget(it *schema.Item) string {
	if it.Kind == "view" || it.Kind == "materialized view" {
		return "TABLE " + it.Name
	}
	return ownerTarget(it)
}

// attributes writes comments and grants, on what changes and on what is
// created (which starts with no comment and its owner's privileges).
func (p *planner) attributes() {
	for _, k := range p.union() {
		c, d := p.cur.Items[k], p.des.Items[k]
		if d == nil && c != nil && c.Kind == "view column" {
			// A view column's item holds only its comment and grants: with
			// neither left, it has none in the desired catalog.
			if _, ok := p.des.Items[c.Deps[0]]; ok && !p.replaced[c.Deps[0]] {
				d = &schema.Item{Kind: c.Kind, Name: c.Name, Table: c.Table, Local: c.Local, Deps: c.Deps}
			}
		}
		if d == nil || d.Inherited && d.Kind != "column" || d.Kind == "extension" && c == nil {
			continue
		}
		// A view column is new with its view.
		fresh := c == nil || p.replaced[k] || d.Kind == "view column" && p.creating(d.Deps[0])
		// What is set on a created object is part of its creation; a view
		// column has an item of its own only once it has a comment, grant
		// or default, so one first given one on a view that stays is a
		// change: without it listed, a plan of only that would be empty.
		quiet := fresh && !(d.Kind == "view column" && !p.creating(d.Deps[0]))
		var curComment *string
		var curACL []string
		switch {
		case !fresh:
			curComment, curACL = c.Comment, c.ACL
		case d.Kind == "view column" || d.Kind == "column":
			curACL = nil
		default:
			curACL = p.defaultACL(d)
		}
		if !equalPtr(curComment, d.Comment) {
			val := "NULL"
			if d.Comment != nil {
				val = lit(*d.Comment)
			}
			p.add(phAttrs, k, "COMMENT ON "+commentTarget(d)+" IS "+val)
			if !quiet {
				p.change(k, "comment")
			}
		}
		if d.Kind == "view column" {
			p.viewColumnDefault(k, c, d, fresh)
		}
		if d.Kind == "constraint" || d.Kind == "index" || d.Kind == "trigger" || d.Kind == "policy" || d.Kind == "extension" {
			continue
		}
		// What the migration creates is owned by whoever runs it, taken to
		// be the role that built the current schema.
		from := p.cur.User
		if !fresh {
			from = c.Owner
		}
		if d.Owner != "" && from != "" && from != d.Owner {
			if !ownedWithTable(d) {
				p.add(phOwner, k, "ALTER "+ownerTarget(d)+" OWNER TO "+d.Owner)
				if !fresh {
					p.change(k, "owner")
				}
			}
			if !fresh {
				// ALTER … OWNER TO hands the old owner's privileges to the
				// new one (a table's, to its sequences too): the grants
				// start from there, so an owner change alone writes no
				// GRANT or REVOKE.
				curACL = newOwner(curACL, from, d.Owner)
			}
		}
		p.grants(k, d, curACL, d.ACL, quiet)
	}
}

// viewColumnDefault sets or drops the default of a view's column (what
// an INSERT through the view puts there), which a view created by the
// plan starts without. fresh says c does not stand for the column as it
// is before the plan.
func (p *planner) viewColumnDefault(k string, c, d *schema.Item, fresh bool) {
	was := ""
	if !fresh {
		was = c.Default
	}
	if was == d.Default {
		return
	}
	at := "ALTER VIEW " + d.Table + " ALTER COLUMN " + d.Local
	if d.Default == "" {
		p.add(phAttrs, k, at+" DROP DEFAULT")
	} else {
		p.add(phAttrs, k, at+" SET DEFAULT "+d.Default)
	}
	// A default on a view that stays is a change of its own; one on a
	// view the plan creates comes with the view's.
	if !p.creating(d.Deps[0]) {
		p.change(k, "alter")
	}
}

// ownedWithTable reports whether d is a sequence owned by a column: its
// owner is its table's, changed with the table's (ALTER SEQUENCE refuses
// it on its own).
func ownedWithTable(d *schema.Item) bool { return d.Kind == "sequence" && d.OwnedBy != "" }

// ownerTarget is how ALTER … OWNER TO names an item.
func ownerTarget(it *schema.Item) string {
	switch it.Kind {
	case "table":
		return "TABLE " + it.Name
	case "type":
		if it.TypeKind == 'd' {
			return "DOMAIN " + it.Name
		}
		return "TYPE " + it.Name
	}
	return strings.ToUpper(it.Kind) + " " + it.Name
}

// newOwner is acl after ownership passes from one role to another, as
// PostgreSQL's aclnewowner does it: the old owner's entries become the new
// owner's, merged with those the new owner had.
func newOwner(acl []string, from, to string) []string {
	have := map[string]bool{}
	var out []string
	put := func(e string) {
		if !have[e] {
			have[e] = true
			out = append(out, e)
		}
	}
	for _, a := range acl {
		if f := strings.Fields(a); len(f) > 1 && f[0] == from {
			f[0] = to
			a = strings.Join(f, " ")
		}
		put(a)
	}
	// A privilege held both with and without grant option is held with it.
	out = slices.DeleteFunc(out, func(a string) bool { return have[a+" grant"] })
	slices.Sort(out)
	return out
}

// defaultACL is what a new object's privileges are: its owner's.
func (p *planner) defaultACL(d *schema.Item) []string {
	return d.DefaultACL
}

func equalPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// grants writes the GRANTs and REVOKEs from one ACL to another; quiet
// says they are part of creating the object, not changes of their own.
func (p *planner) grants(k string, d *schema.Item, from, to []string, quiet bool) {
	if slices.Equal(from, to) {
		return
	}
	type entry struct{ grantee, priv string }
	state := func(acl []string) map[entry]bool {
		m := map[entry]bool{}
		for _, a := range acl {
			f := strings.Fields(a)
			m[entry{f[0], f[1]}] = len(f) > 2
		}
		return m
	}
	cur, des := state(from), state(to)
	target := grantTarget(d)
	col := ""
	if d.Kind == "column" || d.Kind == "view column" {
		col = " (" + d.Local + ")"
		target = "TABLE " + d.Table
	}
	var keys []entry
	for e := range cur {
		keys = append(keys, e)
	}
	for e := range des {
		if _, ok := cur[e]; !ok {
			keys = append(keys, e)
		}
	}
	slices.SortFunc(keys, func(a, b entry) int { return strings.Compare(a.grantee+" "+a.priv, b.grantee+" "+b.priv) })
	for _, e := range keys {
		cg, inCur := cur[e]
		dg, inDes := des[e]
		var sql string
		switch {
		case inCur && !inDes:
			sql = fmt.Sprintf("REVOKE %s%s ON %s FROM %s", e.priv, col, target, e.grantee)
		case !inCur || !cg && dg:
			sql = fmt.Sprintf("GRANT %s%s ON %s TO %s", e.priv, col, target, e.grantee)
			if dg {
				sql += " WITH GRANT OPTION"
			}
		case cg && !dg:
			sql = fmt.Sprintf("REVOKE GRANT OPTION FOR %s%s ON %s FROM %s", e.priv, col, target, e.grantee)
		default:
			continue
		}
		p.add(phAttrs, k, sql)
		if !quiet {
			p.change(k, "grant")
		}
	}
}

// lit quotes s as an SQL string literal.
func lit(s string) string {
	if strings.Contains(s, `\`) {
		return "E'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// lastDot is the index of the last '.' outside double quotes.
func lastDot(s string) int {
	in, at := false, -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			in = !in
		case '.':
			if !in {
				at = i
			}
		}
	}
	return at
}

// splitQualified splits "schema.name" at its last unquoted dot.
func splitQualified(s string) (string, string) {
	i := lastDot(s)
	if i < 0 {
		return "", s
	}
	return s[:i], s[i+1:]
}
