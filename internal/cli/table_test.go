package cli

import (
	"strings"
	"testing"
)

func TestTableAlignsWithColourAndWideRunes(t *testing.T) {
	tb := table{header: []string{"VERSION", "NAME", "STATE"}}
	tb.append("001", "créer_utilisateurs", "\x1b[32mapplied\x1b[0m")
	tb.append("002", "x", "pending")
	var b strings.Builder
	if err := tb.render(&b); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"┌─────────┬────────────────────┬─────────┐\n" +
		"│ VERSION │        NAME        │  STATE  │\n" +
		"├─────────┼────────────────────┼─────────┤\n" +
		"│ 001     │ créer_utilisateurs │ \x1b[32mapplied\x1b[0m │\n" +
		"│ 002     │ x                  │ pending │\n" +
		"└─────────┴────────────────────┴─────────┘\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestTableWithoutRowsHasNoRuleUnderHeader(t *testing.T) {
	tb := table{header: []string{"A", "BB"}}
	var b strings.Builder
	tb.render(&b)
	want := "┌───┬────┐\n│ A │ BB │\n└───┴────┘\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestTablePadsPastItsSpaces: a column wider than the padding constant
// is still padded to its width.
func TestTablePadsPastItsSpaces(t *testing.T) {
	long := strings.Repeat("n", 150)
	tb := table{header: []string{"A", "B"}}
	tb.append("x", long)
	tb.append("y", "z")
	var b strings.Builder
	if err := tb.render(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	for i, l := range lines {
		if n := width(l); n != width(lines[0]) {
			t.Errorf("line %d is %d wide, the rule %d:\n%s", i+1, n, width(lines[0]), b.String())
		}
	}
	if want := "│ y │ z" + strings.Repeat(" ", 150) + "│"; lines[4] != want {
		t.Errorf("row 2 = %q, want %q", lines[4], want)
	}
}
