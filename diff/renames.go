package diff

import (
	"fmt"
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
