package runner

import (
	"iter"
	"regexp"
	"strconv"
	"strings"

	"github.com/pgmig/pgmig/source"
)

// plpgsqlFrame matches one line of a PL/pgSQL error context:
// "PL/pgSQL function inline_code_block line 6 at assignment" for a DO
// block, "PL/pgSQL function app.f(integer) line 3 at RETURN" for a function.
var plpgsqlFrame = regexp.MustCompile(`(?m)^PL/pgSQL function (\S+?)(?:\(.*\))? line (\d+)`)

// contextSnippet matches the quoted statement a context line opens with:
// `SQL statement "SELECT 1/0"` or `PL/pgSQL assignment "x := 1 / 0"`.
var contextSnippet = regexp.MustCompile(`^(?:SQL statement|PL/pgSQL assignment|PL/pgSQL expression) "(.*)"`)

// bodyOffset finds, for an error raised inside a PL/pgSQL body, the byte
// offset in sql of the body line the server's context names: in the DO
// block of failed, or in a function that sql itself creates. The server
// gives no position for such errors, and the statement's first token (the
// DO) is lines away from the line that failed. Frames are tried innermost
// first; -1 when none maps.
func bodyOffset(sql string, stmts iter.Seq2[int, source.Statement], failed *source.Statement, where string) int {
	frames := plpgsqlFrame.FindAllStringSubmatch(where, -1)
	snippet := ""
	if m := contextSnippet.FindStringSubmatch(where); m != nil {
		snippet = m[1]
	}
	for i, fr := range frames {
		line, err := strconv.Atoi(fr[2])
		if err != nil || line < 1 {
			continue
		}
		var st *source.Statement
		if fr[1] == "inline_code_block" {
			st = failed
		} else {
			st = creator(stmts, fr[1])
		}
		if st == nil || st.Start < 0 {
			continue
		}
		body := bodyStart(st.Text[st.Start-st.Offset:])
		if body < 0 {
			continue
		}
		off := st.Start + body
		for n := 1; n < line; n++ {
			nl := strings.IndexByte(sql[off:], '\n')
			if nl < 0 || off+nl+1 > st.Offset+len(st.Text) {
				off = -1
				break
			}
			off += nl + 1
		}
		if off < 0 {
			continue
		}
		end := strings.IndexByte(sql[off:], '\n')
		if end < 0 {
			end = len(sql) - off
		}
		text := sql[off : off+end]
		if i == 0 && snippet != "" {
			if k := strings.Index(text, snippet); k >= 0 {
				return off + k
			}
		}
		return off + len(text) - len(strings.TrimLeft(text, " \t"))
	}
	return -1
}

// creator returns the one statement among stmts that creates the function
// or procedure named fn (schema-qualified by the server; matched by its
// last part, case-insensitively), or nil when there is none or several.
func creator(stmts iter.Seq2[int, source.Statement], fn string) *source.Statement {
	if i := strings.LastIndexByte(fn, '.'); i >= 0 {
		fn = fn[i+1:]
	}
	re := regexp.MustCompile(`(?is)^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\s+(?:[\w"]+\.)?"?` + regexp.QuoteMeta(fn) + `"?\s*\(`)
	var found *source.Statement
	for _, st := range stmts {
		if st.Start < 0 || !re.MatchString(st.Text[st.Start-st.Offset:]) {
			continue
		}
		if found != nil {
			return nil
		}
		found = &st
	}
	return found
}

// bodyStart returns the offset just past the opening dollar quote of the
// first dollar-quoted string in stmt (a DO block's or a function's body,
// where its line 1 begins), or -1.
func bodyStart(stmt string) int {
	for i := 0; i < len(stmt); i++ {
		if stmt[i] != '$' {
			continue
		}
		j := i + 1
		for j < len(stmt) && (stmt[j] == '_' || stmt[j] >= 'a' && stmt[j] <= 'z' || stmt[j] >= 'A' && stmt[j] <= 'Z' || j > i+1 && stmt[j] >= '0' && stmt[j] <= '9') {
			j++
		}
		if j < len(stmt) && stmt[j] == '$' {
			return j + 1
		}
	}
	return -1
}
