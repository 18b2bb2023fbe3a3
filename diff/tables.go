package diff

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pgmig/pgmig/lint"
	"github.com/pgmig/pgmig/schema"
)

// columnsOf returns the columns of table name in cat, in attnum order.
func columnsOf(cat *schema.Catalog, name string) []*schema.Item {
	var cols []*schema.Item
	for _, it := range cat.Items {
		if it.Kind == "column" && it.Table == name {
			cols = append(cols, it)
		}
	}
	slices.SortFunc(cols, func(a, b *schema.Item) int { return a.Num - b.Num })
	return cols
}

// columnDef is a column as CREATE TABLE and ADD COLUMN write it.
func columnDef(c *schema.Item) string {
	s := c.Local + " " + c.Type
	if c.Collation != "" {
		s += " COLLATE " + c.Collation
	}
	switch {
	case c.Generated != "" && c.Virtual:
		s += " GENERATED ALWAYS AS (" + c.Generated + ") VIRTUAL"
	case c.Generated != "":
		s += " GENERATED ALWAYS AS (" + c.Generated + ") STORED"
	case c.Identity != "":
		s += " GENERATED " + strings.ToUpper(c.Identity) + " AS IDENTITY"
		if c.IdentitySeq != "" {
			s += " (" + c.IdentitySeq + ")"
		}
	}
	if c.Default != "" {
		s += " DEFAULT " + c.Default
	}
	if c.NotNull {
		s += " NOT NULL"
	}
	return s
}

func (p *planner) tables() {
	for _, k := range p.kind("table") {
		c, d := p.cur.Items[k], p.des.Items[k]
		switch {
		case c == nil:
			p.createTable(k, d)
		case d == nil:
			p.addDrop(phDropLast, k, "DROP TABLE "+c.Name)
			p.change(k, "drop")
			p.refuse(k, "dropping a table loses its rows")
		default:
			p.alterTable(k, c, d)
		}
	}
}

func (p *planner) createTable(k string, d *schema.Item) {
	p.change(k, "create")
	kw := "TABLE"
	if d.Unlogged {
		kw = "UNLOGGED TABLE"
	}
	var sql string
	if d.PartitionOf != "" {
		sql = fmt.Sprintf("CREATE %s %s PARTITION OF %s %s", kw, d.Name, d.PartitionOf, d.PartitionBound)
	} else {
		var cols []string
		for _, col := range columnsOf(p.des, d.Name) {
			cols = append(cols, "    "+columnDef(col))
			p.change("column "+col.Name, "create")
			if col.Virtual {
				p.unlintable(col.Key(), "a virtual generated column")
			}
		}
		sql = fmt.Sprintf("CREATE %s %s (\n%s\n)", kw, d.Name, strings.Join(cols, ",\n"))
		defer func() {
			for _, col := range columnsOf(p.des, d.Name) {
				p.columnSettings(col.Key(), newColumn(col), col, false)
			}
		}()
	}
	if d.PartitionBy != "" {
		sql += " PARTITION BY " + d.PartitionBy
	}
	if d.Options != "" {
		sql += " WITH (" + d.Options + ")"
	}
	p.add(phTable, k, sql)
	if d.PartitionOf != "" {
		// A partition's columns are its parent's; what it sets of its own
		// (a default, NOT NULL) is altered after.
		parent := map[string]*schema.Item{}
		for _, col := range columnsOf(p.des, d.PartitionOf) {
			parent[col.Local] = col
		}
		for _, col := range columnsOf(p.des, d.Name) {
			if pc := parent[col.Local]; pc != nil {
				p.alterColumn(col.Key(), pc, col, true)
			}
		}
	}
	p.tableProps(k, &schema.Item{}, d)
}

func (p *planner) tableProps(k string, c, d *schema.Item) {
	if c.RowSecurity != d.RowSecurity {
		p.alter(phTableProps, k, fmt.Sprintf("ALTER TABLE %s %s ROW LEVEL SECURITY", d.Name, map[bool]string{true: "ENABLE", false: "DISABLE"}[d.RowSecurity]))
	}
	if c.ForceRLS != d.ForceRLS {
		p.alter(phTableProps, k, fmt.Sprintf("ALTER TABLE %s %s ROW LEVEL SECURITY", d.Name, map[bool]string{true: "FORCE", false: "NO FORCE"}[d.ForceRLS]))
	}
}

func (p *planner) alterTable(k string, c, d *schema.Item) {
	switch {
	case c.PartitionBy != d.PartitionBy:
		p.cannot(k, "changing whether or how a table is partitioned (from %q to %q)", c.PartitionBy, d.PartitionBy)
		return
	case c.PartitionOf != d.PartitionOf || c.PartitionBound != d.PartitionBound:
		if c.PartitionOf != "" {
			p.add(phTable, k, fmt.Sprintf("ALTER TABLE %s DETACH PARTITION %s", c.PartitionOf, c.Name))
		}
		if d.PartitionOf != "" {
			p.add(phTable, k, fmt.Sprintf("ALTER TABLE %s ATTACH PARTITION %s %s", d.PartitionOf, d.Name, d.PartitionBound))
			p.hazard(k, "ATTACH PARTITION scans the partition to check its bound")
		}
		p.change(k, "alter")
	}
	if c.Unlogged != d.Unlogged {
		p.add(phTableProps, k, fmt.Sprintf("ALTER TABLE %s SET %s", d.Name, map[bool]string{true: "UNLOGGED", false: "LOGGED"}[d.Unlogged]))
		p.hazard(k, "SET LOGGED/UNLOGGED rewrites the table under ACCESS EXCLUSIVE")
		p.change(k, "alter")
	}
	if c.Options != d.Options {
		if c.Options != "" {
			var keys []string
			for _, o := range strings.Split(c.Options, ", ") {
				name, _, _ := strings.Cut(o, "=")
				keys = append(keys, name)
			}
			p.add(phTableProps, k, fmt.Sprintf("ALTER TABLE %s RESET (%s)", d.Name, strings.Join(keys, ", ")))
		}
		if d.Options != "" {
			p.add(phTableProps, k, fmt.Sprintf("ALTER TABLE %s SET (%s)", d.Name, d.Options))
		}
		p.change(k, "alter")
	}
	p.tableProps(k, c, d)

	// Columns: ALTER TABLE appends new ones, so the columns both have
	// must keep their order and the new ones must come last.
	curCols, desCols := columnsOf(p.cur, c.Name), columnsOf(p.des, d.Name)
	have := map[string]*schema.Item{}
	for _, col := range curCols {
		have[col.Local] = col
	}
	want := map[string]bool{}
	seenNew := ""
	var keptDes []string
	for _, col := range desCols {
		want[col.Local] = true
		if have[col.Local] == nil {
			seenNew = col.Local
			continue
		}
		if seenNew != "" && d.PartitionOf == "" && p.reverse {
			p.reordered(k)
		} else if seenNew != "" && d.PartitionOf == "" {
			p.cannot("column "+col.Name, "column order: new column %s comes before the existing column %s, and ALTER TABLE ADD COLUMN can only append; move new columns to the end of the table", seenNew, col.Local)
		}
		keptDes = append(keptDes, col.Local)
	}
	var keptCur []string
	for _, col := range curCols {
		if want[col.Local] {
			keptCur = append(keptCur, col.Local)
		}
	}
	if !slices.Equal(keptCur, keptDes) && d.PartitionOf == "" && p.reverse {
		p.reordered(k)
	} else if !slices.Equal(keptCur, keptDes) && d.PartitionOf == "" {
		p.cannot(k, "column order: the columns (%s) would be (%s); PostgreSQL cannot reorder columns", strings.Join(keptCur, ", "), strings.Join(keptDes, ", "))
	}
	for _, col := range curCols {
		if !want[col.Local] {
			if !col.Inherited {
				p.addDrop(phDropLast, col.Key(), fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", c.Name, col.Local))
				p.refuse(col.Key(), "dropping a column loses its values")
			}
			p.change(col.Key(), "drop")
		}
	}
	for _, col := range desCols {
		if cc := have[col.Local]; cc != nil {
			p.alterColumn(col.Key(), cc, col, false)
		} else if !col.Inherited {
			p.addColumn(col)
		}
	}
}

func (p *planner) addColumn(col *schema.Item) {
	k := col.Key()
	p.change(k, "create")
	s := p.add(phColumn, k, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s", col.Table, columnDef(col)))
	defer p.columnSettings(k, newColumn(col), col, false)
	switch {
	case col.Generated != "" && col.Virtual:
		p.unlintable(k, "a virtual generated column")
	case col.Generated != "" || col.Identity != "":
		s.stmt.LintIgnore = "volatile-default the desired schema has it; the hazard is named in the file's header"
		p.hazard(k, "adding an identity or generated column rewrites the table under ACCESS EXCLUSIVE")
	case volatile(col.Default) != "":
		s.stmt.LintIgnore = "volatile-default the desired schema has it; the hazard is named in the file's header"
		p.hazard(k, "adding a column whose default calls %s() rewrites the table under ACCESS EXCLUSIVE if that function is volatile", volatile(col.Default))
	case col.NotNull && col.Default == "":
		s.stmt.LintIgnore = "not-null-without-default the desired schema has it; the hazard is named in the file's header"
		p.hazard(k, "adding a NOT NULL column without a default fails if the table has a row")
	}
}

// volatile returns the first function a default calls that pgmig lint
// does not know to be stable, or "": lint takes any other call as
// volatile (it cannot see how a user's function was declared), and a
// volatile default makes ADD COLUMN rewrite the table.
func volatile(def string) string {
	for _, m := range callRE.FindAllStringSubmatch(def, -1) {
		name := m[1]
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[i+1:]
		}
		if !lint.StableInDefault(strings.Trim(name, `"`)) {
			return m[1]
		}
	}
	return ""
}

var callRE = regexp.MustCompile(`((?:[a-zA-Z_][a-zA-Z0-9_$]*\.)?"?[a-zA-Z_][a-zA-Z0-9_$]*"?)\(`)

// alterColumn changes column c into d; inPartition says c is the parent's
// column that a new partition starts from.
func (p *planner) alterColumn(k string, c, d *schema.Item, inPartition bool) {
	at := "ALTER TABLE " + d.Table + " ALTER COLUMN " + d.Local
	fresh := inPartition || p.fresh[d.Table]
	changed := false
	if c.Generated != d.Generated || c.Virtual != d.Virtual {
		switch {
		case d.Generated == "" && c.Generated != "" && !c.Virtual:
			p.add(phColumn, k, at+" DROP EXPRESSION")
			changed = true
		case d.Generated == "" && c.Generated != "":
			// The values of a virtual column exist only as its
			// expression: PostgreSQL has no DROP EXPRESSION for one.
			p.cannot(k, "making a virtual generated column an ordinary one (drop and add the column instead)")
			return
		default:
			p.cannot(k, "changing or adding a column's generation expression (drop and add the column instead)")
			return
		}
	}
	if c.Type != d.Type || c.Collation != d.Collation || p.retyped[k] && !inPartition {
		sql := at + " TYPE " + d.Type
		if d.Collation != "" {
			sql += " COLLATE " + d.Collation
		}
		using := d.Local + "::" + d.Type
		if e := p.des.Items["type "+strings.TrimSuffix(d.Type, "[]")]; e != nil && e.TypeKind == 'e' {
			using = d.Local + "::text::" + d.Type
		} else if c.Type != d.Type && p.castable != nil && !p.castable(c.Type, d.Type) {
			p.cannot(k, "changing the type from %s to %s: PostgreSQL has no cast from one to the other, so the change needs a USING expression the desired schema does not give; write this migration by hand (pgmig create)", c.Type, d.Type)
			return
		}
		if c.Default != "" {
			// The old default may not cast to the new type; it is set again below.
			p.add(phColumn, k, at+" DROP DEFAULT")
			c = withDefault(c, "")
		}
		s := p.add(phColumn, k, sql+" USING "+using)
		coercible, narrow := typeChange(c.Type, d.Type)
		if c.Type == d.Type {
			// The type was recreated under its name (an enum that lost a
			// value): refused there when values go.
			narrow = false
		}
		if c.Collation != d.Collation {
			coercible = false
		}
		s.stmt.LintIgnore = "column-type-change the desired schema has it; the hazard, if any, is named in the file's header"
		if !coercible {
			p.hazard(k, "changing the type from %s to %s rewrites the table and its indexes under ACCESS EXCLUSIVE", c.Type, d.Type)
		}
		if narrow {
			p.refuse(k, "changing the type from %s to %s may not keep every value", c.Type, d.Type)
		}
		changed = true
	}
	if c.Default != d.Default && d.Generated == "" {
		if d.Default == "" {
			p.add(phColumn, k, at+" DROP DEFAULT")
		} else {
			p.add(phColumn, k, at+" SET DEFAULT "+d.Default)
		}
		changed = true
	}
	gaining := d.NotNull && !c.NotNull
	switch {
	case gaining && !inPartition && p.parentGainsNotNull(d):
		// The parent's CHECK, its validation and SET NOT NULL all
		// recurse to the partitions; a second pgmig_nn check here would
		// be an error, the name being taken by the inherited one.
		changed = true
	case gaining && fresh:
		p.add(phColumn, k, at+" SET NOT NULL")
		changed = true
	case gaining:
		p.setNotNull(k, d)
		changed = true
	case c.NotNull && d.NotNull && !inPartition && p.des.Server < 180000 && p.parentDropsNotNull(d):
		// Before 18, DROP NOT NULL on a partitioned table drops it on
		// every partition, even one that had it of its own: set again.
		p.setNotNull(k, d)
	}
	if c.Identity != d.Identity || c.IdentitySeq != d.IdentitySeq {
		switch {
		case d.Identity == "":
			p.add(phColumn, k, at+" DROP IDENTITY")
		case c.Identity == "":
			ph := phColumn
			if gaining && !fresh {
				ph = phNoTxNotNull // after the column is made NOT NULL
			}
			s := p.add(ph, k, at+" ADD GENERATED "+strings.ToUpper(d.Identity)+" AS IDENTITY ("+d.IdentitySeq+")")
			s.stmt.NoTransaction = ph == phNoTxNotNull
		case seqName(c.IdentitySeq) != seqName(d.IdentitySeq):
			p.cannot(k, "renaming an identity column's sequence")
		default:
			sql := at
			if c.Identity != d.Identity {
				sql += " SET GENERATED " + strings.ToUpper(d.Identity)
			}
			if c.IdentitySeq != d.IdentitySeq {
				sql += identitySet(d.IdentitySeq)
			}
			p.add(phColumn, k, sql)
		}
		changed = true
	}
	if c.NotNull && !d.NotNull {
		p.add(phColumn, k, at+" DROP NOT NULL")
		changed = true
	}
	retyped := c.Type != d.Type || c.Collation != d.Collation || p.retyped[k] && !inPartition
	if p.columnSettings(k, c, d, retyped) {
		changed = true
	}
	if changed && !inPartition {
		p.change(k, "alter")
	}
}

// parentColumn is the column of the partitioned table that the column
// col of a partition in cat comes from, or nil.
func parentColumn(cat *schema.Catalog, col *schema.Item) *schema.Item {
	t := cat.Items["table "+col.Table]
	if t == nil || t.PartitionOf == "" {
		return nil
	}
	return cat.Items["column "+t.PartitionOf+"."+col.Local]
}

// parentGainsNotNull reports whether the desired partition column d's
// parent column (or its parent's, up the tree) is made NOT NULL by the
// plan through setNotNull, which reaches d too.
func (p *planner) parentGainsNotNull(d *schema.Item) bool {
	for pd := parentColumn(p.des, d); pd != nil; pd = parentColumn(p.des, pd) {
		pc := p.cur.Items[pd.Key()]
		if pc != nil && pd.NotNull && !pc.NotNull && !p.fresh[pd.Table] {
			return true
		}
	}
	return false
}

// parentDropsNotNull reports whether the plan drops NOT NULL from the
// parent column of the desired partition column d, or its parent's.
func (p *planner) parentDropsNotNull(d *schema.Item) bool {
	for pd := parentColumn(p.des, d); pd != nil; pd = parentColumn(p.des, pd) {
		if pc := p.cur.Items[pd.Key()]; pc != nil && pc.NotNull && !pd.NotNull {
			return true
		}
	}
	return false
}

// identitySet turns identity sequence options into ALTER COLUMN's
// "SET option" list.
func identitySet(opts string) string {
	f := strings.Fields(opts)
	var out []string
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case "SEQUENCE":
			i += 2 // SEQUENCE NAME x: unchanged, checked by the caller
		case "START", "INCREMENT":
			out = append(out, "SET "+f[i]+" "+f[i+1]+" "+f[i+2])
			i += 2
		case "MINVALUE", "MAXVALUE", "CACHE":
			out = append(out, "SET "+f[i]+" "+f[i+1])
			i++
		case "CYCLE":
			out = append(out, "SET CYCLE")
		}
	}
	if !slices.Contains(f, "CYCLE") {
		out = append(out, "SET NO CYCLE")
	}
	return " " + strings.Join(out, " ")
}

// columnSettings writes a column's storage, compression, statistics
// target and options where they differ from c's; retyped says the type
// changed, which resets the storage to the new type's.
func (p *planner) columnSettings(k string, c, d *schema.Item, retyped bool) bool {
	at := "ALTER TABLE " + d.Table + " ALTER COLUMN " + d.Local
	changed := false
	storage := c.Storage
	if retyped {
		storage = d.TypStorage
	}
	if storage != d.Storage {
		p.add(phColumn, k, at+" SET STORAGE "+d.Storage)
		changed = true
	}
	if c.Compression != d.Compression {
		p.add(phColumn, k, at+" SET COMPRESSION "+firstNonEmpty(d.Compression, "DEFAULT"))
		changed = true
	}
	if c.Statistics != d.Statistics {
		p.add(phColumn, k, fmt.Sprintf("%s SET STATISTICS %d", at, d.Statistics))
		changed = true
	}
	if c.ColOptions != d.ColOptions {
		if c.ColOptions != "" {
			p.add(phColumn, k, at+" RESET ("+optionKeys(c.ColOptions)+")")
		}
		if d.ColOptions != "" {
			p.add(phColumn, k, at+" SET ("+d.ColOptions+")")
		}
		changed = true
	}
	return changed
}

// newColumn is what a column starts as when ADD COLUMN or CREATE TABLE
// makes it: the settings of its type.
func newColumn(d *schema.Item) *schema.Item {
	return &schema.Item{Storage: d.TypStorage, TypStorage: d.TypStorage, Statistics: -1}
}

func optionKeys(opts string) string {
	var keys []string
	for _, o := range strings.Split(opts, ", ") {
		name, _, _ := strings.Cut(o, "=")
		keys = append(keys, name)
	}
	return strings.Join(keys, ", ")
}

// tableExtras writes what needs a table's indexes: its replica identity
// and the index it is clustered on.
func (p *planner) tableExtras() {
	for _, k := range p.kind("table") {
		if d := p.des.Items[k]; d != nil {
			c := p.cur.Items[k]
			if c == nil {
				c = &schema.Item{}
			}
			p.replicaAndCluster(k, c, d)
		}
	}
}

// replicaAndCluster writes a table's REPLICA IDENTITY and the index it is
// clustered on, after the index exists.
func (p *planner) replicaAndCluster(k string, c, d *schema.Item) {
	sch, _ := splitQualified(d.Name)
	late := func(idx string) bool {
		return p.late["constraint "+d.Name+"."+idx] || p.creating("index "+sch+"."+idx) && p.des.Items["index "+sch+"."+idx] != nil && !p.fresh[d.Name]
	}
	emit := func(sql, idx string) {
		if idx != "" && late(idx) {
			s := p.add(phNoTxFK, k, sql)
			s.stmt.NoTransaction = true
		} else {
			p.add(phTrigger, k, sql)
		}
		p.change(k, "alter")
	}
	if c.ReplicaIdentity != d.ReplicaIdentity {
		emit("ALTER TABLE "+d.Name+" REPLICA IDENTITY "+firstNonEmpty(d.ReplicaIdentity, "DEFAULT"), strings.TrimPrefix(d.ReplicaIdentity, "USING INDEX "))
	}
	clustered := func(cat *schema.Catalog, table string) string {
		for _, it := range cat.Items {
			if it.Clustered && it.Table == table {
				if it.Kind == "index" {
					_, l := splitQualified(it.Name)
					return l
				}
				return it.Local
			}
		}
		return ""
	}
	was, now := "", clustered(p.des, d.Name)
	if c.Name != "" {
		was = clustered(p.cur, c.Name)
	}
	if was != now || now != "" && (p.replaced["index "+sch+"."+now] || p.replaced["constraint "+d.Name+"."+now]) {
		if now == "" {
			emit("ALTER TABLE "+d.Name+" SET WITHOUT CLUSTER", "")
		} else {
			emit("ALTER TABLE "+d.Name+" CLUSTER ON "+now, now)
		}
	}
}

func withDefault(c *schema.Item, def string) *schema.Item {
	cp := *c
	cp.Default = def
	return &cp
}

func seqName(opts string) string {
	f := strings.Fields(opts)
	if len(f) >= 3 && f[0] == "SEQUENCE" && f[1] == "NAME" {
		return f[2]
	}
	return ""
}

// setNotNull makes an existing column NOT NULL without holding ACCESS
// EXCLUSIVE through a scan (PostgreSQL 12+): a CHECK (col IS NOT NULL)
// added NOT VALID, validated under a lock that lets writes through, lets
// SET NOT NULL skip its scan; the CHECK is dropped after.
func (p *planner) setNotNull(k string, d *schema.Item) {
	con := ident(truncIdent("pgmig_nn_" + unquote(d.Local)))
	p.add(phColumn, k, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID", d.Table, con, d.Local))
	for _, sql := range []string{
		fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", d.Table, con),
		fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", d.Table, d.Local),
		fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", d.Table, con),
	} {
		s := p.add(phNoTxNotNull, k, sql)
		s.stmt.NoTransaction = true
	}
}

// typeChange says whether a column's type change from a to b needs no
// rewrite (binary-coercible), and whether it may not keep every value.
func typeChange(a, b string) (coercible, narrow bool) {
	base := func(t string) (string, []int) {
		name, mods, ok := strings.Cut(t, "(")
		if !ok {
			return t, nil
		}
		var ns []int
		for _, m := range strings.Split(strings.TrimSuffix(mods, ")"), ",") {
			var n int
			fmt.Sscanf(strings.TrimSpace(m), "%d", &n)
			ns = append(ns, n)
		}
		return name, ns
	}
	an, am := base(a)
	bn, bm := base(b)
	rank := map[string]int{"smallint": 1, "integer": 2, "bigint": 3}
	switch {
	case an == bn && (an == "character varying" || an == "bit varying"):
		return bm == nil || am != nil && bm[0] >= am[0], !(bm == nil || am != nil && bm[0] >= am[0])
	case an == "character varying" && bn == "text", an == "text" && b == "character varying":
		return true, false
	case an == "character" && (bn == "text" || bn == "character varying" && (bm == nil || am != nil && bm[0] >= am[0])):
		return false, false
	case an == "numeric" && bn == "numeric":
		switch {
		case bm == nil:
			return true, false
		case am == nil:
			return false, true
		}
		as, bs := 0, 0
		if len(am) > 1 {
			as = am[1]
		}
		if len(bm) > 1 {
			bs = bm[1]
		}
		wide := bs >= as && bm[0]-bs >= am[0]-as
		return wide && bs == as, !wide
	case rank[an] > 0 && rank[bn] > 0:
		return false, rank[bn] < rank[an]
	case rank[an] > 0 && (bn == "numeric" && bm == nil || bn == "text"):
		return false, false
	case an == "real" && bn == "double precision":
		return false, false
	case an == "timestamp without time zone" && bn == "timestamp with time zone":
		return false, false
	case an == "cidr" && bn == "inet", an == "json" && bn == "jsonb":
		return an == "cidr", false
	}
	return false, true
}

// reordered notes a table whose column order the down cannot restore: a
// column the up drops comes back at the end.
func (p *planner) reordered(k string) {
	if !slices.Contains(p.reorders, k) {
		p.reorders = append(p.reorders, k)
	}
}

func (p *planner) constraints() {
	// A unique or primary key constraint added to an existing table is
	// built in the no-transaction part; an FK that uses it follows it.
	for _, k := range p.kind("constraint") {
		if d := p.des.Items[k]; d != nil && !d.Inherited && p.creating(k) && (d.ConType == 'p' || d.ConType == 'u') &&
			!p.fresh[d.Table] && d.IndexDef != "" && !p.onPartitioned(p.des, d.Table) {
			p.late[k] = true
		}
	}
	for _, k := range p.kind("constraint") {
		c, d := p.cur.Items[k], p.des.Items[k]
		if c != nil && c.Inherited || d != nil && d.Inherited {
			continue
		}
		if c != nil && p.gone(k) && !p.tableGone(c.Table) {
			ph := phDropCon
			if c.ConType == 'f' {
				ph = phDropFK
			}
			p.addDrop(ph, k, fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", c.Table, c.Local))
			if d == nil {
				p.change(k, "drop")
			}
		}
		if d == nil {
			continue
		}
		if !p.creating(k) {
			if !c.Validated && d.Validated {
				p.alter(phFK, k, fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", d.Table, d.Local))
			} else if c.Validated && !d.Validated {
				p.addDrop(phDropCon, k, fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", c.Table, c.Local))
				p.add(phFK, k, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", d.Table, d.Local, d.Def))
				p.change(k, "replace")
			}
			continue
		}
		p.change(k, map[bool]string{true: "replace", false: "create"}[c != nil])
		p.addConstraint(k, d)
	}
}

func (p *planner) addConstraint(k string, d *schema.Item) {
	if strings.HasSuffix(strings.TrimSuffix(d.Def, " NOT VALID"), " NOT ENFORCED") {
		p.unlintable(k, "a NOT ENFORCED constraint")
		return
	}
	at := "ALTER TABLE " + d.Table + " ADD CONSTRAINT " + d.Local + " "
	ph := phConstraint
	if d.ConType == 'f' {
		ph = phFK
	}
	if p.fresh[d.Table] {
		p.add(ph, k, at+d.Def)
		return
	}
	// Pushed after the no-transaction steps whose results it uses (a new
	// unique constraint an FK references).
	afterNoTx := false
	for _, dep := range d.Deps {
		if p.late[dep] {
			afterNoTx = true
		}
	}
	switch d.ConType {
	case 'f':
		if p.onPartitioned(p.des, d.Table) && p.des.Server < 180000 {
			// Before 18, ADD FOREIGN KEY … NOT VALID on a partitioned
			// table is an error ("not yet supported"): it is added
			// validated, scanning each partition.
			if afterNoTx {
				ph = phNoTxFK
			}
			s := p.add(ph, k, at+strings.TrimSuffix(d.Def, " NOT VALID"))
			s.stmt.NoTransaction = afterNoTx
			s.stmt.LintIgnore = "constraint-not-valid PostgreSQL before 18 cannot add a foreign key NOT VALID on a partitioned table"
			p.hazard(k, "adding a foreign key to a partitioned table checks every row of its partitions while blocking their writes (PostgreSQL before 18 cannot add it NOT VALID there)")
			return
		}
		fallthrough
	case 'c':
		def := strings.TrimSuffix(d.Def, " NOT VALID")
		if afterNoTx {
			ph = phNoTxFK
		}
		s := p.add(ph, k, at+def+" NOT VALID")
		s.stmt.NoTransaction = afterNoTx
		if d.Validated {
			vph := phNoTxValidate
			if afterNoTx {
				vph = phNoTxFK
			}
			v := p.add(vph, k, fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", d.Table, d.Local))
			v.stmt.NoTransaction = true
		}
	case 'p', 'u':
		if !p.late[k] {
			s := p.add(ph, k, at+d.Def)
			s.stmt.LintIgnore = "unique-constraint CREATE INDEX CONCURRENTLY cannot build a partitioned table's index"
			p.hazard(k, "adding the constraint builds its index under ACCESS EXCLUSIVE (no CONCURRENTLY on a partitioned table)")
			return
		}
		idx := concurrently(d.IndexDef)
		s := p.add(phNoTxIndex, k, idx)
		s.stmt.NoTransaction = true
		kind := "UNIQUE"
		if d.ConType == 'p' {
			kind = "PRIMARY KEY"
		}
		sql := at + kind + " USING INDEX " + d.Local
		if strings.Contains(d.Def, " DEFERRABLE") && !strings.Contains(d.Def, "NOT DEFERRABLE") {
			sql += " DEFERRABLE"
			if strings.Contains(d.Def, "INITIALLY DEFERRED") {
				sql += " INITIALLY DEFERRED"
			}
		}
		u := p.add(phNoTxUsing, k, sql)
		u.stmt.NoTransaction = true
	case 'x':
		s := p.add(ph, k, at+d.Def)
		s.stmt.LintIgnore = "unique-constraint an exclusion constraint cannot be added USING INDEX"
		p.hazard(k, "adding an exclusion constraint builds its index under ACCESS EXCLUSIVE")
	}
}

// concurrently turns "CREATE [UNIQUE] INDEX name ON ..." into its
// CONCURRENTLY form.
func concurrently(def string) string {
	if rest, ok := strings.CutPrefix(def, "CREATE UNIQUE INDEX "); ok {
		return "CREATE UNIQUE INDEX CONCURRENTLY " + rest
	}
	return "CREATE INDEX CONCURRENTLY " + strings.TrimPrefix(def, "CREATE INDEX ")
}

func (p *planner) indexes() {
	for _, k := range p.kind("index") {
		c, d := p.cur.Items[k], p.des.Items[k]
		if c != nil && c.Inherited || d != nil && d.Inherited {
			continue
		}
		if c != nil && p.gone(k) && !p.tableGone(c.Table) && !p.columnGone(c) {
			if e := p.dropFirst(c); e != "" {
				// It uses an enum or function that is dropped and created
				// again in the transaction: it must go before. An enum's
				// swap rewrites the table under ACCESS EXCLUSIVE anyway;
				// the index is built again concurrently after.
				s := p.addDrop(phDropIndex, k, "DROP INDEX "+c.Name)
				s.stmt.LintIgnore = "index-not-concurrent it uses " + e + ", which is recreated: it must go before, in the same transaction"
				p.hazard(k, "dropped with %s recreated, and built again after: queries that use it go without it in between", e)
			} else if p.onPartitioned(p.cur, c.Table) {
				s := p.addDrop(phDropIndex, k, "DROP INDEX "+c.Name)
				s.stmt.LintIgnore = "index-not-concurrent DROP INDEX CONCURRENTLY cannot drop a partitioned table's index"
				p.hazard(k, "dropping an index of a partitioned table blocks its reads and writes while it runs")
			} else {
				s := p.addDrop(phNoTxDropIdx, k, "DROP INDEX CONCURRENTLY "+c.Name)
				s.stmt.NoTransaction = true
			}
			if d == nil {
				p.change(k, "drop")
			}
		}
		if c != nil && d == nil && !p.gone(k) {
			p.change(k, "drop")
		}
		if d == nil || !p.creating(k) {
			continue
		}
		p.change(k, map[bool]string{true: "replace", false: "create"}[c != nil])
		// On a partitioned table, pg_get_indexdef says ON ONLY: created
		// that way the partitions would not get the index.
		def := strings.Replace(d.Def, " ON ONLY ", " ON ", 1)
		switch {
		case p.des.Items["materialized view "+d.Table] != nil && p.fresh[d.Table]:
			p.add(phLate, k, def)
		case p.fresh[d.Table]:
			p.add(phIndex, k, def)
		case p.onPartitioned(p.des, d.Table):
			s := p.add(phIndex, k, def)
			s.stmt.LintIgnore = "index-not-concurrent CREATE INDEX CONCURRENTLY cannot build a partitioned table's index"
			p.hazard(k, "building an index on a partitioned table blocks its writes while it runs")
		default:
			s := p.add(phNoTxIndex, k, concurrently(def))
			s.stmt.NoTransaction = true
		}
	}
}

// dropFirst is what the current item it uses that the plan drops and
// creates again in its transaction: an enum type recreated under its name
// (values removed or reordered), or a function with a new result type or
// argument names. It is "" when there is none.
func (p *planner) dropFirst(it *schema.Item) string {
	for _, d := range it.Deps {
		t := p.cur.Items[d]
		if t == nil || !p.replaced[d] || p.des.Items[d] == nil {
			continue
		}
		if t.Kind == "type" && t.TypeKind == 'e' || t.Kind == "function" || t.Kind == "procedure" {
			return t.Name
		}
	}
	return ""
}

// columnGone reports whether a column the index uses is dropped: the
// drop takes the index with it.
func (p *planner) columnGone(it *schema.Item) bool {
	for _, d := range it.Deps {
		if strings.HasPrefix(d, "column ") && p.dropped[d] {
			return true
		}
	}
	return false
}

func (p *planner) onPartitioned(cat *schema.Catalog, table string) bool {
	t := cat.Items["table "+table]
	return t != nil && t.PartitionBy != ""
}

// ident quotes a name where SQL needs it.
func ident(s string) string {
	ok := s != ""
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && (r >= '0' && r <= '9' || r == '$')) {
			ok = false
		}
	}
	if ok && !reserved[s] {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

var reserved = map[string]bool{"user": true, "order": true, "table": true, "select": true, "check": true, "default": true, "group": true, "from": true, "to": true, "all": true}

func unquote(s string) string {
	if strings.HasPrefix(s, `"`) && strings.HasSuffix(s, `"`) && len(s) >= 2 {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return s
}

func truncIdent(s string) string {
	for len(s) > 63 {
		s = s[:len(s)-1]
	}
	return s
}
