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
