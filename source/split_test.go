package source

import (
	"slices"
	"strings"
	"testing"
)

// splitCases are shared with the fuzz seeds.
var splitCases = []struct {
	name string
	sql  string
	want []string // Texts; an entry prefixed with "~" is an Empty piece
}{
	{"empty input", "", nil},
	{"one statement", "SELECT 1;", []string{"SELECT 1;"}},
	{"no final semicolon", "SELECT 1", []string{"SELECT 1"}},
	{"two statements", "SELECT 1;SELECT 2;", []string{"SELECT 1;", "SELECT 2;"}},
	{"leading space goes with the next statement", "SELECT 1;\n\n  SELECT 2;\n",
		[]string{"SELECT 1;", "\n\n  SELECT 2;", "~\n"}},
	{"trailing comment is an empty piece", "SELECT 1; -- done\n/* end */",
		[]string{"SELECT 1;", "~ -- done\n/* end */"}},
	{"empty statements", ";;SELECT 1;;", []string{"~;", "~;", "SELECT 1;", "~;"}},
	{"comment before statement", "-- first; not yet\nSELECT 1;", []string{"-- first; not yet\nSELECT 1;"}},
	{"line comment with quote", "SELECT 1; -- it's\nSELECT 2;", []string{"SELECT 1;", " -- it's\nSELECT 2;"}},
	{"line comment ended by CR", "SELECT 1 --x\rSELECT 2; SELECT 3;", []string{"SELECT 1 --x\rSELECT 2;", " SELECT 3;"}},
	{"block comment with semicolon and quote", "SELECT /* ; ' */ 1; SELECT 2;", []string{"SELECT /* ; ' */ 1;", " SELECT 2;"}},
	{"nested block comment", "/* a /* b; */ c; */ SELECT 1; SELECT 2;", []string{"/* a /* b; */ c; */ SELECT 1;", " SELECT 2;"}},
	{"block comment with slashes and stars", "/*/ ; **/ SELECT 1;", []string{"/*/ ; **/ SELECT 1;"}},
	{"comment start inside operator", "SELECT 1 +-- x;\n1; SELECT 2;", []string{"SELECT 1 +-- x;\n1;", " SELECT 2;"}},
	{"only comments", "-- a\n/* b */\n", []string{"~-- a\n/* b */\n"}},
	{"unterminated block comment", "SELECT 1; /* ; ", []string{"SELECT 1;", "~ /* ; "}},
	{"string with semicolon", "SELECT ';'; SELECT 2;", []string{"SELECT ';';", " SELECT 2;"}},
	{"doubled quote", "SELECT 'it''s; ok'; SELECT 2;", []string{"SELECT 'it''s; ok';", " SELECT 2;"}},
	{"backslash is not an escape in standard strings", `SELECT 'a\'; SELECT 2;`, []string{`SELECT 'a\';`, " SELECT 2;"}},
	{"E string backslash escape", `SELECT E'\''; SELECT 2;`, []string{`SELECT E'\'';`, " SELECT 2;"}},
	{"e string lower case", `SELECT e'a\';b'; SELECT 2;`, []string{`SELECT e'a\';b';`, " SELECT 2;"}},
	{"E string doubled quote", `SELECT E'a'';b'; SELECT 2;`, []string{`SELECT E'a'';b';`, " SELECT 2;"}},
	{"E string backslash backslash", `SELECT E'\\'; SELECT 2;`, []string{`SELECT E'\\';`, " SELECT 2;"}},
	{"identifier ending in e before quote", `SELECT somee'a\'; SELECT 2;`, []string{`SELECT somee'a\';`, " SELECT 2;"}},
	{"E string continued", "SELECT E'a'\n'\\' ; '; SELECT 2;", []string{"SELECT E'a'\n'\\' ; ';", " SELECT 2;"}},
	{"continuation needs a newline", `SELECT E'a' '\'; SELECT 2;`, []string{`SELECT E'a' '\';`, " SELECT 2;"}},
	{"continuation across a comment", "SELECT E'a' -- c\n-- d\n'\\';'; SELECT 2;", []string{"SELECT E'a' -- c\n-- d\n'\\';';", " SELECT 2;"}},
	{"U& string", `SELECT U&'d\0061t;'; SELECT 2;`, []string{`SELECT U&'d\0061t;';`, " SELECT 2;"}},
	{"U& identifier", `SELECT 1 AS U&"a;b"; SELECT 2;`, []string{`SELECT 1 AS U&"a;b";`, " SELECT 2;"}},
	{"bit and hex strings", "SELECT B'1;0', X'1;F', N'n;'; SELECT 2;", []string{"SELECT B'1;0', X'1;F', N'n;';", " SELECT 2;"}},
	{"quoted identifier", `SELECT 1 AS "a;b"; SELECT 2;`, []string{`SELECT 1 AS "a;b";`, " SELECT 2;"}},
	{"quoted identifier with doubled quote", `SELECT 1 AS "a"";b"; SELECT 2;`, []string{`SELECT 1 AS "a"";b";`, " SELECT 2;"}},
	{"dollar quote", "SELECT $$a;b$$; SELECT 2;", []string{"SELECT $$a;b$$;", " SELECT 2;"}},
	{"tagged dollar quote", "SELECT $fn$ $$;$$ $fn$; SELECT 2;", []string{"SELECT $fn$ $$;$$ $fn$;", " SELECT 2;"}},
	{"nested dollar tags", "SELECT $a$ $b$ $$ ; $$ $b$ ; $a$; SELECT 2;", []string{"SELECT $a$ $b$ $$ ; $$ $b$ ; $a$;", " SELECT 2;"}},
	{"dollar tag junk before close", "SELECT $a$ ; $ab$a$; SELECT 2;", []string{"SELECT $a$ ; $ab$a$;", " SELECT 2;"}},
	{"parameter is not a quote", "SELECT $1; SELECT $2;", []string{"SELECT $1;", " SELECT $2;"}},
	{"dollar inside identifier", "SELECT a$b$; SELECT 2;", []string{"SELECT a$b$;", " SELECT 2;"}},
	{"dollar right after number opens a quote", "SELECT 1$a$;$a$; SELECT 2;", []string{"SELECT 1$a$;$a$;", " SELECT 2;"}},
	{"dollar in number junk opens no quote", "SELECT 1a$b$; SELECT 2;", []string{"SELECT 1a$b$;", " SELECT 2;"}},
	{"exponent sign belongs to the number", "SELECT 1e--x;\n; SELECT 2;", []string{"SELECT 1e--x;", "~\n;", " SELECT 2;"}},
	{"exponent then comment", "SELECT 1e+-- x;\n1; SELECT 2;", []string{"SELECT 1e+-- x;\n1;", " SELECT 2;"}},
	{"real number then comment", "SELECT 1.5e-3--x;\n; SELECT 2;", []string{"SELECT 1.5e-3--x;\n;", " SELECT 2;"}},
	{"keyword after number is junk", "CREATE FUNCTION f() RETURNS int RETURN 1.begin; SELECT 2;", []string{"CREATE FUNCTION f() RETURNS int RETURN 1.begin;", " SELECT 2;"}},
	{"leading dot number junk", "SELECT .5a$b$; SELECT 2;", []string{"SELECT .5a$b$;", " SELECT 2;"}},
	{"dot dot", "SELECT 1..a$b$; SELECT 2;", []string{"SELECT 1..a$b$;", " SELECT 2;"}},
	{"dollar tag with digits", "SELECT $t1$;$t1$; SELECT 2;", []string{"SELECT $t1$;$t1$;", " SELECT 2;"}},
	{"dollar tag cannot start with digit", "SELECT $1a$; SELECT 2;", []string{"SELECT $1a$;", " SELECT 2;"}},
	{"unterminated dollar quote", "SELECT $$; SELECT 2;", []string{"SELECT $$; SELECT 2;"}},
	{"unterminated string", "SELECT 'a; SELECT 2;", []string{"SELECT 'a; SELECT 2;"}},
	{"parentheses hold semicolons", "SELECT (1;2); SELECT 2;", []string{"SELECT (1;2);", " SELECT 2;"}},
	{"stray closing parenthesis", "SELECT 1); SELECT 2;", []string{"SELECT 1);", " SELECT 2;"}},
	{"plpgsql function", "CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\nSELECT f();",
		[]string{"CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;", "\nSELECT f();"}},
	{"begin atomic", "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3;",
		[]string{"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;", " SELECT 3;"}},
	{"begin atomic or replace procedure", "create or replace procedure p() begin atomic insert into t values (1); end; SELECT 3;",
		[]string{"create or replace procedure p() begin atomic insert into t values (1); end;", " SELECT 3;"}},
	{"case inside atomic body", "CREATE FUNCTION f(x int) RETURNS int BEGIN ATOMIC SELECT CASE WHEN x > 0 THEN 1 ELSE 2 END; SELECT 3; END; SELECT 4;",
		[]string{"CREATE FUNCTION f(x int) RETURNS int BEGIN ATOMIC SELECT CASE WHEN x > 0 THEN 1 ELSE 2 END; SELECT 3; END;", " SELECT 4;"}},
	{"begin outside routine is a transaction", "BEGIN; SELECT 1; END;", []string{"BEGIN;", " SELECT 1;", " END;"}},
	{"case outside routine", "SELECT CASE WHEN true THEN 1 END; SELECT 2;", []string{"SELECT CASE WHEN true THEN 1 END;", " SELECT 2;"}},
	{"begin inside parentheses does not count", "CREATE FUNCTION f(begin int) RETURNS int RETURN 1; SELECT 2;",
		[]string{"CREATE FUNCTION f(begin int) RETURNS int RETURN 1;", " SELECT 2;"}},
	{"create trigger is not a routine", "CREATE OR REPLACE TRIGGER t BEGIN; SELECT 2;", []string{"CREATE OR REPLACE TRIGGER t BEGIN;", " SELECT 2;"}},
	{"routine state resets per statement", "CREATE FUNCTION f() RETURNS int RETURN 1; BEGIN; SELECT 2;",
		[]string{"CREATE FUNCTION f() RETURNS int RETURN 1;", " BEGIN;", " SELECT 2;"}},
	{"quoted BEGIN is not a keyword", `CREATE FUNCTION "begin"() RETURNS int RETURN 1; SELECT 2;`,
		[]string{`CREATE FUNCTION "begin"() RETURNS int RETURN 1;`, " SELECT 2;"}},
	{"multibyte identifiers", "SELECT 1 AS é; SELECT '日本;'; SELECT 2;", []string{"SELECT 1 AS é;", " SELECT '日本;';", " SELECT 2;"}},
	{"CRLF input", "SELECT 1;\r\nSELECT 2;\r\n", []string{"SELECT 1;", "\r\nSELECT 2;", "~\r\n"}},
}

func TestSplit(t *testing.T) {
	for _, tc := range splitCases {
		t.Run(tc.name, func(t *testing.T) {
			stmts := Split(tc.sql)
			var got []string
			for _, st := range stmts {
				if st.Empty() {
					got = append(got, "~"+st.Text)
				} else {
					got = append(got, st.Text)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Split(%q)\n got %q\nwant %q", tc.sql, got, tc.want)
			}
			checkSplit(t, tc.sql, stmts)
		})
	}
}

// checkSplit asserts Split's invariants: the pieces cover the input in
// order, Start points at a token inside its piece, and an Empty piece holds
// nothing but whitespace, comments and ';'.
func checkSplit(t *testing.T, sql string, stmts []Statement) {
	t.Helper()
	var b strings.Builder
	off := 0
	for i, st := range stmts {
		if st.Offset != off {
			t.Fatalf("piece %d: Offset %d, want %d", i, st.Offset, off)
		}
		if st.Text == "" {
			t.Fatalf("piece %d is empty", i)
		}
		end := off + len(st.Text)
		if st.Start != -1 && (st.Start < off || st.Start >= end) {
			t.Fatalf("piece %d: Start %d outside [%d,%d)", i, st.Start, off, end)
		}
		if st.Empty() {
			if k := firstToken(strings.ReplaceAll(st.Text, ";", " ")); k >= 0 {
				t.Fatalf("piece %d %q is Empty but holds a token at %d", i, st.Text, k)
			}
		} else if k := firstToken(st.Text); st.Start != off+k {
			t.Fatalf("piece %d %q: Start %d, first token at %d", i, st.Text, st.Start, off+k)
		}
		if i < len(stmts)-1 && !strings.HasSuffix(st.Text, ";") {
			t.Fatalf("piece %d %q does not end in ';'", i, st.Text)
		}
		b.WriteString(st.Text)
		off = end
	}
	if b.String() != sql {
		t.Fatalf("pieces concatenate to %q, want %q", b.String(), sql)
	}
}

func TestPosition(t *testing.T) {
	tests := []struct {
		name    string
		sql     string
		charPos int
		want    int // byte offset
		line    int
		col     int
	}{
		{"first character", "SELECT x", 1, 0, 1, 1},
		{"ascii", "SELECT x", 8, 7, 1, 8},
		{"zero clamps to start", "SELECT x", 0, 0, 1, 1},
		{"negative clamps to start", "SELECT x", -5, 0, 1, 1},
		{"past end clamps to end", "SELECT x", 100, 8, 1, 9},
		{"one past last", "ab", 3, 2, 1, 3},
		{"empty input", "", 1, 0, 1, 1},
		{"accent before", "SELECT 'é' + x", 14, 14, 1, 14},
		{"cjk before", "SELECT '日本' + x", 15, 18, 1, 15},
		{"emoji before", "SELECT '🐘' + x", 14, 16, 1, 14},
		{"second line", "SELECT 'é',\n  '日本', x", 21, 25, 2, 9},
		{"third line after emoji", "-- 🐘🐘\n\nSELECT x", 15, 20, 3, 8},
		{"at newline", "ab\ncd", 3, 2, 1, 3},
		{"after newline", "ab\ncd", 4, 3, 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			off := Position(tc.sql, tc.charPos)
			if off != tc.want {
				t.Fatalf("Position(%q, %d) = %d, want %d", tc.sql, tc.charPos, off, tc.want)
			}
			line, col := LineCol(tc.sql, off)
			if line != tc.line || col != tc.col {
				t.Fatalf("LineCol(%q, %d) = %d:%d, want %d:%d", tc.sql, off, line, col, tc.line, tc.col)
			}
		})
	}
}

func TestLineColClamps(t *testing.T) {
	for _, off := range []int{-3, 0} {
		if l, c := LineCol("ab\nc", off); l != 1 || c != 1 {
			t.Errorf("LineCol(_, %d) = %d:%d, want 1:1", off, l, c)
		}
	}
	if l, c := LineCol("ab\nc", 99); l != 2 || c != 2 {
		t.Errorf("LineCol(_, 99) = %d:%d, want 2:2", l, c)
	}
}
