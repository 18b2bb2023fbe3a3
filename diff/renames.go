package diff

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pgmig/pgmig/schema"
)

// rename is one Options.Renames hint, resolved: a table (from and to are
// qualified table names) or a column (of table; from and to are the
// column names).
type rename struct {
	kind     string // "table" or "column"
	table    string
	from, to string
}

func (r rename) reverse() rename {
	return rename{kind: r.kind, table: r.tableAfter(), from: r.to, to: r.from}
}

// tableAfter is the table's name once the rename is done.
func (r rename) tableAfter() string { return r.table }

func (r rename) sql() string {
	if r.kind == "table" {
		_, local := splitQualified(r.to)
		return fmt.Sprintf("ALTER TABLE %s RENAME TO %s", r.from, local)
	}
	return fmt.Sprintf("ALTER TABLE %s RENAME COLUMN %s TO %s", r.table, r.from, r.to)
}

// RenameError is an Options.Renames hint that names nothing to rename.
type RenameError struct {
	Hint string
	Msg  string
}

func (e *RenameError) Error() string { return fmt.Sprintf("rename %q: %s", e.Hint, e.Msg) }

// splitName splits a dotted name at unquoted dots, folding unquoted parts
// to lower case and quoting each part as the catalog does.
func splitName(s string) []string {
	var parts []string
	var cur strings.Builder
	quoted, in := false, false
	flush := func() {
		p := cur.String()
		if !quoted {
			p = strings.ToLower(strings.TrimSpace(p))
		}
		parts = append(parts, ident(p))
		cur.Reset()
		quoted = false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' && in && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			in, quoted = !in, true
		case c == '.' && !in:
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return parts
}

func parseRenames(cur, des *schema.Catalog, hints []string) ([]rename, error) {
	var out []rename
	for _, h := range hints {
		oldS, newS, ok := strings.Cut(h, "=")
		if !ok || strings.TrimSpace(oldS) == "" || strings.TrimSpace(newS) == "" {
			return nil, &RenameError{Hint: h, Msg: "want OLD=NEW"}
		}
		old, nw := splitName(oldS), splitName(newS)
		table := func(parts []string) string {
			if len(parts) == 1 {
				return "public." + parts[0]
			}
			return strings.Join(parts, ".")
		}
		var r rename
		switch {
		case len(old) <= 2 && cur.Items["table "+table(old)] != nil:
			r = rename{kind: "table", from: table(old)}
			if len(nw) == 1 {
				s, _ := splitQualified(r.from)
				r.to = s + "." + nw[0]
			} else {
				r.to = table(nw)
			}
			if s1, _ := splitQualified(r.from); !strings.HasPrefix(r.to, s1+".") {
				return nil, &RenameError{Hint: h, Msg: "a rename keeps the table's schema"}
			}
			if des.Items["table "+r.to] == nil {
				return nil, &RenameError{Hint: h, Msg: fmt.Sprintf("the desired schema has no table %s", r.to)}
			}
			r.table = r.to
		case len(old) >= 2 && len(old) <= 3:
			t := table(old[:len(old)-1])
			if cur.Items["column "+t+"."+old[len(old)-1]] == nil {
				return nil, &RenameError{Hint: h, Msg: "the current schema has no such table or column"}
			}
			r = rename{kind: "column", table: t, from: old[len(old)-1], to: nw[len(nw)-1]}
		default:
			return nil, &RenameError{Hint: h, Msg: "the current schema has no such table or column"}
		}
		out = append(out, r)
	}
	// A column hint names its table as the current schema does; once a
	// table hint renames that table, the column is renamed on the new name.
	for i := range out {
		if out[i].kind != "column" {
			continue
		}
		for _, t := range out {
			if t.kind == "table" && t.from == out[i].table {
				out[i].table = t.to
			}
		}
	}
	// Table renames first: the column hints name the table by its new name.
	var tables, cols []rename
	for _, r := range out {
		if r.kind == "table" {
			tables = append(tables, r)
		} else {
			cols = append(cols, r)
		}
	}
	return append(tables, cols...), nil
}

// applyRenames returns a copy of cat as it is after the renames.
func applyRenames(cat *schema.Catalog, renames []rename) *schema.Catalog {
	out := &schema.Catalog{Items: map[string]*schema.Item{}, User: cat.User, Server: cat.Server}
	for _, it := range cat.Items {
		cp := *it
		cp.Deps = append([]string(nil), it.Deps...)
		out.Items[cp.Key()] = &cp
	}
	for _, r := range renames {
		next := &schema.Catalog{Items: map[string]*schema.Item{}, User: cat.User, Server: cat.Server}
		for _, it := range out.Items {
			if r.kind == "table" {
				renameTable(it, r.from, r.to)
			} else {
				renameColumn(it, r.table, r.from, r.to)
			}
			next.Items[it.Key()] = it
		}
		out = next
	}
	return out
}

func renameTable(it *schema.Item, from, to string) {
	sub := func(s string) string { return replaceName(s, from, to, false) }
	if it.Name == from || strings.HasPrefix(it.Name, from+".") && it.Kind != "function" && it.Kind != "procedure" {
		it.Name = to + strings.TrimPrefix(it.Name, from)
	}
	if it.Table == from {
		it.Table = to
	}
	for i, d := range it.Deps {
		kind, name, _ := strings.Cut(d, " ")
		if strings.HasSuffix(kind, "view") || strings.HasSuffix(kind, "view column") {
			continue
		}
		if name == from || strings.HasPrefix(name, from+".") {
			it.Deps[i] = kind + " " + to + strings.TrimPrefix(name, from)
		}
	}
	it.Def, it.IndexDef, it.Query, it.OwnedBy, it.Type = sub(it.Def), sub(it.IndexDef), sub(it.Query), sub(it.OwnedBy), sub(it.Type)
	it.PartitionOf, it.Using, it.WithCheck = sub(it.PartitionOf), sub(it.Using), sub(it.WithCheck)
}

func renameColumn(it *schema.Item, table, from, to string) {
	if it.Kind == "column" && it.Table == table && it.Local == from {
		it.Local, it.Name = to, table+"."+to
	}
	for i, d := range it.Deps {
		if d == "column "+table+"."+from {
			it.Deps[i] = "column " + table + "." + to
		}
	}
	if it.OwnedBy == table+"."+from {
		it.OwnedBy = table + "." + to
	}
	if it.Table == table && it.Kind != "column" {
		sub := func(s string) string { return replaceName(s, from, to, true) }
		it.Def, it.IndexDef, it.Using, it.WithCheck = sub(it.Def), sub(it.IndexDef), sub(it.Using), sub(it.WithCheck)
	}
}

// replaceName replaces the name from by to in SQL text where it stands as
// a whole name (not inside a longer identifier).
func replaceName(s, from, to string, afterDot bool) string {
	if s == "" || !strings.Contains(s, from) {
		return s
	}
	identChar := func(c byte) bool {
		return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], from)
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		j += i
		end := j + len(from)
		okBefore := j == 0 || !identChar(s[j-1]) && (afterDot || s[j-1] != '.')
		okAfter := end == len(s) || !identChar(s[end])
		b.WriteString(s[i:j])
		if okBefore && okAfter {
			b.WriteString(to)
		} else {
			b.WriteString(from)
		}
		i = end
	}
	return b.String()
}

// renameCandidates are the tables and columns the plan drops with another
// added in their place, which may be renames. A column is taken for one
// added where it stood: between the same columns both tables have (a
// rename keeps the column's place); where that finds none, a table's one
// dropped column for its one added column. A table is taken for one added
// in its schema with the same columns, or for the schema's one added
// table when it is the one dropped.
func (p *planner) renameCandidates() []RenameCandidate {
	var out []RenameCandidate
	droppedTables, addedTables := map[string][]*schema.Item{}, map[string][]*schema.Item{}
	for _, k := range p.kind("table") {
		c, d := p.cur.Items[k], p.des.Items[k]
		switch {
		case d == nil:
			droppedTables[c.Schema] = append(droppedTables[c.Schema], c)
		case c == nil:
			addedTables[d.Schema] = append(addedTables[d.Schema], d)
		default:
			out = append(out, p.columnCandidates(c, d)...)
		}
	}
	colNames := func(cat *schema.Catalog, t string) string {
		var names []string
		for _, col := range columnsOf(cat, t) {
			names = append(names, col.Local)
		}
		return strings.Join(names, ",")
	}
	for sch, gone := range droppedTables {
		added := addedTables[sch]
		for _, g := range gone {
			for _, a := range added {
				if len(gone) == 1 && len(added) == 1 || colNames(p.cur, g.Name) == colNames(p.des, a.Name) {
					_, local := splitQualified(a.Name)
					out = append(out, RenameCandidate{Kind: "table", Old: g.Name, New: a.Name, Hint: g.Name + "=" + local})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b RenameCandidate) int {
		return strings.Compare(a.Kind+" "+a.Old+" "+a.New, b.Kind+" "+b.Old+" "+b.New)
	})
	return out
}

// columnCandidates are the columns of table c dropped with one of d added
// in their place.
func (p *planner) columnCandidates(c, d *schema.Item) []RenameCandidate {
	curCols, desCols := columnsOf(p.cur, c.Name), columnsOf(p.des, d.Name)
	inCur, inDes := map[string]bool{}, map[string]bool{}
	for _, col := range curCols {
		inCur[col.Local] = true
	}
	for _, col := range desCols {
		inDes[col.Local] = true
	}
	// slots maps each column only one side has to its place: the number
	// of columns both have that come before it.
	slots := func(cols []*schema.Item, other map[string]bool) map[int][]*schema.Item {
		m := map[int][]*schema.Item{}
		kept := 0
		for _, col := range cols {
			switch {
			case other[col.Local]:
				kept++
			case !col.Inherited:
				m[kept] = append(m[kept], col)
			}
		}
		return m
	}
	gone, added := slots(curCols, inDes), slots(desCols, inCur)
	cand := func(g, a *schema.Item) RenameCandidate {
		return RenameCandidate{Kind: "column", Old: g.Name, New: a.Name, Hint: g.Name + "=" + a.Local}
	}
	var out []RenameCandidate
	for slot, gs := range gone {
		for _, g := range gs {
			for _, a := range added[slot] {
				out = append(out, cand(g, a))
			}
		}
	}
	if len(out) == 0 && len(gone) == 1 && len(added) == 1 {
		for _, gs := range gone {
			for _, as := range added {
				if len(gs) == 1 && len(as) == 1 {
					out = append(out, cand(gs[0], as[0]))
				}
			}
		}
	}
	return out
}
