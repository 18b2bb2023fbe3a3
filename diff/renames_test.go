package diff_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pgmig/pgmig/diff"
)

// TestRenameCandidates: a refused drop with an add in its place (a
// column between the same neighbours, a table with the same columns)
// names the rename hint that would make it a rename, in the syntax
// Options.Renames takes: passing it, the plan is a rename and round-trips.
func TestRenameCandidates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, current, desired string
		opts                   diff.Options
		unsupported            bool // refused as a column order, not as destructive
		want                   []diff.RenameCandidate
		rename                 string // what the file says once the hint is passed
	}{
		{
			name:    "last column renamed",
			current: `CREATE TABLE users (id int, email text, name text);`,
			desired: `CREATE TABLE users (id int, email text, full_name text);`,
			want:    []diff.RenameCandidate{{Kind: "column", Old: "public.users.name", New: "public.users.full_name", Hint: "public.users.name=full_name"}},
			rename:  "ALTER TABLE public.users RENAME COLUMN name TO full_name",
		},
		{
			name:        "column renamed, read as a new column before existing ones",
			current:     `CREATE TABLE t (a int, b int, c int);`,
			desired:     `CREATE TABLE t (a int, x int, c int);`,
			opts:        diff.Options{AllowDestructive: true},
			unsupported: true,
			want:        []diff.RenameCandidate{{Kind: "column", Old: "public.t.b", New: "public.t.x", Hint: "public.t.b=x"}},
			rename:      "ALTER TABLE public.t RENAME COLUMN b TO x",
		},
		{
			name:    "table renamed",
			current: `CREATE TABLE old_events (id int, at date); CREATE TABLE other (id int);`,
			desired: `CREATE TABLE events (id int, at date); CREATE TABLE other (id int);`,
			want:    []diff.RenameCandidate{{Kind: "table", Old: "public.old_events", New: "public.events", Hint: "public.old_events=events"}},
			rename:  "ALTER TABLE public.old_events RENAME TO events",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := roundTrip(t, tc.current, tc.desired, tc.opts)
			var got []diff.RenameCandidate
			var de *diff.DestructiveError
			var ue *diff.UnsupportedError
			switch {
			case tc.unsupported && errors.As(err, &ue):
				got = ue.Renames
			case !tc.unsupported && errors.As(err, &de):
				got = de.Renames
			default:
				t.Fatalf("want a refusal (unsupported %v), got %v", tc.unsupported, err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("candidates %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("candidate %+v, want %+v", got[i], tc.want[i])
				}
			}
			w := tc.want[0]
			msg := w.Kind + " " + w.Old + " dropped and " + w.New + " added: if it is a rename, pass Options.Renames " + w.Hint
			if !strings.Contains(err.Error(), msg) {
				t.Errorf("message lacks %q:\n%v", msg, err)
			}
			opts := tc.opts
			opts.Renames = []string{w.Hint}
			m, err := roundTrip(t, tc.current, tc.desired, opts)
			if err != nil {
				t.Fatalf("with the hint %s: %v", w.Hint, err)
			}
			if file := m.File(); !strings.Contains(file, tc.rename) {
				t.Errorf("with the hint, the file lacks %q:\n%s", tc.rename, file)
			}
		})
	}
}
