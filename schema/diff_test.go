package schema

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func obj(kind, name, def string, section int, group string, rank int) Object {
	if group == "" {
		group = name
	}
	return Object{Kind: kind, Name: name, Def: def, section: section, group: group, rank: rank}
}

func TestDiff(t *testing.T) {
	users := obj("table", "public.users", "(id, email)", 4, "", 0)
	id := obj("column", "public.users.id", "uuid not null", 4, "public.users", 1)
	email := obj("column", "public.users.email", "text", 4, "public.users", 1)
	idx := obj("index", "public.users_email", "CREATE INDEX users_email ON public.users USING btree (email)", 4, "public.users", 3)
	fn := func(body string) Object {
		return obj("function", "public.f()", "CREATE OR REPLACE FUNCTION public.f()\n RETURNS int\nAS $$\n"+body+"\n$$", 6, "", 0)
	}
	cases := []struct {
		name        string
		a, b        []Object
		wantDiff    string
		wantObjects []string
	}{
		{name: "equal", a: []Object{users, id}, b: []Object{users, id}},
		{
			name: "index left behind",
			a:    []Object{users, email, id},
			b:    []Object{users, email, id, idx},
			wantDiff: `--- before
+++ after
@@ -1,3 +1,4 @@
 table public.users (id, email)
 column public.users.email text
 column public.users.id uuid not null
+index public.users_email CREATE INDEX users_email ON public.users USING btree (email)
`,
			wantObjects: []string{"index public.users_email"},
		},
		{
			// Each object's old and new lines stand together.
			name: "column changed and added",
			a:    []Object{obj("table", "public.users", "(id)", 4, "", 0), id},
			b:    []Object{users, email, obj("column", "public.users.id", "uuid", 4, "public.users", 1)},
			wantDiff: `--- before
+++ after
@@ -1,2 +1,3 @@
-table public.users (id)
+table public.users (id, email)
+column public.users.email text
-column public.users.id uuid not null
+column public.users.id uuid
`,
			wantObjects: []string{"table public.users", "column public.users.email", "column public.users.id"},
		},
		{
			name: "function body: only the changed line",
			a:    []Object{fn("SELECT 1;\nSELECT 2;\nSELECT 3;\nSELECT 4;\nSELECT 5;")},
			b:    []Object{fn("SELECT 1;\nSELECT 2;\nSELECT 3;\nSELECT 40;\nSELECT 5;")},
			wantDiff: `--- before
+++ after
@@ -5,6 +5,6 @@
     SELECT 1;
     SELECT 2;
     SELECT 3;
-    SELECT 4;
+    SELECT 40;
     SELECT 5;
     $$
`,
			wantObjects: []string{"function public.f()"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			diff, objects := Diff(&Snapshot{Label: "before", Objects: tc.a}, &Snapshot{Label: "after", Objects: tc.b})
			if diff != tc.wantDiff {
				t.Errorf("diff:\n%s\nwant:\n%s", diff, tc.wantDiff)
			}
			if !slices.Equal(objects, tc.wantObjects) {
				t.Errorf("objects = %q, want %q", objects, tc.wantObjects)
			}
		})
	}
}

// TestHunks checks context and the merging of nearby changes against what
// diff -u prints for the same input.
func TestHunks(t *testing.T) {
	var a, b []Object
	for i := range 30 {
		name := fmt.Sprintf("public.s%02d", i)
		a = append(a, obj("sequence", name, "bigint", 3, "", 0))
		switch i {
		case 2, 8, 20: // 8 is 6 lines after 2: one hunk; 20 starts another
			b = append(b, obj("sequence", name, "integer", 3, "", 0))
		default:
			b = append(b, obj("sequence", name, "bigint", 3, "", 0))
		}
	}
	diff, _ := Diff(&Snapshot{Objects: a}, &Snapshot{Objects: b})
	var heads []string
	for _, l := range strings.Split(diff, "\n") {
		if strings.HasPrefix(l, "@@") || strings.HasPrefix(l, "---") || strings.HasPrefix(l, "+++") {
			heads = append(heads, l)
		}
	}
	// diff -u on the two texts prints these headers.
	want := []string{"--- a", "+++ b", "@@ -1,12 +1,12 @@", "@@ -18,7 +18,7 @@"}
	if !slices.Equal(heads, want) {
		t.Errorf("headers = %q, want %q\n%s", heads, want, diff)
	}
}

func TestLineDiffIsMinimal(t *testing.T) {
	a := strings.Split("a b c d e f g", " ")
	b := strings.Split("a x c d y f g z", " ")
	var kept, removed, added int
	for _, o := range lineDiff(a, b) {
		switch o.kind {
		case ' ':
			kept++
		case '-':
			removed++
		case '+':
			added++
		}
	}
	if kept != 5 || removed != 2 || added != 3 {
		t.Errorf("kept %d, removed %d, added %d; want 5, 2, 3", kept, removed, added)
	}
}

func TestAddedToEmpty(t *testing.T) {
	diff, objects := Diff(&Snapshot{}, &Snapshot{Objects: []Object{obj("schema", "app", "", 0, "", 0)}})
	want := "--- a\n+++ b\n@@ -0,0 +1 @@\n+schema app\n"
	if diff != want || !slices.Equal(objects, []string{"schema app"}) {
		t.Errorf("diff %q, objects %q", diff, objects)
	}
}
