package cli

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// TestFlywayRepeatableCLI applies a Flyway set with a repeatable
// migration: after the versioned ones, again once its file changes, with
// a null version in JSON and its state in status.
func TestFlywayRepeatableCLI(t *testing.T) {
	t.Parallel()
	db, src := newDB(t), t.TempDir()
	writeFile(t, filepath.Join(src, "V1__t.sql"), "CREATE TABLE rt (id int);\n")
	writeFile(t, filepath.Join(src, "R__a_view.sql"), "CREATE OR REPLACE VIEW rv AS SELECT id FROM rt;\n")

	r := inproc(t, on(db, src, "--format", "json", "up")...)
	wantCode(t, r, 0)
	var up struct {
		Applied []struct {
			Version    *int64 `json:"version"`
			Name       string `json:"name"`
			Repeatable bool   `json:"repeatable"`
		} `json:"applied"`
		Current *int64 `json:"current"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &up); err != nil {
		t.Fatalf("up JSON: %v\n%s", err, r.stdout)
	}
	if len(up.Applied) != 2 || up.Applied[0].Version == nil || *up.Applied[0].Version != 1 ||
		up.Applied[1].Name != "a_view" || up.Applied[1].Version != nil || !up.Applied[1].Repeatable {
		t.Fatalf("applied = %s, want V1 then a_view with a null version", r.stdout)
	}
	if up.Current == nil || *up.Current != 1 {
		t.Fatalf("current = %v, want 1", up.Current)
	}
	c := connect(t, db)
	wantRelations(t, c, true, "rv")

	writeFile(t, filepath.Join(src, "R__a_view.sql"), "CREATE OR REPLACE VIEW rv AS SELECT id, 2 AS two FROM rt;\n")
	r = inproc(t, on(db, src, "status")...)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "a_view", "outdated", "1 outdated")
	r = inproc(t, on(db, src, "--format", "json", "status")...)
	wantCode(t, r, 0)
	var st struct {
		Migrations []struct {
			Version *int64 `json:"version"`
			Name    string `json:"name"`
			State   string `json:"state"`
		} `json:"migrations"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Migrations) != 2 || st.Migrations[1].State != "outdated" || st.Migrations[1].Version != nil {
		t.Fatalf("status JSON = %s, want a_view outdated with a null version", r.stdout)
	}
	r = inproc(t, on(db, src, "up")...)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "R a_view")
	var two int
	if err := c.QueryRow(t.Context(), "SELECT count(*) FROM information_schema.columns WHERE table_name = 'rv' AND column_name = 'two'").Scan(&two); err != nil || two != 1 {
		t.Fatalf("the changed view was not applied again: %d, %v", two, err)
	}
}
