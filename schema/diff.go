package schema

import (
	"fmt"
	"strings"
)

// contextLines is how many unchanged lines a hunk shows around a change,
// as diff -u does.
const contextLines = 3

// Diff compares two snapshots. It returns a unified diff of their text
// (empty when they are equal), headed "--- a.Label" and "+++ b.Label",
// and the keys of the objects that differ ("column public.users.x",
// "index public.idx_users_x"), in snapshot order: added, removed and
// changed alike.
//
// Lines are aligned object by object rather than by a diff of the whole
// text: both snapshots are sorted the same way, so walking them side by
// side pairs each object with its namesake in linear time, and a line is
// never matched with an identical line of another object. Within an
// object that changed (a function body, a view), the lines are aligned by
// their longest common subsequence.
func Diff(a, b *Snapshot) (unified string, objects []string) {
	var ops []op
	i, j := 0, 0
	for i < len(a.Objects) || j < len(b.Objects) {
		var c int
		switch {
		case i == len(a.Objects):
			c = 1
		case j == len(b.Objects):
			c = -1
		default:
			c = compareObjects(a.Objects[i], b.Objects[j])
		}
		switch {
		case c < 0: // only in a
			objects = append(objects, a.Objects[i].Key())
			ops = appendOps(ops, '-', a.Objects[i].Lines())
			i++
		case c > 0: // only in b
			objects = append(objects, b.Objects[j].Key())
			ops = appendOps(ops, '+', b.Objects[j].Lines())
			j++
		default:
			oa, ob := a.Objects[i], b.Objects[j]
			if oa.Def == ob.Def {
				ops = appendOps(ops, ' ', oa.Lines())
			} else {
				objects = append(objects, oa.Key())
				ops = append(ops, lineDiff(oa.Lines(), ob.Lines())...)
			}
			i++
			j++
		}
	}
	if len(objects) == 0 {
		return "", nil
	}
	return unifiedText(label(a.Label, "a"), label(b.Label, "b"), ops), objects
}

func label(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// op is one line of an edit script: kept (' '), removed ('-') or added ('+').
type op struct {
	kind byte
	text string
}

func appendOps(ops []op, kind byte, lines []string) []op {
	for _, l := range lines {
		ops = append(ops, op{kind, l})
	}
	return ops
}

// maxLCSCells bounds the table lineDiff fills; beyond it (an object of
// thousands of lines rewritten) it gives up on alignment and shows the
// old lines removed and the new ones added, which is still a correct diff.
const maxLCSCells = 4 << 20

// lineDiff is an edit script turning a into b, from the longest common
// subsequence of their lines, after setting aside the common prefix and
// suffix.
func lineDiff(a, b []string) []op {
	var pre, suf []op
	for len(a) > 0 && len(b) > 0 && a[0] == b[0] {
		pre = append(pre, op{' ', a[0]})
		a, b = a[1:], b[1:]
	}
	for len(a) > 0 && len(b) > 0 && a[len(a)-1] == b[len(b)-1] {
		suf = append([]op{{' ', a[len(a)-1]}}, suf...)
		a, b = a[:len(a)-1], b[:len(b)-1]
	}
	n, m := len(a), len(b)
	var mid []op
	if n*m > maxLCSCells {
		mid = appendOps(appendOps(nil, '-', a), '+', b)
	} else {
		// l[i][j] is the length of the LCS of a[i:] and b[j:].
		l := make([][]int32, n+1)
		for i := range l {
			l[i] = make([]int32, m+1)
		}
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if a[i] == b[j] {
					l[i][j] = l[i+1][j+1] + 1
				} else {
					l[i][j] = max(l[i+1][j], l[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < n || j < m {
			switch {
			case i < n && j < m && a[i] == b[j]:
				mid = append(mid, op{' ', a[i]})
				i++
				j++
			case j == m || i < n && l[i+1][j] >= l[i][j+1]:
				mid = append(mid, op{'-', a[i]})
				i++
			default:
				mid = append(mid, op{'+', b[j]})
				j++
			}
		}
	}
	return append(append(pre, mid...), suf...)
}

// unifiedText renders an edit script as a unified diff with contextLines
// of context, merging hunks whose context would touch.
func unifiedText(from, to string, ops []op) string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", from, to)
	// aLine[k] and bLine[k] are the 0-based lines of a and b at ops[k].
	aLine, bLine := make([]int, len(ops)+1), make([]int, len(ops)+1)
	for k, o := range ops {
		aLine[k+1], bLine[k+1] = aLine[k], bLine[k]
		if o.kind != '+' {
			aLine[k+1]++
		}
		if o.kind != '-' {
			bLine[k+1]++
		}
	}
	k := 0
	for k < len(ops) {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		start := max(0, k-contextLines)
		end := k
		// Extend over changes closer together than twice the context.
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			next := end
			for next < len(ops) && ops[next].kind == ' ' {
				next++
			}
			if next == len(ops) || next-end > 2*contextLines {
				end = min(len(ops), end+contextLines)
				break
			}
			end = next
		}
		fmt.Fprintf(&b, "@@ -%s +%s @@\n", hunkRange(aLine[start], aLine[end]-aLine[start]), hunkRange(bLine[start], bLine[end]-bLine[start]))
		for _, o := range ops[start:end] {
			b.WriteByte(o.kind)
			b.WriteString(o.text)
			b.WriteByte('\n')
		}
		k = end
	}
	return b.String()
}

// hunkRange is diff -u's "start,count", where an empty range names the
// line before it.
func hunkRange(start, count int) string {
	switch count {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return fmt.Sprintf("%d", start+1)
	default:
		return fmt.Sprintf("%d,%d", start+1, count)
	}
}
