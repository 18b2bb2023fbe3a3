package cli

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/pgmig/pgmig/source"
)

// appendMigrationJSON writes what the json.Encoder status used before
// writes, byte for byte.
func TestAppendMigrationJSON(t *testing.T) {
	v := func(s string) *source.Version {
		ver, err := source.ParseVersion(s)
		if err != nil {
			t.Fatal(err)
		}
		return &ver
	}
	f := func(x float64) *float64 { return &x }
	s := func(x string) *string { return &x }
	rows := []jsonMigration{
		{Version: v("1"), Name: "create_users", State: "applied", AppliedAt: s("2026-12-03T12:00:00.123456Z"), DurationMS: f(1.234), Checksum: "ab12"},
		{Version: v("20261203120000"), Name: "m", State: "pending", Checksum: "", File: "20261203120000_m.sql"},
		{Repeatable: true, Name: "views", State: "applied", AppliedAt: s("x"), DurationMS: f(0), Checksum: "c"},
		{Version: v("9"), Name: "quote\" back\\slash <tag> & amp", State: "failed", Error: "line\nbreak\ttab\r\x01\x7f\b\f", Checksum: "d"},
		{Version: v("2"), Name: "ünïcödé 名前 \u2028 \u2029 \xff invalid", State: "missing", Checksum: "e"},
		{Version: v("3"), Name: "tiny", State: "applied", DurationMS: f(1e-7), Checksum: "f"},
		{Version: v("4"), Name: "huge", State: "applied", DurationMS: f(3e21), Checksum: "g"},
		{Version: v("5"), Name: "edges", State: "applied", DurationMS: f(1e-6), Checksum: "h"},
		{Version: v("6"), Name: "edge", State: "applied", DurationMS: f(math.Nextafter(1e21, 0)), Checksum: "i"},
		{Version: v("7"), Name: "neg", State: "applied", DurationMS: f(-0.5), Checksum: "j"},
		{Version: v("8"), Name: "", State: "", Checksum: ""},
		// Dotted versions are strings; whole ones numbers, as written or not.
		{Version: v("1.10"), Name: "dotted", State: "applied", Checksum: "k"},
		{Version: v("0.1"), Name: "below one", State: "pending", Checksum: "l"},
		{Version: v("003"), Name: "padded", State: "pending", Checksum: "m"},
		{Version: v("3.0"), Name: "three point oh", State: "pending", Checksum: "n"},
	}
	for _, m := range rows {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("    ", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
		got := appendMigrationJSON(nil, m)
		if w := bytes.TrimSuffix(want.Bytes(), []byte("\n")); !bytes.Equal(got, w) {
			t.Errorf("%q:\ngot  %s\nwant %s", m.Name, got, w)
		}
	}
}
