package diff

import (
	"slices"
	"strings"

	"github.com/pgmig/pgmig/schema"
)

// order sorts the steps by phase and, within a phase, by dependency:
// creates after what they use (in the desired catalog), drops before what
// they use (in the current one). Steps about one item keep the order they
// were added in.
func (p *planner) order() []step {
	slices.SortStableFunc(p.steps, func(a, b step) int { return a.phase - b.phase })
	var out []step
	for i := 0; i < len(p.steps); {
		j := i
		for j < len(p.steps) && p.steps[j].phase == p.steps[i].phase {
			j++
		}
		out = append(out, p.orderPhase(p.steps[i:j])...)
		i = j
	}
	// A value ALTER TYPE … ADD VALUE adds cannot be used in its
	// transaction: when a later statement uses it, the section runs
	// outside a transaction, one statement at a time.
	for i, s := range out {
		if s.enumValue == "" {
			continue
		}
		for _, later := range out[i+1:] {
			if strings.Contains(later.stmt.SQL, lit(s.enumValue)) {
				out[i].stmt.NoTransaction = true
				break
			}
		}
	}
	return out
}

func (p *planner) orderPhase(steps []step) []step {
	var keys []string
	byKey := map[string][]step{}
	var free []step
	drop := false
	for _, s := range steps {
		if s.key == "" {
			free = append(free, s)
			continue
		}
		if _, ok := byKey[s.key]; !ok {
			keys = append(keys, s.key)
		}
		byKey[s.key] = append(byKey[s.key], s)
		drop = drop || s.drop
	}
	cat := p.des
	if drop {
		cat = p.cur
	}
	sorted := topo(keys, cat)
	if drop {
		slices.Reverse(sorted)
	}
	out := free
	for _, k := range sorted {
		out = append(out, byKey[k]...)
	}
	return out
}

// topo orders keys so that each comes after the keys it depends on in cat,
// directly or through items outside keys. A cycle is broken where it is
// found; keys otherwise keep their given order.
func topo(keys []string, cat *schema.Catalog) []string {
	in := map[string]bool{}
	for _, k := range keys {
		in[k] = true
	}
	state := map[string]int{}
	var out []string
	var visit func(k string)
	visit = func(k string) {
		if state[k] != 0 {
			return
		}
		state[k] = 1
		// Walk k's dependencies transitively, stopping at keys of the
		// phase (visited first) and at items already walked.
		seen := map[string]bool{k: true}
		stack := append([]string(nil), deps(cat, k)...)
		for len(stack) > 0 {
			d := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[d] {
				continue
			}
			seen[d] = true
			if in[d] {
				visit(d)
				continue
			}
			stack = append(stack, deps(cat, d)...)
		}
		out = append(out, k)
	}
	for _, k := range keys {
		visit(k)
	}
	return out
}

func deps(cat *schema.Catalog, k string) []string {
	it := cat.Items[k]
	if it == nil {
		return nil
	}
	// A partition's column is altered after its parent's, which
	// PostgreSQL recurses to it: DROP NOT NULL on a partition fails while
	// the parent's column has it, and a NOT NULL the parent's drop took
	// from the partition is set again after.
	if it.Kind == "column" {
		if t := cat.Items["table "+it.Table]; t != nil && t.PartitionOf != "" {
			if pk := "column " + t.PartitionOf + "." + it.Local; cat.Items[pk] != nil {
				return append(slices.Clip(it.Deps), pk)
			}
		}
	}
	return it.Deps
}
