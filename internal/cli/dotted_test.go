package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoldenFlywayDotted runs a Flyway project through the life of a
// database in text and JSON, compared with
// testdata/golden/dotted_<step>_<format>.golden: two integer versions
// applied first (the tracking table keeps its first layout), then dotted
// ones added (testdata/dotted: 2.1, 2_2 read as 2.2, 2.10 after 2.2, then
// 3), which upgrade the table in place; versions print as the files spell
// them, and in JSON a dotted version is a string.
func TestGoldenFlywayDotted(t *testing.T) {
	t.Parallel()
	steps := []struct {
		name string
		args []string
		code int
	}{
		{"status", []string{"status"}, 0},
		{"up_dry_run", []string{"up", "--dry-run"}, 0},
		{"up_to", []string{"up", "--to", "2.2"}, 0},
		{"status_part", []string{"status"}, 0},
		{"up", []string{"up"}, 0},
		{"rollback_to", []string{"rollback", "--to", "2_2"}, 0},
		{"rollback", []string{"rollback"}, 0},
		{"redo", []string{"redo"}, 0},
		{"up_to_unknown", []string{"up", "--to", "2.3"}, 2},
		{"rollback_to_unapplied", []string{"rollback", "--to", "2.10"}, 2},
		{"up_to_bad", []string{"up", "--to", "2..1"}, 2},
	}
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			db, dir := newDB(t), t.TempDir()
			fixture := filepath.Join("testdata", "dotted")
			for _, name := range []string{"V1__users.sql", "V2__orders.sql"} {
				b, err := os.ReadFile(filepath.Join(fixture, name))
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, name), string(b))
			}
			r := inproc(t, on(db, dir, "--format", format, "up")...)
			wantCode(t, r, 0)
			golden(t, "dotted_up_integer_"+format, goldenOutput(t, r, db))
			var typ string
			if err := connect(t, db).QueryRow(t.Context(), "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.pgmig_migrations'::regclass AND attname = 'version'").Scan(&typ); err != nil || typ != "bigint" {
				t.Fatalf("version column %q (%v) after integer versions, want bigint", typ, err)
			}
			dir = copyFS(t, os.DirFS(fixture))
			for _, st := range steps {
				r := inproc(t, append(on(db, dir, "--format", format), st.args...)...)
				if r.code != st.code {
					t.Fatalf("%s: want exit %d, got %s", st.name, st.code, r)
				}
				golden(t, "dotted_"+st.name+"_"+format, strings.ReplaceAll(goldenOutput(t, r, db), filepath.Clean(dir), "DIR"))
			}
			var history string
			if err := connect(t, db).QueryRow(t.Context(), "SELECT string_agg(version, ',' ORDER BY version_key) FROM public.pgmig_migrations").Scan(&history); err != nil {
				t.Fatal(err)
			}
			if history != "1,2,2.1" {
				t.Errorf("history %s, want 1,2,2.1 recorded as the files spell them", history)
			}
		})
	}
}

// TestAdoptFlywayDottedCLI: baseline --from flyway takes over a
// flyway_schema_history holding dotted versions (built here as Flyway
// builds it), printed as the files spell them; up then applies the rest.
func TestAdoptFlywayDottedCLI(t *testing.T) {
	t.Parallel()
	db, dir := newDB(t), copyFS(t, os.DirFS(filepath.Join("testdata", "dotted")))
	execSQL(t, db, `CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), description varchar(200) NOT NULL,
  type varchar(20) NOT NULL, script varchar(1000) NOT NULL, checksum int, installed_by varchar(100) NOT NULL,
  installed_on timestamp NOT NULL DEFAULT now(), execution_time int NOT NULL, success boolean NOT NULL);
INSERT INTO flyway_schema_history VALUES
  (1, '1', 'users', 'SQL', 'V1__users.sql', 1, 'me', now(), 5, true),
  (2, '2', 'orders', 'SQL', 'V2__orders.sql', 1, 'me', now(), 5, true),
  (3, '2.1', 'order notes', 'SQL', 'V2.1__order_notes.sql', 1, 'me', now(), 5, true),
  (4, '2.2', 'order index', 'SQL', 'V2_2__order_index.sql', 1, 'me', now(), 5, true);
CREATE TABLE users (id bigint PRIMARY KEY);
CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users, note text);
CREATE INDEX orders_user ON orders (user_id);`)
	r := inproc(t, on(db, dir, "baseline", "--from", "flyway")...)
	wantCode(t, r, 0)
	golden(t, "dotted_adopt_flyway_text", goldenOutput(t, r, db))
	r = inproc(t, on(db, dir, "--format", "json", "up")...)
	wantCode(t, r, 0)
	var up struct {
		Applied []struct {
			Version any `json:"version"`
		} `json:"applied"`
		Current any `json:"current"`
	}
	oneJSON(t, r.stdout, &up)
	if len(up.Applied) != 2 || up.Applied[0].Version != "2.10" || up.Applied[1].Version != float64(3) || up.Current != float64(3) {
		t.Fatalf("up after adopt: %s, want 2.10 (a string) then 3 (a number)", r.stdout)
	}
}
