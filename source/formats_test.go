package source

import (
	"context"
	"os"
	"strings"
	"testing"
)

// env is a LookupEnv over a map, so tests do not depend on the process's
// environment.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func TestForeignFormats(t *testing.T) {
	type sec struct {
		sql  string
		line int
		notx bool
	}
	tests := []struct {
		name  string
		files map[string]string
		vars  map[string]string
		// per migration, in version order
		versions []int64
		names    []string
		ups      []sec
		downs    []*sec
		sums     []string // text whose sha256 is the checksum
	}{
		{
			name: "golang-migrate timestamp versions",
			files: map[string]string{
				"20240101120000_users.up.sql":   "CREATE TABLE users (id int);\n",
				"20240101120000_users.down.sql": "DROP TABLE users;\n",
				"20240102090000_email.up.sql":   "ALTER TABLE users ADD email text;\n",
			},
			versions: []int64{20240101120000, 20240102090000},
			names:    []string{"users", "email"},
			ups:      []sec{{"CREATE TABLE users (id int);\n", 1, false}, {"ALTER TABLE users ADD email text;\n", 1, false}},
			downs:    []*sec{{"DROP TABLE users;\n", 1, false}, nil},
			sums:     []string{"CREATE TABLE users (id int);\n", "ALTER TABLE users ADD email text;\n"},
		},
		{
			name: "golang-migrate BEGIN/COMMIT wrapper is stripped",
			files: map[string]string{
				"1_t.up.sql":   "-- make t\nBEGIN;\nCREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\nCOMMIT;\n",
				"1_t.down.sql": "begin transaction; -- undo\nDROP TABLE t;\nend;",
			},
			versions: []int64{1},
			names:    []string{"t"},
			ups:      []sec{{"CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n", 3, false}},
			downs:    []*sec{{"DROP TABLE t;\n", 2, false}},
			sums:     []string{"-- make t\nBEGIN;\nCREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\nCOMMIT;\n"},
		},
		{
			name: "wrapper kept when BEGIN shares its line with SQL: the file runs as golang-migrate runs it",
			files: map[string]string{
				"1_t.up.sql": "BEGIN; CREATE TABLE t (id int);\nCOMMIT;\n",
				"2_u.up.sql": "BEGIN ISOLATION LEVEL SERIALIZABLE;\nCREATE TABLE u (id int);\nCOMMIT;\n",
				"3_v.up.sql": "BEGIN;\nCREATE TABLE v (id int);\nCOMMIT;\nCREATE INDEX v_id ON v (id);\n",
			},
			versions: []int64{1, 2, 3},
			names:    []string{"t", "u", "v"},
			ups: []sec{
				{"BEGIN; CREATE TABLE t (id int);\nCOMMIT;\n", 1, true},
				{"BEGIN ISOLATION LEVEL SERIALIZABLE;\nCREATE TABLE u (id int);\nCOMMIT;\n", 1, true},
				{"BEGIN;\nCREATE TABLE v (id int);\nCOMMIT;\nCREATE INDEX v_id ON v (id);\n", 1, true},
			},
			downs: []*sec{nil, nil, nil},
			sums: []string{"BEGIN; CREATE TABLE t (id int);\nCOMMIT;\n",
				"BEGIN ISOLATION LEVEL SERIALIZABLE;\nCREATE TABLE u (id int);\nCOMMIT;\n",
				"BEGIN;\nCREATE TABLE v (id int);\nCOMMIT;\nCREATE INDEX v_id ON v (id);\n"},
		},
		{
			name: "goose sections, StatementBegin/End kept as comments",
			files: map[string]string{
				"00001_fn.sql": "-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;\n-- +goose StatementEnd\n\n-- +goose Down\nDROP FUNCTION f();\n",
			},
			versions: []int64{1},
			names:    []string{"fn"},
			ups:      []sec{{"-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;\n-- +goose StatementEnd\n\n", 2, false}},
			downs:    []*sec{{"DROP FUNCTION f();\n", 7, false}},
			sums:     []string{"-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;\n-- +goose StatementEnd\n\n"},
		},
		{
			name: "goose annotations in any case; NO TRANSACTION applies to the whole file",
			files: map[string]string{
				"20240101120000_idx.sql": "-- +goose up\nCREATE INDEX CONCURRENTLY i ON t (a);\n-- +goose NO TRANSACTION\n-- +goose down\nDROP INDEX CONCURRENTLY i;\n",
			},
			versions: []int64{20240101120000},
			names:    []string{"idx"},
			ups:      []sec{{"CREATE INDEX CONCURRENTLY i ON t (a);\n-- +goose NO TRANSACTION\n", 2, true}},
			downs:    []*sec{{"DROP INDEX CONCURRENTLY i;\n", 5, true}},
			sums:     []string{"CREATE INDEX CONCURRENTLY i ON t (a);\n-- +goose NO TRANSACTION\n"},
		},
		{
			name: "goose ENVSUB substitutes in its region; the checksum is of the text as written",
			files: map[string]string{
				"003_role.sql": "-- +goose Up\n-- +goose ENVSUB ON\nCREATE ROLE ${ROLE} LOGIN PASSWORD '${PASS:-secret}';\nCOMMENT ON ROLE $ROLE IS '${NOTE-none}';\n-- +goose ENVSUB OFF\nSELECT '${ROLE}', $$ $x$ $$;\n-- +goose Down\nDROP ROLE app;\n",
			},
			vars:     map[string]string{"ROLE": "app", "PASS": "", "NOTE": ""},
			versions: []int64{3},
			names:    []string{"role"},
			ups:      []sec{{"-- +goose ENVSUB ON\nCREATE ROLE app LOGIN PASSWORD 'secret';\nCOMMENT ON ROLE app IS '';\n-- +goose ENVSUB OFF\nSELECT '${ROLE}', $$ $x$ $$;\n", 2, false}},
			downs:    []*sec{{"DROP ROLE app;\n", 8, false}},
			sums:     []string{"-- +goose ENVSUB ON\nCREATE ROLE ${ROLE} LOGIN PASSWORD '${PASS:-secret}';\nCOMMENT ON ROLE $ROLE IS '${NOTE-none}';\n-- +goose ENVSUB OFF\nSELECT '${ROLE}', $$ $x$ $$;\n"},
		},
		{
			name: "dbmate sections and transaction:false",
			files: map[string]string{
				"20240101120000_idx.sql": "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n\n-- migrate:down\nDROP INDEX i;\n",
			},
			versions: []int64{20240101120000},
			names:    []string{"idx"},
			ups:      []sec{{"CREATE INDEX CONCURRENTLY i ON t (a);\n\n", 2, true}},
			downs:    []*sec{{"DROP INDEX i;\n", 5, false}},
			sums:     []string{"CREATE INDEX CONCURRENTLY i ON t (a);\n\n"},
		},
		{
			name: "flyway versioned and undo files",
			files: map[string]string{
				"V1__create_users.sql": "CREATE TABLE users (id int);\n",
				"U1__create_users.sql": "DROP TABLE users;\n",
				"V002__add_email.sql":  "ALTER TABLE users ADD email text;\n",
				"U2__drop_email.sql":   "ALTER TABLE users DROP email;\n",
				"V3__Seed.sql":         "INSERT INTO users VALUES (1);\n",
				"flyway.conf":          "flyway.locations=filesystem:.\n",
			},
			versions: []int64{1, 2, 3},
			names:    []string{"create_users", "add_email", "Seed"},
			ups: []sec{{"CREATE TABLE users (id int);\n", 1, false}, {"ALTER TABLE users ADD email text;\n", 1, false},
				{"INSERT INTO users VALUES (1);\n", 1, false}},
			downs: []*sec{{"DROP TABLE users;\n", 1, false}, {"ALTER TABLE users DROP email;\n", 1, false}, nil},
			sums:  []string{"CREATE TABLE users (id int);\n", "ALTER TABLE users ADD email text;\n", "INSERT INTO users VALUES (1);\n"},
		},
		{
			name: "formats mixed in one directory",
			files: map[string]string{
				"V1__a.sql":            "SELECT 1;",
				"002_b.sql":            "-- +goose Up\nSELECT 2;\n",
				"3_c.up.sql":           "SELECT 3;",
				"20240101000000_d.sql": "-- migrate:up\nSELECT 4;\n",
			},
			versions: []int64{1, 2, 3, 20240101000000},
			names:    []string{"a", "b", "c", "d"},
			ups:      []sec{{"SELECT 1;", 1, false}, {"SELECT 2;\n", 2, false}, {"SELECT 3;", 1, false}, {"SELECT 4;\n", 2, false}},
			downs:    []*sec{nil, nil, nil, nil},
			sums:     []string{"SELECT 1;", "SELECT 2;\n", "SELECT 3;", "SELECT 4;\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			migs := migrations(t, FromFSWith(mapFS(tc.files), Options{LookupEnv: env(tc.vars)}))
			if len(migs) != len(tc.versions) {
				t.Fatalf("got %d migrations, want %d: %+v", len(migs), len(tc.versions), migs)
			}
			for i, m := range migs {
				if m.Version != tc.versions[i] || m.Name != tc.names[i] {
					t.Errorf("migration %d: %d %q, want %d %q", i, m.Version, m.Name, tc.versions[i], tc.names[i])
				}
				if got := (sec{m.Up.SQL, m.Up.Line, m.Up.NoTransaction}); got != tc.ups[i] {
					t.Errorf("%d up = %+v, want %+v", m.Version, got, tc.ups[i])
				}
				switch {
				case tc.downs[i] == nil && m.Down != nil:
					t.Errorf("%d down = %+v, want none", m.Version, *m.Down)
				case tc.downs[i] != nil && m.Down == nil:
					t.Errorf("%d has no down, want %+v", m.Version, *tc.downs[i])
				case tc.downs[i] != nil:
					if got := (sec{m.Down.SQL, m.Down.Line, m.Down.NoTransaction}); got != *tc.downs[i] {
						t.Errorf("%d down = %+v, want %+v", m.Version, got, *tc.downs[i])
					}
				}
				if m.Checksum != sum(tc.sums[i]) {
					t.Errorf("%d checksum is not that of %q", m.Version, tc.sums[i])
				}
			}
		})
	}
}

func TestForeignFormatErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"flyway dotted version", map[string]string{"V1.2__x.sql": "SELECT 1;"},
			[]string{"V1.2__x.sql: Flyway version 1.2 is dotted", "renaming it to a whole number would change where it sorts"}},
		{"flyway underscore version", map[string]string{"V1_2__x.sql": "SELECT 1;"},
			[]string{"V1_2__x.sql: Flyway version 1_2 is dotted (Flyway reads it as 1.2, '_' as '.')"}},
		{"flyway repeatable", map[string]string{"R__views.sql": "CREATE VIEW v AS SELECT 1;"},
			[]string{"R__views.sql: Flyway repeatable migrations (R__name.sql) are not supported"}},
		{"flyway single underscore", map[string]string{"V1_x.sql": "SELECT 1;"},
			[]string{"V1_x.sql: a Flyway file name separates version and description with two underscores"}},
		{"flyway missing version", map[string]string{"V__x.sql": "SELECT 1;"},
			[]string{`V__x.sql: missing version after "V"`}},
		{"flyway missing description", map[string]string{"V1__.sql": "SELECT 1;"},
			[]string{"V1__.sql: missing description after '__'"}},
		{"flyway version zero", map[string]string{"V0__x.sql": "SELECT 1;"},
			[]string{"V0__x.sql: version 0 is not allowed"}},
		{"undo without versioned file", map[string]string{"U4__x.sql": "SELECT 1;"},
			[]string{"U4__x.sql: undo file without its versioned file: expected V4__<description>.sql beside it"}},
		{"undo beside a pgmig file", map[string]string{"004_x.sql": "SELECT 1;", "U4__x.sql": "SELECT 1;"},
			[]string{"U4__x.sql: undo file without its versioned file: expected V4__<description>.sql beside it, not 004_x.sql"}},
		{"down file beside a flyway file", map[string]string{"V4__x.sql": "SELECT 1;", "004_x.down.sql": "SELECT 1;"},
			[]string{"004_x.down.sql: down file without an up file"}},
		{"duplicate across formats", map[string]string{"V3__a.sql": "SELECT 1;", "003_b.sql": "SELECT 2;"},
			[]string{"version 3 is claimed by more than one file: 003_b.sql, V3__a.sql"}},
		{"markers in a flyway file", map[string]string{"V5__x.sql": "-- +goose Up\nSELECT 1;"},
			[]string{`V5__x.sql:1: "-- +goose Up" does not belong in a Flyway V…__….sql file`}},
		{"goose and pgmig markers mixed", map[string]string{"001_x.sql": "-- +goose Up\nSELECT 1;\n-- pgmig:down\nSELECT 2;\n"},
			[]string{`001_x.sql:3: "-- pgmig:down" is pgmig's, but line 1 ("-- +goose Up") is goose's: a file uses the markers of one tool only`}},
		{"dbmate and goose mixed", map[string]string{"001_x.sql": "-- migrate:up\n-- +goose StatementBegin\nSELECT 1;\n-- +goose StatementEnd\n"},
			[]string{`001_x.sql:2: "-- +goose StatementBegin" is goose's, but line 1 ("-- migrate:up") is dbmate's`}},
		{"goose down without up", map[string]string{"001_x.sql": "-- +goose Down\nSELECT 1;\n"},
			[]string{`001_x.sql:1: "-- +goose Down" without "-- +goose Up"`}},
		{"goose up twice", map[string]string{"001_x.sql": "-- +goose Up\nSELECT 1;\n-- +goose Up\n"},
			[]string{`001_x.sql:3: second "-- +goose Up" marker (the first is on line 1)`}},
		{"goose unknown annotation", map[string]string{"001_x.sql": "-- +goose Up\n-- +goose StatementBegins\nSELECT 1;\n"},
			[]string{`001_x.sql:2: unknown goose annotation "-- +goose StatementBegins"`}},
		{"goose StatementBegin without End", map[string]string{"001_x.sql": "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n-- +goose Down\nSELECT 2;\n"},
			[]string{`001_x.sql:2: "-- +goose StatementBegin" has no "-- +goose StatementEnd" before the end of its section`}},
		{"goose StatementEnd without Begin", map[string]string{"001_x.sql": "-- +goose Up\nSELECT 1;\n-- +goose StatementEnd\n"},
			[]string{`001_x.sql:3: "-- +goose StatementEnd" without "-- +goose StatementBegin"`}},
		{"goose nested StatementBegin", map[string]string{"001_x.sql": "-- +goose Up\n-- +goose StatementBegin\n-- +goose StatementBegin\nSELECT 1;\n-- +goose StatementEnd\n"},
			[]string{`001_x.sql:3: "-- +goose StatementBegin" inside the statement begun on line 2`}},
		{"goose StatementBegin in the header", map[string]string{"001_x.sql": "-- +goose StatementBegin\n-- +goose Up\nSELECT 1;\n"},
			[]string{`001_x.sql:1: "-- +goose StatementBegin" must be inside a section`}},
		{"goose block without ';' before more SQL", map[string]string{"001_x.sql": "-- +goose Up\n-- +goose StatementBegin\nSELECT 1\n-- +goose StatementEnd\nSELECT 2;\n"},
			[]string{`001_x.sql:4: the statement before "-- +goose StatementEnd" does not end with ';' and more SQL follows`}},
		{"ENVSUB variable not set", map[string]string{"001_x.sql": "-- +goose Up\n-- +goose ENVSUB ON\nSELECT 1;\nCREATE ROLE ${ROLE};\n"},
			[]string{"001_x.sql:4: -- +goose ENVSUB: variable ROLE is not set; set it, or give a default: ${ROLE:-default}"}},
		{"ENVSUB unbraced variable not set", map[string]string{"001_x.sql": "-- +goose ENVSUB ON\n-- +goose Up\nSELECT '$WHO';\n"},
			[]string{"001_x.sql:3: -- +goose ENVSUB: variable WHO is not set"}},
		{"ENVSUB malformed", map[string]string{"001_x.sql": "-- +goose Up\n-- +goose ENVSUB ON\nSELECT '${A:?x}', '${1}';\n"},
			[]string{"001_x.sql:3: -- +goose ENVSUB: ${A:?x}: want ${NAME}, ${NAME:-default} or ${NAME-default}"}},
		{"ENVSUB unclosed", map[string]string{"001_x.sql": "-- +goose Up\n-- +goose ENVSUB ON\nSELECT '${A';\n"},
			[]string{`001_x.sql:3: -- +goose ENVSUB: "${A';\n" has no closing '}'`}},
		{"dbmate unknown option", map[string]string{"001_x.sql": "-- migrate:up transaction:off\nSELECT 1;\n"},
			[]string{`001_x.sql:1: "-- migrate:up transaction:off": unknown option "transaction:off"`}},
		{"dbmate unknown marker", map[string]string{"001_x.sql": "-- migrate:upp\nSELECT 1;\n"},
			[]string{`001_x.sql:1: unknown dbmate marker "-- migrate:upp"`}},
		{"dbmate SQL before up", map[string]string{"001_x.sql": "SELECT 0;\n-- migrate:up\nSELECT 1;\n"},
			[]string{`001_x.sql:1: SQL before the first section marker (line 2): only comments and blank lines may come before it; put the up SQL after "-- migrate:up" and the down SQL after "-- migrate:down"`}},
		{"dbmate marker in an up file", map[string]string{"001_x.up.sql": "-- migrate:up\nSELECT 1;\n"},
			[]string{`001_x.up.sql:1: "-- migrate:up" does not belong in a .up.sql file`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromFSWith(mapFS(tc.files), Options{LookupEnv: env(nil)}).Migrations(context.Background())
			wantErr(t, err, tc.want...)
		})
	}
}

// FromFS takes ENVSUB variables from the process's environment.
func TestEnvsubFromEnvironment(t *testing.T) {
	t.Setenv("PGMIG_TEST_SCHEMA", "tenant_1")
	files := map[string]string{"001_x.sql": "-- +goose Up\n-- +goose ENVSUB ON\nCREATE SCHEMA ${PGMIG_TEST_SCHEMA};\n"}
	migs := migrations(t, FromFS(mapFS(files)))
	if want := "-- +goose ENVSUB ON\nCREATE SCHEMA tenant_1;\n"; migs[0].Up.SQL != want {
		t.Errorf("SQL = %q, want %q", migs[0].Up.SQL, want)
	}
	os.Unsetenv("PGMIG_TEST_SCHEMA")
	if _, err := FromFS(mapFS(files)).Migrations(context.Background()); err == nil || !strings.Contains(err.Error(), "001_x.sql:3:") {
		t.Errorf("unset variable: error %v, want one naming 001_x.sql:3", err)
	}
}

// The checksum of an ENVSUB file is the same whatever the variables hold.
func TestEnvsubChecksumStable(t *testing.T) {
	files := mapFS(map[string]string{"001_x.sql": "-- +goose Up\n-- +goose ENVSUB ON\nCREATE SCHEMA ${S};\n"})
	a := migrations(t, FromFSWith(files, Options{LookupEnv: env(map[string]string{"S": "a"})}))
	b := migrations(t, FromFSWith(files, Options{LookupEnv: env(map[string]string{"S": "b"})}))
	if a[0].Up.SQL == b[0].Up.SQL || a[0].Checksum != b[0].Checksum {
		t.Errorf("SQL %q / %q, checksums %s / %s: want different SQL, one checksum", a[0].Up.SQL, b[0].Up.SQL, a[0].Checksum, b[0].Checksum)
	}
}

var gooseSplitCases = []struct {
	name string
	sql  string
	want []string
}{
	{"goose block is one statement",
		"-- +goose StatementBegin\nCREATE TABLE a (id int);\nCREATE TABLE b (id int);\n-- +goose StatementEnd\nSELECT 1;",
		[]string{"-- +goose StatementBegin\nCREATE TABLE a (id int);\nCREATE TABLE b (id int);", "\n-- +goose StatementEnd\nSELECT 1;"}},
	{"goose block without a last ';' runs on to the next",
		"-- +goose StatementBegin\nSELECT 1\n-- +goose StatementEnd\nSELECT 2; SELECT 3;",
		[]string{"-- +goose StatementBegin\nSELECT 1\n-- +goose StatementEnd\nSELECT 2;", " SELECT 3;"}},
	{"goose annotations in any case",
		"  --   +GOOSE   statementbegin\nA; B;\n--+goose StatementEnd\n",
		[]string{"  --   +GOOSE   statementbegin\nA; B;", "\n--+goose StatementEnd\n"}},
	{"goose annotation after SQL on a line is a comment",
		"SELECT 1; -- +goose StatementBegin\nA; B;",
		[]string{"SELECT 1;", " -- +goose StatementBegin\nA;", " B;"}},
	{"goose annotation right after a ';' is a comment, also when it ends a piece",
		";--+goose StatementBegin\n;",
		[]string{";", "--+goose StatementBegin\n;"}},
	{"goose StatementEnd alone changes nothing",
		"A;\n-- +goose StatementEnd\nB;",
		[]string{"A;", "\n-- +goose StatementEnd\nB;"}},
	{"goose block resets parentheses",
		"-- +goose StatementBegin\nSELECT (;\n-- +goose StatementEnd\nSELECT 2; SELECT 3;",
		[]string{"-- +goose StatementBegin\nSELECT (;", "\n-- +goose StatementEnd\nSELECT 2;", " SELECT 3;"}},
	{"goose block open to the end",
		"-- +goose StatementBegin\nA; B;",
		[]string{"-- +goose StatementBegin\nA; B;"}},
}

func TestSplitGooseBlocks(t *testing.T) {
	for _, tc := range gooseSplitCases {
		t.Run(tc.name, func(t *testing.T) {
			stmts := Section{SQL: tc.sql, NoTransaction: true}.Statements()
			checkSplit(t, tc.sql, stmts)
			checkSplitAgain(t, tc.sql, true)
			plain := Split(tc.sql)
			if tx := (Section{SQL: tc.sql}).Statements(); len(tx) != len(plain) {
				t.Errorf("a transactional section's Statements differ from Split: %d and %d pieces", len(tx), len(plain))
			}
			var got []string
			for _, st := range stmts {
				got = append(got, st.Text)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("Split(%q)\n got %q\nwant %q", tc.sql, got, tc.want)
			}
		})
	}
}
