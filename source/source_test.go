package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// migrations returns what src reads, failing the test on error.
func migrations(t *testing.T, src Source) []Migration {
	t.Helper()
	migs, err := src.Migrations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return migs
}

// wantErr checks that err matches ErrInvalid and holds every substring.
func wantErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error %v does not match ErrInvalid", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
}

func TestMigrations(t *testing.T) {
	type sec struct {
		file  string
		sql   string
		line  int
		notx  bool
		empty bool // Down must be nil
	}
	type mig struct {
		version int64
		name    string
		up      sec
		down    sec
	}
	tests := []struct {
		name  string
		files map[string]string
		want  []mig
	}{
		{
			name:  "single file with both sections",
			files: map[string]string{"001_init.sql": "-- pgmig:up\nCREATE TABLE t();\n\n-- pgmig:down\nDROP TABLE t;\n"},
			want: []mig{{1, "init",
				sec{file: "001_init.sql", sql: "CREATE TABLE t();\n\n", line: 2},
				sec{file: "001_init.sql", sql: "DROP TABLE t;\n", line: 5}}},
		},
		{
			name:  "no marker is all up",
			files: map[string]string{"1_init.sql": "-- create\nCREATE TABLE t();\n"},
			want:  []mig{{1, "init", sec{file: "1_init.sql", sql: "-- create\nCREATE TABLE t();\n", line: 1}, sec{empty: true}}},
		},
		{
			name:  "down before up",
			files: map[string]string{"002_x.sql": "-- pgmig:down\nDROP TABLE t;\n-- pgmig:up\nCREATE TABLE t();"},
			want: []mig{{2, "x",
				sec{file: "002_x.sql", sql: "CREATE TABLE t();", line: 4},
				sec{file: "002_x.sql", sql: "DROP TABLE t;\n", line: 2}}},
		},
		{
			name:  "up only marker",
			files: map[string]string{"003_x.sql": "-- pgmig:up\nSELECT 1;\n"},
			want:  []mig{{3, "x", sec{file: "003_x.sql", sql: "SELECT 1;\n", line: 2}, sec{empty: true}}},
		},
		{
			name:  "empty down section",
			files: map[string]string{"003_x.sql": "-- pgmig:up\nSELECT 1;\n-- pgmig:down\n"},
			want:  []mig{{3, "x", sec{file: "003_x.sql", sql: "SELECT 1;\n", line: 2}, sec{file: "003_x.sql", sql: "", line: 4}}},
		},
		{
			name:  "markers with spaces, tabs and no space",
			files: map[string]string{"004_x.sql": "-- header comment\n\n  --pgmig:up  \nSELECT 1;\n\t-- pgmig:down\t\nSELECT 2;\n"},
			want: []mig{{4, "x",
				sec{file: "004_x.sql", sql: "SELECT 1;\n", line: 4},
				sec{file: "004_x.sql", sql: "SELECT 2;\n", line: 6}}},
		},
		{
			name:  "block comment header",
			files: map[string]string{"004_x.sql": "/* multi\n   line; 'header' */\n-- pgmig:up\nSELECT 1;\n"},
			want:  []mig{{4, "x", sec{file: "004_x.sql", sql: "SELECT 1;\n", line: 4}, sec{empty: true}}},
		},
		{
			name:  "CRLF turned into LF",
			files: map[string]string{"005_x.sql": "-- pgmig:up\r\nSELECT 1;\r\n-- pgmig:down\r\nSELECT 2;\r\n"},
			want: []mig{{5, "x",
				sec{file: "005_x.sql", sql: "SELECT 1;\n", line: 2},
				sec{file: "005_x.sql", sql: "SELECT 2;\n", line: 4}}},
		},
		{
			name:  "byte order mark dropped",
			files: map[string]string{"005_x.sql": "\uFEFF-- pgmig:up\nSELECT 1;\n"},
			want:  []mig{{5, "x", sec{file: "005_x.sql", sql: "SELECT 1;\n", line: 2}, sec{empty: true}}},
		},
		{
			name: "up and down files",
			files: map[string]string{
				"006_idx.up.sql":   "CREATE INDEX i ON t(a);\n",
				"006_idx.down.sql": "DROP INDEX i;\n",
			},
			want: []mig{{6, "idx",
				sec{file: "006_idx.up.sql", sql: "CREATE INDEX i ON t(a);\n", line: 1},
				sec{file: "006_idx.down.sql", sql: "DROP INDEX i;\n", line: 1}}},
		},
		{
			name:  "up file alone",
			files: map[string]string{"7_x.up.sql": "SELECT 1;"},
			want:  []mig{{7, "x", sec{file: "7_x.up.sql", sql: "SELECT 1;", line: 1}, sec{empty: true}}},
		},
		{
			name: "pair spelled with different padding",
			files: map[string]string{
				"007_x.up.sql": "SELECT 1;", "7_x.down.sql": "SELECT 2;",
			},
			want: []mig{{7, "x", sec{file: "007_x.up.sql", sql: "SELECT 1;", line: 1}, sec{file: "7_x.down.sql", sql: "SELECT 2;", line: 1}}},
		},
		{
			name: "sorted by version, not by name",
			files: map[string]string{
				"10_ten.sql": "SELECT 10;", "9_nine.sql": "SELECT 9;", "0011_eleven.sql": "SELECT 11;",
			},
			want: []mig{
				{9, "nine", sec{file: "9_nine.sql", sql: "SELECT 9;", line: 1}, sec{empty: true}},
				{10, "ten", sec{file: "10_ten.sql", sql: "SELECT 10;", line: 1}, sec{empty: true}},
				{11, "eleven", sec{file: "0011_eleven.sql", sql: "SELECT 11;", line: 1}, sec{empty: true}},
			},
		},
		{
			name:  "name is everything after the first underscore",
			files: map[string]string{"001_add_user_email.v2.sql": "SELECT 1;"},
			want:  []mig{{1, "add_user_email.v2", sec{file: "001_add_user_email.v2.sql", sql: "SELECT 1;", line: 1}, sec{empty: true}}},
		},
		{
			name: "other files and subdirectories ignored",
			files: map[string]string{
				"001_x.sql": "SELECT 1;", "README.md": "hi", "notes.SQL": "x", "sub/002_y.sql": "SELECT 2;", "seed/bad.sql": "x",
			},
			want: []mig{{1, "x", sec{file: "001_x.sql", sql: "SELECT 1;", line: 1}, sec{empty: true}}},
		},
		{
			name:  "no-transaction in up leading comments",
			files: map[string]string{"008_idx.sql": "-- pgmig:up\n-- builds online\n-- pgmig:no-transaction\n\nCREATE INDEX CONCURRENTLY i ON t(a);\n-- pgmig:down\nDROP INDEX i;\n"},
			want: []mig{{8, "idx",
				sec{file: "008_idx.sql", sql: "-- builds online\n-- pgmig:no-transaction\n\nCREATE INDEX CONCURRENTLY i ON t(a);\n", line: 2, notx: true},
				sec{file: "008_idx.sql", sql: "DROP INDEX i;\n", line: 7}}},
		},
		{
			name:  "no-transaction in down only",
			files: map[string]string{"008_idx.sql": "-- pgmig:up\nSELECT 1;\n-- pgmig:down\n--pgmig:no-transaction\nDROP INDEX CONCURRENTLY i;\n"},
			want: []mig{{8, "idx",
				sec{file: "008_idx.sql", sql: "SELECT 1;\n", line: 2},
				sec{file: "008_idx.sql", sql: "--pgmig:no-transaction\nDROP INDEX CONCURRENTLY i;\n", line: 4, notx: true}}},
		},
		{
			name:  "no-transaction in header applies to both",
			files: map[string]string{"008_idx.sql": "-- pgmig:no-transaction\n-- pgmig:up\nSELECT 1;\n-- pgmig:down\nSELECT 2;\n"},
			want: []mig{{8, "idx",
				sec{file: "008_idx.sql", sql: "SELECT 1;\n", line: 3, notx: true},
				sec{file: "008_idx.sql", sql: "SELECT 2;\n", line: 5, notx: true}}},
		},
		{
			name:  "no-transaction in file without markers",
			files: map[string]string{"008_idx.sql": "-- pgmig:no-transaction\nSELECT 1;\n"},
			want:  []mig{{8, "idx", sec{file: "008_idx.sql", sql: "-- pgmig:no-transaction\nSELECT 1;\n", line: 1, notx: true}, sec{empty: true}}},
		},
		{
			name:  "no-transaction after a block comment",
			files: map[string]string{"008_idx.sql": "/* CONCURRENTLY;\n */\n-- pgmig:no-transaction\nSELECT 1;\n"},
			want:  []mig{{8, "idx", sec{file: "008_idx.sql", sql: "/* CONCURRENTLY;\n */\n-- pgmig:no-transaction\nSELECT 1;\n", line: 1, notx: true}, sec{empty: true}}},
		},
		{
			name: "no-transaction in up and down files",
			files: map[string]string{
				"009_i.up.sql":   "-- pgmig:no-transaction\nCREATE INDEX CONCURRENTLY i ON t(a);\n",
				"009_i.down.sql": "\n-- pgmig:no-transaction\nDROP INDEX CONCURRENTLY i;\n",
			},
			want: []mig{{9, "i",
				sec{file: "009_i.up.sql", sql: "-- pgmig:no-transaction\nCREATE INDEX CONCURRENTLY i ON t(a);\n", line: 1, notx: true},
				sec{file: "009_i.down.sql", sql: "\n-- pgmig:no-transaction\nDROP INDEX CONCURRENTLY i;\n", line: 1, notx: true}}},
		},
		{
			name:  "ordinary comments mentioning pgmig are not directives",
			files: map[string]string{"010_x.sql": "-- pgmig up\n-- see pgmig:up docs\nSELECT 1;\n"},
			want:  []mig{{10, "x", sec{file: "010_x.sql", sql: "-- pgmig up\n-- see pgmig:up docs\nSELECT 1;\n", line: 1}, sec{empty: true}}},
		},
		{
			name:  "empty source",
			files: map[string]string{},
			want:  nil,
		},
	}
	check := func(t *testing.T, what string, got *Section, want sec) {
		t.Helper()
		if want.empty {
			if got != nil {
				t.Errorf("%s = %+v, want none", what, *got)
			}
			return
		}
		if got == nil {
			t.Fatalf("%s missing", what)
		}
		if got.File != want.file || got.SQL != want.sql || got.Line != want.line || got.NoTransaction != want.notx {
			t.Errorf("%s = {File:%q SQL:%q Line:%d NoTransaction:%v}\nwant {File:%q SQL:%q Line:%d NoTransaction:%v}",
				what, got.File, got.SQL, got.Line, got.NoTransaction, want.file, want.sql, want.line, want.notx)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			migs := migrations(t, FromFS(mapFS(tc.files)))
			if len(migs) != len(tc.want) {
				t.Fatalf("got %d migrations, want %d: %+v", len(migs), len(tc.want), migs)
			}
			for i, w := range tc.want {
				m := migs[i]
				if m.Version != w.version || m.Name != w.name {
					t.Errorf("migration %d = %d %q, want %d %q", i, m.Version, m.Name, w.version, w.name)
				}
				check(t, "Up", &m.Up, w.up)
				check(t, "Down", m.Down, w.down)
				if m.Checksum != sum(m.Up.SQL) {
					t.Errorf("Checksum %s is not the SHA-256 of Up.SQL", m.Checksum)
				}
			}
		})
	}
}

// fileErrorCases are shared with the fuzz seeds.
var fileErrorCases = []struct {
	name  string
	files map[string]string
	want  []string // substrings of the joined error, each naming file and line
}{
	{"no version", map[string]string{"init.sql": ""},
		[]string{"init.sql: file name does not begin with a version number; expected NNN_name.sql"}},
	{"no underscore", map[string]string{"001init.sql": ""},
		[]string{"001init.sql: expected '_' right after the version 001"}},
	{"dash instead of underscore", map[string]string{"001-init.sql": ""},
		[]string{"001-init.sql: expected '_'"}},
	{"only digits", map[string]string{"001.sql": ""},
		[]string{"001.sql: expected '_'"}},
	{"empty name", map[string]string{"001_.sql": ""},
		[]string{"001_.sql: missing name after '_'"}},
	{"empty name up file", map[string]string{"001_.up.sql": ""},
		[]string{"001_.up.sql: missing name after '_'"}},
	{"version zero", map[string]string{"000_init.sql": ""},
		[]string{"000_init.sql: version 000 is not allowed: versions start at 1"}},
	{"version overflow", map[string]string{"99999999999999999999_x.sql": ""},
		[]string{"99999999999999999999_x.sql: version 99999999999999999999 is too large"}},
	{"duplicate version", map[string]string{"1_a.sql": "", "001_b.sql": ""},
		[]string{"version 1 is claimed by more than one file: 001_b.sql, 1_a.sql"}},
	{"three files of one version", map[string]string{"3_c.sql": "", "1_a.sql": "", "01_b.sql": "", "002_x.sql": "", "001_d.up.sql": ""},
		[]string{"version 1 is claimed by more than one file: 001_d.up.sql, 01_b.sql, 1_a.sql"}},
	{"single and up file", map[string]string{"002_a.sql": "", "002_a.up.sql": ""},
		[]string{"version 2 is claimed by more than one file: 002_a.sql, 002_a.up.sql"}},
	{"single and down file", map[string]string{"002_a.sql": "", "002_a.down.sql": ""},
		[]string{"version 2 is claimed by more than one file: 002_a.down.sql, 002_a.sql"}},
	{"orphan down file", map[string]string{"003_a.down.sql": "DROP TABLE a;"},
		[]string{"003_a.down.sql: down file without an up file: expected 003_a.up.sql beside it"}},
	{"unknown directive", map[string]string{"003_x.sql": "-- pgmig:up\n\n-- pgmig:no-transactions\nSELECT 1;\n"},
		[]string{`003_x.sql:3: unknown directive "-- pgmig:no-transactions" (known: up, down, no-transaction, lock-timeout, lint-ignore)`}},
	{"bad lock timeout", map[string]string{"004_x.sql": "-- pgmig:up\n-- pgmig:lock-timeout soon\nSELECT 1;\n"},
		[]string{`004_x.sql:2: "-- pgmig:lock-timeout" wants a positive duration such as 2s or 500ms, got "soon"`}},
	{"directive name is case-sensitive", map[string]string{"003_x.sql": "-- PGMIG:UP\nSELECT 1;\n"},
		[]string{`003_x.sql:1: unknown directive "-- PGMIG:UP"`}},
	{"empty directive name", map[string]string{"003_x.sql": "-- pgmig: up\nSELECT 1;\n"},
		[]string{`003_x.sql:1: unknown directive "-- pgmig: up"`}},
	{"marker twice", map[string]string{"003_x.sql": "-- pgmig:up\nSELECT 1;\n-- pgmig:down\nSELECT 2;\n-- pgmig:up\nSELECT 3;\n"},
		[]string{`003_x.sql:5: second "-- pgmig:up" marker (the first is on line 1)`}},
	{"marker with argument", map[string]string{"003_x.sql": "-- pgmig:up now\nSELECT 1;\n"},
		[]string{`003_x.sql:1: "-- pgmig:up" takes no argument, got "now"`}},
	{"SQL before first marker", map[string]string{"003_x.sql": "-- intro\nSELECT 0;\n-- pgmig:up\nSELECT 1;\n"},
		[]string{"003_x.sql:2: SQL before the first section marker (line 3)"}},
	{"down marker without up marker", map[string]string{"003_x.sql": "CREATE TABLE t();\n-- pgmig:down\nDROP TABLE t;\n"},
		[]string{`003_x.sql:2: "-- pgmig:down" without "-- pgmig:up"`}},
	{"no-transaction after the first statement", map[string]string{"003_x.sql": "-- pgmig:up\nSELECT 1;\n-- pgmig:no-transaction\nSELECT 2;\n"},
		[]string{`003_x.sql:3: "-- pgmig:no-transaction" must be among the leading comment lines of a section, before its first statement, or before the first marker`}},
	{"no-transaction late in a file without markers", map[string]string{"003_x.sql": "SELECT 1;\n-- pgmig:no-transaction\n"},
		[]string{`003_x.sql:2: "-- pgmig:no-transaction" must be among the leading comment lines of a section, before its first statement`}},
	{"no-transaction with argument", map[string]string{"003_x.sql": "-- pgmig:no-transaction please\nSELECT 1;\n"},
		[]string{`003_x.sql:1: "-- pgmig:no-transaction" takes no argument, got "please"`}},
	{"up marker in up file", map[string]string{"004_x.up.sql": "-- pgmig:up\nSELECT 1;\n"},
		[]string{`004_x.up.sql:1: "-- pgmig:up" does not belong in a .up.sql file`}},
	{"down marker in down file", map[string]string{"004_x.up.sql": "SELECT 1;", "004_x.down.sql": "SELECT 2;\n-- pgmig:down\n"},
		[]string{`004_x.down.sql:2: "-- pgmig:down" does not belong in a .down.sql file`}},
	{"invalid UTF-8", map[string]string{"005_x.sql": "SELECT 1;\nSELECT '\xff';\n"},
		[]string{"005_x.sql:2: invalid UTF-8: migration files must be UTF-8 text"}},
	{"NUL byte", map[string]string{"005_x.sql": "SELECT 1;\n\n\x00"},
		[]string{"005_x.sql:3: NUL byte"}},
	{"CRLF lines counted once", map[string]string{"006_x.sql": "-- pgmig:up\r\nSELECT 1;\r\n-- pgmig:bogus\r\n"},
		[]string{`006_x.sql:3: unknown directive "-- pgmig:bogus"`}},
	{"all problems reported together", map[string]string{
		"bad.sql":   "",
		"002_a.sql": "-- pgmig:oops\n",
		"003_a.sql": "", "3_b.sql": "",
		"004_x.sql": "SELECT 1;\n-- pgmig:up\n",
	}, []string{
		"bad.sql: file name",
		`002_a.sql:1: unknown directive "-- pgmig:oops"`,
		"version 3 is claimed by more than one file: 003_a.sql, 3_b.sql",
		"004_x.sql:1: SQL before the first section marker (line 2)",
	}},
}

func TestMigrationsErrors(t *testing.T) {
	for _, tc := range fileErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			migs, err := FromFS(mapFS(tc.files)).Migrations(context.Background())
			wantErr(t, err, tc.want...)
			if migs != nil {
				t.Errorf("got migrations %+v with an error", migs)
			}
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok {
				t.Fatalf("error %T is not joined", err)
			}
			for _, e := range joined.Unwrap() {
				if !errors.Is(e, ErrInvalid) {
					t.Errorf("part %v does not match ErrInvalid", e)
				}
			}
			if n := len(joined.Unwrap()); n != len(tc.want) {
				t.Errorf("got %d errors, want %d:\n%v", n, len(tc.want), err)
			}
		})
	}
}

func TestErrorTypes(t *testing.T) {
	_, err := FromFS(mapFS(map[string]string{
		"001_a.sql": "", "1_b.sql": "", "002_x.sql": "SELECT 1;\n-- pgmig:no-transaction\n",
	})).Migrations(context.Background())
	var dup *DuplicateVersionError
	if !errors.As(err, &dup) || dup.Version != 1 || strings.Join(dup.Files, " ") != "001_a.sql 1_b.sql" {
		t.Errorf("DuplicateVersionError = %+v from %v", dup, err)
	}
	var fe *FileError
	if !errors.As(err, &fe) || fe.File != "002_x.sql" || fe.Line != 2 {
		t.Errorf("FileError = %+v from %v", fe, err)
	}
	if (&FileError{File: "a.sql", Msg: "bad"}).Error() != "a.sql: bad" {
		t.Error("FileError without a line shows one")
	}
}

func TestChecksum(t *testing.T) {
	lf := "-- pgmig:up\nCREATE TABLE t();\n-- pgmig:down\nDROP TABLE t;\n"
	crlf := strings.ReplaceAll(lf, "\n", "\r\n")
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"single file checksums its up section", map[string]string{"001_a.sql": lf}, sum("CREATE TABLE t();\n")},
		{"CRLF single file", map[string]string{"001_a.sql": crlf}, sum("CREATE TABLE t();\n")},
		{"header and down do not count", map[string]string{"001_a.sql": "-- new header\n" + strings.Replace(lf, "DROP", "DROP  ", 1)}, sum("CREATE TABLE t();\n")},
		{"no markers checksums the whole file", map[string]string{"001_a.sql": "-- c\nSELECT 1;\n"}, sum("-- c\nSELECT 1;\n")},
		{"up file checksums the whole file", map[string]string{"001_a.up.sql": "-- pgmig:no-transaction\nSELECT 1;\n"}, sum("-- pgmig:no-transaction\nSELECT 1;\n")},
		{"CRLF up file", map[string]string{"001_a.up.sql": "-- pgmig:no-transaction\r\nSELECT 1;\r\n", "001_a.down.sql": "x"}, sum("-- pgmig:no-transaction\nSELECT 1;\n")},
		{"lone CR kept", map[string]string{"001_a.up.sql": "SELECT 1;\r"}, sum("SELECT 1;\r")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			migs := migrations(t, FromFS(mapFS(tc.files)))
			if migs[0].Checksum != tc.want {
				t.Errorf("Checksum = %s, want %s", migs[0].Checksum, tc.want)
			}
		})
	}
}

func TestBuiltin(t *testing.T) {
	migs := migrations(t, Builtin())
	want := []string{"create_users", "create_user_security", "create_audit_log", "create_sessions"}
	if len(migs) != len(want) {
		t.Fatalf("got %d migrations, want %d", len(migs), len(want))
	}
	for i, m := range migs {
		if m.Version != int64(i+1) || m.Name != want[i] {
			t.Errorf("migration %d = %d %s, want %d %s", i, m.Version, m.Name, i+1, want[i])
		}
		if m.Down == nil || !strings.Contains(m.Down.SQL, "DROP TABLE") {
			t.Errorf("%s has no down section", m.Name)
		}
		if m.Up.NoTransaction || m.Up.Line != 2 || !strings.HasPrefix(m.Up.SQL, "CREATE TABLE") {
			t.Errorf("%s up section = %+v", m.Name, m.Up)
		}
	}
	if _, err := fs.Stat(BuiltinFS(), "001_create_users.sql"); err != nil {
		t.Errorf("BuiltinFS: %v", err)
	}
}

func TestDir(t *testing.T) {
	t.Run("fixture", func(t *testing.T) {
		migs := migrations(t, Dir(filepath.Join("testdata", "mixed")))
		var got []string
		for _, m := range migs {
			got = append(got, m.Up.File)
		}
		if strings.Join(got, " ") != "001_create_orders.sql 002_index_orders.up.sql 003_seed.sql" {
			t.Errorf("files = %v", got)
		}
		if !migs[1].Up.NoTransaction || migs[1].Down == nil || !migs[1].Down.NoTransaction {
			t.Errorf("002 sections = %+v %+v", migs[1].Up, migs[1].Down)
		}
		if migs[2].Down != nil {
			t.Errorf("003 has a down section")
		}
	})
	t.Run("duplicate fixture", func(t *testing.T) {
		_, err := Dir(filepath.Join("testdata", "duplicate")).Migrations(context.Background())
		var dup *DuplicateVersionError
		if !errors.As(err, &dup) || dup.Version != 2 {
			t.Fatalf("err = %v", err)
		}
	})
	// A directory that cannot be read is an I/O error, not an invalid
	// migration set.
	for _, tc := range []struct {
		name string
		path func(t *testing.T) string
	}{
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }},
		{"not a directory", func(*testing.T) string { return filepath.Join("testdata", "mixed", "001_create_orders.sql") }},
		{"unreadable", func(t *testing.T) string {
			if os.Geteuid() == 0 {
				t.Skip("root reads any directory")
			}
			dir := t.TempDir()
			if err := os.Chmod(dir, 0); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
			return dir
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path(t)
			_, err := Dir(path).Migrations(context.Background())
			if err == nil || errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want a plain error naming %s", err, path)
			}
		})
	}
}

func TestMigrationsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := FromFS(mapFS(map[string]string{"001_a.sql": ""})).Migrations(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestSectionLinesMapErrors(t *testing.T) {
	// The runner's path from a server error position to a file line:
	// Section.Line plus the lines before the position in SQL.
	file := "-- header\n-- pgmig:up\nCREATE TABLE é(\n  x int);\nSELECT 日本x;\n-- pgmig:down\nDROP TABLE é;\n"
	migs := migrations(t, FromFS(mapFS(map[string]string{"001_a.sql": file})))
	up := migs[0].Up
	charPos := strings.Count(up.SQL[:strings.Index(up.SQL, "x;")], "") // 1-based character index of "x;"
	line, col := LineCol(up.SQL, Position(up.SQL, charPos))
	if fileLine := up.Line + line - 1; fileLine != 5 || col != 10 {
		t.Errorf("position %d maps to %d:%d, want 5:10", charPos, fileLine, col)
	}
	lines := strings.Split(file, "\n")
	if got := lines[up.Line+line-2]; got != "SELECT 日本x;" {
		t.Errorf("line = %q", got)
	}
}
