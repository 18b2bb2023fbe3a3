package repo

import (
	"encoding/json"
	"testing"
)

var stringSeeds = []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\x00\x01\x1f", "<b>&amp;</b>",
	"nöte 😀", "bad utf8 \xff\xfe", "sep \u2028 \u2029", "\u007f del"}

// appendString must write what encoding/json writes, since audit diffs
// are read back as JSON and compared by their readers.
func FuzzAppendString(f *testing.F) {
	for _, s := range stringSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); string(got) != string(want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}
