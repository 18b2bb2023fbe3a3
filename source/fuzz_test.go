package source

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzSplit(f *testing.F) {
	for _, tc := range splitCases {
		f.Add(tc.sql)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		for _, goose := range []bool{false, true} {
			checkSplitAgain(t, sql, goose)
		}
	})
}

// checkSplitAgain checks split's invariants, with goose's StatementBegin …
// StatementEnd blocks (a no-transaction section's Statements) or without.
func checkSplitAgain(t *testing.T, sql string, goose bool) {
	stmts := split(sql, goose)
	checkSplit(t, sql, stmts)
	// The lexer is back in its initial state after every split, so each
	// piece split again is that one piece again. Every piece but the first
	// begins just after the ';' that ended the one before, and is split
	// again after that ';': a goose marker counts only at the start of a
	// line, so "; -- +goose StatementBegin" is a comment, not a marker.
	for i, st := range stmts {
		text, skip := st.Text, 0
		if st.Offset > 0 {
			if sql[st.Offset-1] != ';' {
				t.Fatalf("piece %d at %d does not follow a ';' (goose blocks: %v)", i, st.Offset, goose)
			}
			text, skip = ";"+st.Text, 1
		}
		again := split(text, goose)
		if skip > 0 {
			if len(again) == 0 || again[0].Text != ";" {
				t.Fatalf("';' before piece %d %q splits into %+v (goose blocks: %v)", i, st.Text, again, goose)
			}
			again = again[1:]
			for j := range again {
				again[j].Offset -= skip
				if again[j].Start >= 0 {
					again[j].Start -= skip
				}
			}
		}
		if len(again) != 1 || again[0].Text != st.Text || (again[0].Start < 0) != st.Empty() ||
			!st.Empty() && again[0].Start != st.Start-st.Offset {
			t.Fatalf("piece %d %q splits again into %+v (goose blocks: %v)", i, st.Text, again, goose)
		}
	}
}

func FuzzParseFile(f *testing.F) {
	for _, tc := range fileErrorCases {
		for name, body := range tc.files {
			f.Add(name, body)
		}
	}
	f.Add("001_x.sql", "-- pgmig:up\nSELECT 1;\n-- pgmig:down\nSELECT 2;\n")
	f.Add("001_x.sql", "-- pgmig:no-transaction\r\n-- pgmig:down\r\nSELECT 2;\r\n-- pgmig:up\r\nSELECT 1;")
	f.Add("001_x.up.sql", "/* c */\n-- pgmig:no-transaction\nSELECT 1;\n")
	f.Add("001_x.down.sql", "\uFEFFSELECT 1;\n")
	f.Add("001_x.sql", Template())
	// pg_dump output, psql meta-commands, COPY data and dbmate's markers.
	f.Add("001_x.sql", "\\restrict k\nSET a = 1;\nCOPY t (a, b) FROM stdin;\n1\tit's\n\\.\nSELECT 1;\n\\unrestrict k\n")
	f.Add("001_x.sql", "COPY t FROM STDIN;\n-- pgmig:down\n")
	f.Add("001_x.sql", "SELECT '\n\\x';\n  \\gset\n")
	f.Add("001_x.sql", "-- migrate:up\nSELECT $$\n-- migrate:down\n$$;\n  -- migrate:down\n-- migrate:down\nSELECT 2;\n")
	f.Add("V1_2__x.sql", "CREATE INDEX CONCURRENTLY i ON t (a);\nVACUUM;\n")
	f.Add("R__x.sql", "CREATE VIEW v AS SELECT 1;\n")
	f.Add("2_x.up.sql", "ALTER TYPE m ADD VALUE 'x';\n")
	f.Fuzz(func(t *testing.T, file, content string) {
		if !strings.HasSuffix(file, ".sql") {
			file += ".sql"
		}
		fn, err := parseFileName(file, flywayExt{dotted: len(file)%2 == 0, repeatable: len(file)%3 == 0})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("name error %v does not match ErrInvalid", err)
			}
			return
		}
		pf, errs := parseFile(file, fn, []byte(content))
		migs, gerrs := assemble([]parsedFile{pf})
		for _, err := range append(errs, gerrs...) {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			if !strings.HasPrefix(err.Error(), file) {
				t.Fatalf("error %q does not begin with the file name", err)
			}
		}
		if len(errs)+len(gerrs) > 0 {
			return
		}
		if len(migs) != 1 {
			t.Fatalf("got %d migrations from one valid file", len(migs))
		}
		// The runner finds a section's text in the file at Section.Line.
		text := normalize(content)
		for _, sec := range []*Section{&migs[0].Up, migs[0].Down} {
			if sec == nil {
				continue
			}
			off := 0
			for range sec.Line - 1 {
				k := strings.IndexByte(text[off:], '\n')
				if k < 0 {
					off = len(text) + 1
					break
				}
				off += k + 1
			}
			// ENVSUB substitutes variables in the text sent to the server.
			if sec.SQL != "" && !pf.substituted && (off > len(text) || !strings.HasPrefix(text[off:], sec.SQL)) {
				t.Fatalf("section at line %d is not the file's text there: %q", sec.Line, sec.SQL)
			}
		}
		// The checksum covers the up text as written: before ENVSUB, and
		// with the BEGIN/COMMIT wrapper of a file that is all one section.
		if migs[0].Checksum != checksum(pf.sum) || !pf.substituted && fn.kind == kindSingle && pf.sum != migs[0].Up.SQL {
			t.Fatal("checksum is not that of the up text")
		}
		// Saved with CRLF line ends, the file means the same. (CRLF turns
		// into LF in one pass, as git does, so "\r\r\n" reads as "\r\n":
		// only files without CR have a CRLF twin.)
		if strings.Contains(content, "\r") {
			return
		}
		crlf := strings.ReplaceAll(content, "\n", "\r\n")
		pf2, errs2 := parseFile(file, fn, []byte(crlf))
		migs2, gerrs2 := assemble([]parsedFile{pf2})
		if len(errs2)+len(gerrs2) > 0 || len(migs2) != 1 {
			t.Fatalf("CRLF twin fails: %v %v", errs2, gerrs2)
		}
		if a, b := migs[0], migs2[0]; !reflect.DeepEqual(a, b) {
			t.Fatalf("CRLF twin differs:\n%+v\n%+v", a, b)
		}
	})
}

func FuzzPosition(f *testing.F) {
	f.Add("SELECT 'é' + x", 14)
	f.Add("SELECT '日本' + x", 15)
	f.Add("-- 🐘🐘\n\nSELECT x", 15)
	f.Add("\xff\xfe\n\x80", 3)
	f.Add("", 0)
	f.Fuzz(func(t *testing.T, sql string, charPos int) {
		off := Position(sql, charPos)
		if off < 0 || off > len(sql) {
			t.Fatalf("Position = %d outside [0,%d]", off, len(sql))
		}
		if off < len(sql) {
			if !utf8.RuneStart(sql[off]) && utf8.ValidString(sql) {
				t.Fatalf("Position = %d is inside a character", off)
			}
			// Positions count characters: the one at off is number n.
			if n := len([]rune(sql[:off])) + 1; Position(sql, n) != off || (charPos > 1 && n != charPos) {
				t.Fatalf("Position(%d) = %d, which is character %d", charPos, off, n)
			}
		}
		line, col := LineCol(sql, off)
		if line != 1+strings.Count(sql[:off], "\n") || col < 1 || col > off+1 {
			t.Fatalf("LineCol(%d) = %d:%d", off, line, col)
		}
	})
}

func FuzzVersion(f *testing.F) {
	for _, s := range [][2]string{{"1", "1.0"}, {"1.10", "1.9"}, {"001.2", "1.2.0"}, {"2.0.1", "2"}, {"999999999999999999", "1"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, errA := ParseVersion(a)
		vb, errB := ParseVersion(b)
		if errA != nil || errB != nil {
			return
		}
		c := va.Compare(vb)
		if c != -vb.Compare(va) || (c == 0) != (va.Canonical() == vb.Canonical()) || va.Compare(va) != 0 {
			t.Fatalf("Compare(%s, %s) = %d, reversed %d, canonical %q %q", a, b, c, vb.Compare(va), va.Canonical(), vb.Canonical())
		}
		if n, ok := va.Int(); ok && IntVersion(n).Compare(va) != 0 {
			t.Fatalf("Int of %s is %d", a, n)
		}
	})
}
