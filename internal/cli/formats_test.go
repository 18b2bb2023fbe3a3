package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type statusDoc struct {
	Current    *int64 `json:"current"`
	Migrations []struct {
		Version  int64  `json:"version"`
		Name     string `json:"name"`
		State    string `json:"state"`
		Checksum string `json:"checksum"`
	} `json:"migrations"`
}

// TestFormatsEndToEnd runs the CLI over a realistic directory of each
// tool's files: up, status, rollback of everything, up again, and a changed
// file refused.
func TestFormatsEndToEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tool      string
		versions  []int64
		relations []string
		tamper    string // a file whose up section is changed
	}{
		{"golang-migrate", []int64{1, 2, 20240101120000}, []string{"gm_users", "gm_orders"}, "1_create_users.up.sql"},
		{"goose", []int64{1, 2, 3, 4}, []string{"goose_accounts", "goose_accounts_email"}, "00001_create_accounts.sql"},
		{"dbmate", []int64{20240101120000, 20240102120000, 20240103120000}, []string{"dbmate_posts", "dbmate_posts_title"}, "20240101120000_create_posts.sql"},
		{"flyway", []int64{1, 2, 3}, []string{"fw_products"}, "V1__create_products.sql"},
	}
	for _, tc := range tests {
		t.Run(tc.tool, func(t *testing.T) {
			t.Parallel()
			db, src := newDB(t), fixture(t, filepath.Join("formats", tc.tool))
			wantCode(t, inproc(t, on(db, src, "up")...), 0)
			c := connect(t, db)
			wantRelations(t, c, true, tc.relations...)
			wantVersions(t, c, tc.versions...)

			r := inproc(t, on(db, src, "--format", "json", "status")...)
			wantCode(t, r, 0)
			var st statusDoc
			oneJSON(t, r.stdout, &st)
			if len(st.Migrations) != len(tc.versions) || st.Current == nil || *st.Current != tc.versions[len(tc.versions)-1] {
				t.Fatalf("status: %s", r.stdout)
			}
			for _, m := range st.Migrations {
				if m.State != "applied" || len(m.Checksum) != 64 {
					t.Errorf("status of %d: %+v", m.Version, m)
				}
			}

			wantCode(t, inproc(t, on(db, src, "rollback", "--all")...), 0)
			wantRelations(t, c, false, tc.relations...)
			wantVersions(t, c)
			wantCode(t, inproc(t, on(db, src, "up")...), 0)
			wantVersions(t, c, tc.versions...)

			path := filepath.Join(src, tc.tamper)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, path, strings.Replace(string(b), "CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
			je := wantJSONError(t, inproc(t, on(db, src, "--format", "json", "validate")...), 3)
			wantContains(t, "error", je.Error.Message, tc.tamper, "changed since it was applied")
			wantCode(t, inproc(t, on(db, src, "up")...), 3)
		})
	}
}

// TestFormatsGooseDetails checks what goose's annotations do on the server:
// a NO TRANSACTION index is built concurrently and valid, a StatementBegin
// block holds a function body, ENVSUB fills in its variable.
func TestFormatsGooseDetails(t *testing.T) {
	db, src := newDB(t), fixture(t, "formats/goose")
	r := exe(t, []string{"ACCOUNTS_OWNER=billing"}, on(db, src, "up")...)
	wantCode(t, r, 0)
	c := connect(t, db)
	if !query[bool](t, c, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'goose_accounts_email'::regclass") {
		t.Error("the NO TRANSACTION index is not valid")
	}
	if got := query[string](t, c, "SELECT obj_description('goose_accounts'::regclass)"); got != "owned by billing" {
		t.Errorf("ENVSUB comment = %q", got)
	}
	hs := wantVersions(t, c, 1, 2, 3, 4)
	if !hs[2].Success {
		t.Errorf("no-transaction row %+v", hs[2])
	}
	// The checksum covers the file as written: another value, or none and
	// its default, is not a change.
	wantCode(t, exe(t, []string{"ACCOUNTS_OWNER=ops"}, on(db, src, "validate")...), 0)
	wantCode(t, exe(t, nil, on(db, src, "validate")...), 0)
	// The trigger from the StatementBegin block works.
	if _, err := c.Exec(t.Context(), "INSERT INTO goose_accounts (email, updated_at) VALUES ('a@b', 'epoch'); UPDATE goose_accounts SET email = 'c@d'"); err != nil {
		t.Fatal(err)
	}
	if query[bool](t, c, "SELECT updated_at = 'epoch' FROM goose_accounts") {
		t.Error("the trigger did not touch updated_at")
	}
}

// TestFormatsGolangMigrateWrapper checks that a file wrapped in BEGIN; …
// COMMIT; runs in pgmig's transaction: a failure leaves nothing behind,
// and the error points at the file's line.
func TestFormatsGolangMigrateWrapper(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "1_ok.up.sql"), "BEGIN;\nCREATE TABLE gm_ok (id int);\nCOMMIT;\n")
	writeFile(t, filepath.Join(src, "2_half.up.sql"), "-- fails half-way\nBEGIN;\nCREATE TABLE gm_half (id int);\nINSERT INTO gm_half VALUES ('x');\nCOMMIT;\n")
	je := wantJSONError(t, inproc(t, on(db, src, "--format", "json", "up")...), 1)
	if je.Error.File != "2_half.up.sql" || je.Error.Line != 4 || je.Error.SQLState != "22P02" {
		t.Errorf("error at %s:%d (%s), want 2_half.up.sql:4 22P02", je.Error.File, je.Error.Line, je.Error.SQLState)
	}
	c := connect(t, db)
	wantRelations(t, c, true, "gm_ok")
	wantRelations(t, c, false, "gm_half")
	wantVersions(t, c, 1)

	// A wrapper pgmig cannot strip (BEGIN shares its line with SQL) runs
	// as golang-migrate runs it: the file's own BEGIN and COMMIT, one
	// statement at a time outside a transaction of pgmig's.
	writeFile(t, filepath.Join(src, "2_half.up.sql"), "BEGIN; CREATE TABLE gm_half (id int);\nCOMMIT;\n")
	r := inproc(t, on(db, src, "up")...)
	wantCode(t, r, 0)
	wantRelations(t, c, true, "gm_half")
	wantVersions(t, c, 1, 2)

	// pgmig's own single file may not hold BEGIN/COMMIT: refused before
	// anything runs.
	writeFile(t, filepath.Join(src, "3_own.sql"), "-- pgmig:up\nBEGIN;\nCREATE TABLE gm_own (id int);\nCOMMIT;\nSELECT 1;\n")
	r = inproc(t, on(db, src, "up")...)
	wantCode(t, r, 3)
	wantContains(t, "stderr", r.stderr, "3_own.sql:2", "BEGIN")
	wantRelations(t, c, false, "gm_own")
}

// TestFormatsHostile checks that files pgmig cannot read as their tool
// meant are refused, naming file and line, before anything is applied.
func TestFormatsHostile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"markers of two tools", map[string]string{"002_x.sql": "-- +goose Up\nCREATE TABLE h (id int);\n-- pgmig:down\nDROP TABLE h;\n"},
			`002_x.sql:3: "-- pgmig:down" is pgmig's, but line 1 ("-- +goose Up") is goose's`},
		{"flyway dotted version spelt twice", map[string]string{"V2.1__x.sql": "CREATE TABLE h (id int);", "V2_01__y.sql": "SELECT 1;"},
			"is claimed by more than one file: V2.1__x.sql, V2_01__y.sql"},
		{"flyway repeatable outside a transaction", map[string]string{"R__v.sql": "CREATE INDEX CONCURRENTLY h ON first (id);"}, "R__v.sql: a repeatable migration runs in a transaction"},
		{"golang-migrate version zero", map[string]string{"0_initial.up.sql": "CREATE TABLE h (id int);"}, "0_initial.up.sql: version 0 is not allowed: versions start at 1"},
		{"flyway version zero", map[string]string{"V0__initial.sql": "CREATE TABLE h (id int);"}, "V0__initial.sql: version 0 is not allowed: versions start at 1"},
		{"flyway undo alone", map[string]string{"U2__x.sql": "DROP TABLE h;"}, "U2__x.sql: undo file without its versioned file"},
		{"duplicate across formats", map[string]string{"V2__a.sql": "CREATE TABLE h (id int);", "002_b.sql": "-- migrate:up\nSELECT 1;\n"},
			"version 2 is claimed by more than one file: 002_b.sql, V2__a.sql"},
		{"ENVSUB variable not set", map[string]string{"002_x.sql": "-- +goose Up\n-- +goose ENVSUB ON\nCREATE TABLE ${PGMIG_TEST_UNSET_TABLE} (id int);\n"},
			"002_x.sql:3: -- +goose ENVSUB: variable PGMIG_TEST_UNSET_TABLE is not set"},
		{"goose block without end", map[string]string{"002_x.sql": "-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE h (id int);\n"},
			`002_x.sql:2: "-- +goose StatementBegin" has no "-- +goose StatementEnd"`},
		{"dbmate misspelt option", map[string]string{"002_x.sql": "-- migrate:up transaction:no\nCREATE TABLE h (id int);\n"},
			`002_x.sql:1: "-- migrate:up transaction:no": unknown option`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, src := newDB(t), t.TempDir()
			writeFile(t, filepath.Join(src, "001_first.sql"), "CREATE TABLE first (id int);\n")
			for name, body := range tc.files {
				writeFile(t, filepath.Join(src, name), body)
			}
			je := wantJSONError(t, inproc(t, on(db, src, "--format", "json", "up")...), 3)
			wantContains(t, "error", je.Error.Message, tc.want)
			c := connect(t, db)
			wantRelations(t, c, false, "first", "h", "public.pgmig_migrations")
		})
	}
}

// TestAdoptCLI takes over each tool's history through `pgmig baseline
// --from`, then applies the rest with `pgmig up`.
func TestAdoptCLI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tool     string
		table    string // --from-table
		history  string
		upTo     string // the version the other tool reached
		adopted  []int64
		all      []int64
		wantCode int
		wantErr  string
	}{
		{tool: "golang-migrate", upTo: "2",
			history: `CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); INSERT INTO schema_migrations VALUES (2, false);`,
			adopted: []int64{1, 2}, all: []int64{1, 2, 20240101120000}},
		{tool: "goose", upTo: "2",
			history: `CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (3, true), (3, false);`,
			adopted: []int64{1, 2}, all: []int64{1, 2, 3, 4}},
		{tool: "dbmate", table: "meta.migrations", upTo: "20240102120000",
			history: `CREATE SCHEMA meta; CREATE TABLE meta.migrations (version varchar(128) PRIMARY KEY); INSERT INTO meta.migrations VALUES ('20240101120000'), ('20240102120000');`,
			adopted: []int64{20240101120000, 20240102120000}, all: []int64{20240101120000, 20240102120000, 20240103120000}},
		{tool: "flyway", upTo: "2",
			history: `CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), description varchar(200) NOT NULL, type varchar(20) NOT NULL,
  script varchar(1000) NOT NULL, checksum int, installed_by varchar(100) NOT NULL, installed_on timestamp NOT NULL DEFAULT now(), execution_time int NOT NULL, success boolean NOT NULL);
INSERT INTO flyway_schema_history VALUES (1, '1', '<< Flyway Baseline >>', 'BASELINE', '<< Flyway Baseline >>', NULL, 'me', now(), 0, true),
  (2, '2', 'add price', 'SQL', 'V2__add_price.sql', 1, 'me', now(), 3, true),
  (3, '3', 'product search', 'SQL', 'V3__product_search.sql', 1, 'me', now(), 3, true),
  (4, '3', 'product search', 'UNDO_SQL', 'U3__product_search.sql', 1, 'me', now(), 3, true);`,
			adopted: []int64{1, 2}, all: []int64{1, 2, 3}},
		{tool: "golang-migrate", upTo: "2", wantCode: 3, wantErr: "version 2 is dirty",
			history: `CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); INSERT INTO schema_migrations VALUES (2, true);`},
		{tool: "flyway", upTo: "2", wantCode: 3, wantErr: "failed (success = false)",
			history: `CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), type varchar(20) NOT NULL, success boolean NOT NULL);
INSERT INTO flyway_schema_history VALUES (1, '1', 'SQL', true), (2, '2', 'SQL', false);`},
		{tool: "goose", upTo: "2", wantCode: 3, wantErr: "version(s) 7 as applied, but no migration file has them",
			history: `CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
INSERT INTO goose_db_version (version_id, is_applied) VALUES (1, true), (7, true);`},
		{tool: "dbmate", upTo: "20240101120000", wantCode: 3, wantErr: "no such table"},
		{tool: "sqitch", upTo: "2", wantCode: 2, wantErr: `--from "sqitch": want one of golang-migrate, goose, dbmate, flyway`},
	}
	for _, tc := range tests {
		t.Run(tc.tool+" "+tc.wantErr, func(t *testing.T) {
			t.Parallel()
			src := "goose"
			if tc.tool != "sqitch" {
				src = tc.tool
			}
			db, dir := newDB(t), fixture(t, filepath.Join("formats", src))
			c := connect(t, db)
			// The schema the other tool built, made here with pgmig and a
			// scratch table that is then dropped.
			wantCode(t, inproc(t, on(db, dir, "--table", "scratch_history", "up", "--to", tc.upTo)...), 0)
			if _, err := c.Exec(t.Context(), "DROP TABLE scratch_history; "+tc.history); err != nil {
				t.Fatal(err)
			}
			args := []string{"--format", "json", "baseline", "--from", tc.tool}
			if tc.table != "" {
				args = append(args, "--from-table", tc.table)
			}
			r := inproc(t, on(db, dir, args...)...)
			if tc.wantCode != 0 {
				je := wantJSONError(t, r, tc.wantCode)
				wantContains(t, "error", je.Error.Message, tc.wantErr)
				wantVersions(t, c)
				return
			}
			wantCode(t, r, 0)
			var rep struct {
				Baselined []struct {
					Version  int64  `json:"version"`
					Checksum string `json:"checksum"`
				} `json:"baselined"`
				Current *int64 `json:"current"`
			}
			oneJSON(t, r.stdout, &rep)
			if len(rep.Baselined) != len(tc.adopted) || rep.Current == nil || *rep.Current != tc.adopted[len(tc.adopted)-1] {
				t.Fatalf("adopt report: %s", r.stdout)
			}
			wantVersions(t, c, tc.adopted...)
			// Adopting twice is refused, like a second baseline.
			wantJSONError(t, inproc(t, on(db, dir, args...)...), 3)

			r = inproc(t, on(db, dir, "--format", "json", "up")...)
			wantCode(t, r, 0)
			var up struct {
				Applied []struct {
					Version int64 `json:"version"`
				} `json:"applied"`
			}
			oneJSON(t, r.stdout, &up)
			if len(up.Applied)+len(tc.adopted) != len(tc.all) {
				t.Errorf("up applied %s after adopting %v", r.stdout, tc.adopted)
			}
			wantVersions(t, c, tc.all...)
		})
	}
}

func TestAdoptCLIUsage(t *testing.T) {
	t.Parallel()
	r := inproc(t, "--database-url", "postgres://127.0.0.1:1/none", "baseline", "--from", "goose", "--version", "3")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "baseline takes --version or --from, not both")
	r = inproc(t, "--database-url", "postgres://127.0.0.1:1/none", "baseline", "--from-table", "x")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "--from-table needs --from TOOL")
}

// TestFormatsGooseErrorLines checks that a failure after a StatementBegin
// block holding several statements is located on its line, in a
// transactional section (where the block is plain comments and the server
// counts each statement) and in a NO TRANSACTION one (where the block is
// sent as one statement). A unique violation carries no position, so the
// line comes from counting statements.
func TestFormatsGooseErrorLines(t *testing.T) {
	t.Parallel()
	body := "-- +goose Up\n-- +goose StatementBegin\nSELECT 'up SQL query';\nCREATE TABLE gp (id int PRIMARY KEY);\n-- +goose StatementEnd\nINSERT INTO gp VALUES (1);\nINSERT INTO gp VALUES (1);\n"
	for _, notx := range []bool{false, true} {
		name := "transactional"
		content := body
		if notx {
			name, content = "no transaction", "-- +goose NO TRANSACTION\n"+body
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db, src := newDB(t), t.TempDir()
			writeFile(t, filepath.Join(src, "00001_gp.sql"), content)
			je := wantJSONError(t, inproc(t, on(db, src, "--format", "json", "up")...), 1)
			line := 7
			if notx {
				line = 8
			}
			if je.Error.SQLState != "23505" || je.Error.File != "00001_gp.sql" || je.Error.Line != line {
				t.Errorf("error at %s:%d (%s), want 00001_gp.sql:%d 23505", je.Error.File, je.Error.Line, je.Error.SQLState, line)
			}
		})
	}
}
