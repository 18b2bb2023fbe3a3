package diff_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/pgmig/pgmig/diff"
)

var seeds = flag.Int("seeds", 8, "how many random schema pairs TestRandomEdits plans and round-trips")

// gen is a small random schema: enough kinds of objects, and links
// between them, that random edits exercise ordering and dependencies.
type gen struct {
	seq      *int // names objects uniquely, shared by a schema and its edits
	enumVals []string
	tables   []*gTable
	indexes  []gIndex
	fks      []gFK
	views    []gView
}

type gTable struct {
	name    string
	cols    []gCol
	pk      bool
	comment string
	unique  string // a column with a UNIQUE constraint, or ""
	trigger bool   // a trigger calling touch()
}

type gCol struct {
	name, typ, def string
	notNull        bool
	check          bool
}

type gIndex struct{ name, table, expr, where string }
type gFK struct{ name, table, col, ref string }
type gView struct{ name, table, cols string }

var colTypes = []string{"integer", "bigint", "text", "varchar(10)", "varchar(40)", "numeric(8,2)", "date", "boolean", "mood"}

func (g *gen) clone() *gen {
	c := *g
	c.enumVals = slices.Clone(g.enumVals)
	c.tables = nil
	for _, t := range g.tables {
		ct := *t
		ct.cols = slices.Clone(t.cols)
		c.tables = append(c.tables, &ct)
	}
	c.indexes, c.fks, c.views = slices.Clone(g.indexes), slices.Clone(g.fks), slices.Clone(g.views)
	return &c
}

func (g *gen) table(name string) *gTable {
	for _, t := range g.tables {
		if t.name == name {
			return t
		}
	}
	return nil
}

func (t *gTable) col(name string) *gCol {
	for i := range t.cols {
		if t.cols[i].name == name {
			return &t.cols[i]
		}
	}
	return nil
}

func (g *gen) next() int { *g.seq++; return *g.seq }

func (g *gen) randCol(r *rand.Rand) gCol {
	c := gCol{name: fmt.Sprintf("c%d", g.next()), typ: colTypes[r.IntN(len(colTypes))]}
	if r.IntN(3) == 0 {
		c.notNull = true
		c.def = defaultFor(c.typ)
	}
	if r.IntN(4) == 0 && c.def == "" {
		c.def = defaultFor(c.typ)
	}
	c.check = r.IntN(6) == 0 && (c.typ == "integer" || c.typ == "bigint")
	return c
}

func defaultFor(typ string) string {
	switch typ {
	case "integer", "bigint", "numeric(8,2)":
		return "0"
	case "text", "varchar(10)", "varchar(40)":
		return "''"
	case "date":
		return "'2020-01-01'"
	case "boolean":
		return "false"
	case "mood":
		return "'sad'"
	}
	return ""
}

func randGen(r *rand.Rand) *gen {
	g := &gen{seq: new(int), enumVals: []string{"sad", "happy"}}
	for i := 0; i < 1+r.IntN(3); i++ {
		g.addTable(r)
	}
	for i := 0; i < r.IntN(3); i++ {
		g.addIndex(r)
	}
	for i := 0; i < r.IntN(2); i++ {
		g.addFK(r)
	}
	for i := 0; i < r.IntN(2); i++ {
		g.addView(r)
	}
	return g
}

func (g *gen) addTable(r *rand.Rand) {
	t := &gTable{name: fmt.Sprintf("t%d", g.next()), pk: r.IntN(2) == 0}
	for i := 0; i < 1+r.IntN(3); i++ {
		t.cols = append(t.cols, g.randCol(r))
	}
	g.tables = append(g.tables, t)
}

func (g *gen) addIndex(r *rand.Rand) {
	if len(g.tables) == 0 {
		return
	}
	t := g.tables[r.IntN(len(g.tables))]
	c := t.cols[r.IntN(len(t.cols))]
	ix := gIndex{name: fmt.Sprintf("ix%d", g.next()), table: t.name, expr: c.name}
	if r.IntN(3) == 0 {
		ix.where = c.name + " IS NOT NULL"
	}
	g.indexes = append(g.indexes, ix)
}

func (g *gen) addFK(r *rand.Rand) {
	var refs []*gTable
	for _, t := range g.tables {
		if t.pk {
			refs = append(refs, t)
		}
	}
	if len(refs) == 0 || len(g.tables) == 0 {
		return
	}
	ref := refs[r.IntN(len(refs))]
	t := g.tables[r.IntN(len(g.tables))]
	for _, c := range t.cols {
		if c.typ == "bigint" && !c.check {
			g.fks = append(g.fks, gFK{name: fmt.Sprintf("fk%d", g.next()), table: t.name, col: c.name, ref: ref.name})
			return
		}
	}
}

func (g *gen) addView(r *rand.Rand) {
	if len(g.tables) == 0 {
		return
	}
	t := g.tables[r.IntN(len(g.tables))]
	n := g.next()
	cols := []string{}
	for _, c := range t.cols {
		if r.IntN(2) == 0 {
			cols = append(cols, c.name)
		}
	}
	if len(cols) == 0 {
		cols = append(cols, t.cols[0].name)
	}
	g.views = append(g.views, gView{name: fmt.Sprintf("v%d", n), table: t.name, cols: strings.Join(cols, ", ")})
}

// edit makes one random change, keeping the schema valid: what refers to
// a dropped object goes with it.
func (g *gen) edit(r *rand.Rand) {
	switch r.IntN(15) {
	case 0:
		g.addTable(r)
	case 1:
		if len(g.tables) > 1 {
			i := r.IntN(len(g.tables))
			g.dropTable(g.tables[i].name)
		}
	case 2:
		if len(g.tables) > 0 {
			t := g.tables[r.IntN(len(g.tables))]
			t.cols = append(t.cols, g.randCol(r))
		}
	case 3:
		if len(g.tables) > 0 {
			t := g.tables[r.IntN(len(g.tables))]
			if len(t.cols) > 1 {
				g.dropColumn(t, t.cols[r.IntN(len(t.cols))].name)
			}
		}
	case 4: // widen or change a type
		if len(g.tables) > 0 {
			t := g.tables[r.IntN(len(g.tables))]
			c := &t.cols[r.IntN(len(t.cols))]
			switch c.typ {
			case "integer":
				c.typ = "bigint"
			case "varchar(10)":
				c.typ = "varchar(40)"
			case "varchar(40)":
				c.typ = "text"
			}
		}
	case 5:
		if len(g.tables) > 0 {
			t := g.tables[r.IntN(len(g.tables))]
			c := &t.cols[r.IntN(len(t.cols))]
			c.notNull = !c.notNull
		}
	case 6:
		if len(g.tables) > 0 {
			t := g.tables[r.IntN(len(g.tables))]
			c := &t.cols[r.IntN(len(t.cols))]
			if c.def == "" {
				c.def = defaultFor(c.typ)
			} else if !c.notNull {
				c.def = ""
			}
		}
	case 7:
		if len(g.indexes) > 0 && r.IntN(2) == 0 {
			g.indexes = slices.Delete(g.indexes, 0, 1)
		} else {
			g.addIndex(r)
		}
	case 8:
		if len(g.fks) > 0 && r.IntN(2) == 0 {
			g.fks = slices.Delete(g.fks, 0, 1)
		} else {
			g.addFK(r)
		}
	case 9:
		if len(g.views) > 0 && r.IntN(2) == 0 {
			g.views = slices.Delete(g.views, 0, 1)
		} else {
			g.addView(r)
		}
	case 10:
		g.enumVals = slices.Insert(g.enumVals, 1, fmt.Sprintf("m%d", r.IntN(1000)))
		g.enumVals = slices.Compact(g.enumVals)
	case 11:
		if len(g.tables) > 0 {
			t := g.tables[r.IntN(len(g.tables))]
			t.comment = fmt.Sprintf("note %d", r.IntN(10))
			t.pk = !t.pk
			if !t.pk {
				g.fks = slices.DeleteFunc(g.fks, func(f gFK) bool { return f.ref == t.name })
			}
		}
	case 12: // a unique constraint comes or goes
		if len(g.tables) > 0 {
			t := g.tables[r.IntN(len(g.tables))]
			if t.unique != "" {
				t.unique = ""
			} else {
				t.unique = t.cols[r.IntN(len(t.cols))].name
			}
		}
	case 13: // an enum value goes (destructive; nothing uses it)
		if len(g.enumVals) > 2 {
			g.enumVals = slices.Delete(g.enumVals, 1, 2)
		}
	case 14:
		if len(g.tables) > 0 {
			t := g.tables[r.IntN(len(g.tables))]
			t.trigger = !t.trigger
		}
	}
}

func (g *gen) dropTable(name string) {
	g.tables = slices.DeleteFunc(g.tables, func(t *gTable) bool { return t.name == name })
	g.indexes = slices.DeleteFunc(g.indexes, func(i gIndex) bool { return i.table == name })
	g.fks = slices.DeleteFunc(g.fks, func(f gFK) bool { return f.table == name || f.ref == name })
	g.views = slices.DeleteFunc(g.views, func(v gView) bool { return v.table == name })
}

func (g *gen) dropColumn(t *gTable, col string) {
	t.cols = slices.DeleteFunc(t.cols, func(c gCol) bool { return c.name == col })
	if t.unique == col {
		t.unique = ""
	}
	g.indexes = slices.DeleteFunc(g.indexes, func(i gIndex) bool { return i.table == t.name && i.expr == col })
	g.fks = slices.DeleteFunc(g.fks, func(f gFK) bool { return f.table == t.name && f.col == col })
	g.views = slices.DeleteFunc(g.views, func(v gView) bool {
		return v.table == t.name && slices.Contains(strings.Split(v.cols, ", "), col)
	})
}

func (g *gen) sql() string {
	var b strings.Builder
	vals := make([]string, len(g.enumVals))
	for i, v := range g.enumVals {
		vals[i] = "'" + v + "'"
	}
	fmt.Fprintf(&b, "CREATE TYPE mood AS ENUM (%s);\n", strings.Join(vals, ", "))
	b.WriteString("CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;\n")
	for _, t := range g.tables {
		var cols []string
		if t.pk {
			cols = append(cols, "id bigint NOT NULL")
		} else {
			cols = append(cols, "id bigint")
		}
		for _, c := range t.cols {
			s := c.name + " " + c.typ
			if c.def != "" {
				s += " DEFAULT " + c.def
			}
			if c.notNull {
				s += " NOT NULL"
			}
			if c.check {
				s += fmt.Sprintf(" CONSTRAINT %s_%s_check CHECK (%s >= 0)", t.name, c.name, c.name)
			}
			cols = append(cols, s)
		}
		if t.pk {
			cols = append(cols, fmt.Sprintf("CONSTRAINT %s_pkey PRIMARY KEY (id)", t.name))
		}
		if t.unique != "" {
			cols = append(cols, fmt.Sprintf("CONSTRAINT %s_%s_key UNIQUE (%s)", t.name, t.unique, t.unique))
		}
		fmt.Fprintf(&b, "CREATE TABLE %s (%s);\n", t.name, strings.Join(cols, ", "))
		if t.comment != "" {
			fmt.Fprintf(&b, "COMMENT ON TABLE %s IS '%s';\n", t.name, t.comment)
		}
		if t.trigger {
			fmt.Fprintf(&b, "CREATE TRIGGER %s_touch BEFORE UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION touch();\n", t.name, t.name)
		}
	}
	for _, i := range g.indexes {
		fmt.Fprintf(&b, "CREATE INDEX %s ON %s (%s)", i.name, i.table, i.expr)
		if i.where != "" {
			fmt.Fprintf(&b, " WHERE %s", i.where)
		}
		b.WriteString(";\n")
	}
	for _, f := range g.fks {
		fmt.Fprintf(&b, "ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (id);\n", f.table, f.name, f.col, f.ref)
	}
	for _, v := range g.views {
		fmt.Fprintf(&b, "CREATE VIEW %s AS SELECT %s FROM %s;\n", v.name, v.cols, v.table)
	}
	return b.String()
}

// TestRandomEdits builds random small schemas, makes random edits, and
// checks each plan's round trip: up gives the edited schema's dump, down
// the original's, and the file is lint-clean. The seeds are fixed, so a
// failure repeats; -seeds N runs more.
func TestRandomEdits(t *testing.T) {
	t.Parallel()
	for seed := 1; seed <= *seeds; seed++ {
		r := rand.New(rand.NewPCG(uint64(seed), 15))
		cur := randGen(r)
		des := cur.clone()
		for range 1 + r.IntN(4) {
			des.edit(r)
		}
		curSQL, desSQL := cur.sql(), des.sql()
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			t.Parallel()
			if _, err := roundTrip(t, curSQL, desSQL, diff.Options{AllowDestructive: true}); err != nil {
				t.Fatalf("plan: %v\ncurrent:\n%s\ndesired:\n%s", err, curSQL, desSQL)
			}
		})
	}
}
