package source

import (
	"iter"
	"strings"
	"unicode/utf8"
)

// Statement is one piece of SQL text as Split cuts it.
type Statement struct {
	// Text runs from the end of the previous statement through this one's
	// terminating ';', or to the end of the input for the last piece, so
	// leading blank lines and comments belong to the statement they precede.
	Text string
	// Offset is the byte offset of Text in the input.
	Offset int
	// Start is the byte offset in the input of the statement's first token,
	// or -1 when Text holds only whitespace, comments and ';'.
	Start int
}

// Empty reports whether the piece holds no statement, only whitespace,
// comments and ';': PostgreSQL skips such a piece without counting it.
func (s Statement) Empty() bool { return s.Start < 0 }

// Split cuts sql into statements where psql would: at each ';' outside
// quotes, comments and parentheses, and outside BEGIN ATOMIC … END bodies of
// CREATE FUNCTION and CREATE PROCEDURE. Concatenating the Texts gives sql
// back exactly; an input ending in ';' has no empty last piece.
//
// It lexes as psql does with standard_conforming_strings on: '…' strings
// (a doubled quote inside stands for one), E'…' strings (with backslash
// escapes), U&'…', B'…', X'…' and N'…' strings, string continuation across
// a newline, "…" identifiers, $$…$$ and $tag$…$tag$ bodies, nested /* */
// comments and -- comments. An unterminated quote or comment runs to the
// end of the input, where the server will report it.
//
// One deliberate difference from psql: psql lexes a file line by line and so
// never continues a string across a newline, while the server does, in the
// string's own mode; Split follows the server, so "E'a'<newline>'\';'" is
// one literal.
func Split(sql string) []Statement { return split(sql, false) }

// SplitSeq yields the statements Split returns, one at a time, without
// holding them all: a file of millions of statements costs 32 bytes each
// as a slice.
func SplitSeq(sql string) iter.Seq[Statement] {
	return func(yield func(Statement) bool) { splitEach(sql, false, yield) }
}

// StatementsSeq yields the statements Section.Statements returns, one at a
// time, for a caller that only loops over them.
func (s Section) StatementsSeq() iter.Seq[Statement] {
	return func(yield func(Statement) bool) { splitEach(s.SQL, s.NoTransaction, yield) }
}

// split is Split; with goose set, it keeps goose's StatementBegin …
// StatementEnd blocks whole (see Section.Statements).
func split(sql string, goose bool) []Statement {
	var stmts []Statement
	splitEach(sql, goose, func(st Statement) bool {
		stmts = append(stmts, st)
		return true
	})
	return stmts
}

// splitEach is split, handing each statement to yield as it is cut, until
// yield returns false.
func splitEach(sql string, goose bool, yield func(Statement) bool) {
	var (
		lx     = lexer{src: sql}
		piece  = 0  // byte offset where the current piece began
		first  = -1 // its first token, if any yet
		parens = 0
		atomic atomicTracker
		group  = false // inside a goose StatementBegin … StatementEnd block
		semi   = -1    // end of the last token when it was a ';', else -1
	)
	for {
		tok := lx.next()
		if tok.kind == tokEOF {
			break
		}
		switch tok.kind {
		case tokTrivia:
			if !goose || sql[tok.start] != '-' {
				break
			}
			switch gooseStatementMarker(sql, tok.start, tok.end) {
			case 1:
				group = true
			case -1:
				if !group {
					break
				}
				group = false
				if first >= 0 && semi >= 0 {
					end := semi
					if !yield(Statement{Text: sql[piece:end], Offset: piece, Start: first}) {
						return
					}
					piece, first, parens, semi = end, -1, 0, -1
					atomic.reset()
					atomic.depth = 0
				}
			}
		case tokSemicolon:
			semi = tok.end
			if group && first < 0 {
				first = tok.start
			}
			// A ';' inside parentheses or an atomic body does not end the
			// statement; that can only happen after a token set first.
			if parens == 0 && atomic.depth == 0 && !group {
				if !yield(Statement{Text: sql[piece:tok.end], Offset: piece, Start: first}) {
					return
				}
				piece, first = tok.end, -1
				atomic.reset()
			}
		default:
			semi = -1
			if first < 0 {
				first = tok.start
			}
			parens = tok.nest(parens)
			if tok.kind == tokIdent {
				atomic.ident(sql[tok.start:tok.end], parens)
			}
		}
	}
	if piece < len(sql) {
		yield(Statement{Text: sql[piece:], Offset: piece, Start: first})
	}
}

// atomicTracker is psql's heuristic (psqlscan.l) for SQL-standard function
// bodies: in a statement beginning CREATE [OR REPLACE] FUNCTION|PROCEDURE,
// BEGIN opens a block, CASE opens one inside a block, END closes one, all
// only outside parentheses, and ';' does not split inside a block.
type atomicTracker struct {
	count int     // identifiers seen in this statement
	lead  [4]byte // first letters of the leading CREATE/OR/REPLACE/FUNCTION/PROCEDURE words
	depth int
}

func (a *atomicTracker) reset() { a.count, a.lead = 0, [4]byte{} }

func (a *atomicTracker) ident(word string, parens int) {
	switch {
	case asciiEqualFold(word, "create"), asciiEqualFold(word, "function"),
		asciiEqualFold(word, "procedure"), asciiEqualFold(word, "or"),
		asciiEqualFold(word, "replace"):
		if a.count < len(a.lead) {
			a.lead[a.count] = word[0] | 0x20
		}
	}
	a.count++
	l := a.lead
	routine := l[0] == 'c' && (l[1] == 'f' || l[1] == 'p' ||
		(l[1] == 'o' && l[2] == 'r' && (l[3] == 'f' || l[3] == 'p')))
	if !routine || parens != 0 {
		return
	}
	switch {
	case asciiEqualFold(word, "begin"):
		a.depth++
	case asciiEqualFold(word, "case"):
		if a.depth >= 1 {
			a.depth++
		}
	case asciiEqualFold(word, "end"):
		if a.depth > 0 {
			a.depth--
		}
	}
}

// asciiEqualFold compares as pg_strcasecmp does, folding ASCII letters only,
// so that "caſe" (long s) is not CASE.
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// firstToken returns the byte offset of the first character of s that is
// not whitespace or inside a comment (';' included), or -1 if there is none.
func firstToken(s string) int {
	lx := lexer{src: s}
	for {
		tok := lx.next()
		switch tok.kind {
		case tokEOF:
			return -1
		case tokTrivia:
		default:
			return tok.start
		}
	}
}

type tokenKind int

const (
	tokEOF       tokenKind = iota
	tokTrivia              // whitespace or a comment
	tokSemicolon           // ;
	tokOpen                // (
	tokClose               // )
	tokIdent               // an unquoted identifier or keyword
	tokOther               // anything else: literals, operators, quoted identifiers
)

type token struct {
	kind       tokenKind
	start, end int
}

// nest returns the parenthesis depth after tok, from depth before it. A
// ')' with no '(' open does not go below zero: the statement is wrong,
// and the server, not the splitter, says so.
func (tok token) nest(depth int) int {
	switch tok.kind {
	case tokOpen:
		return depth + 1
	case tokClose:
		return max(depth-1, 0)
	}
	return depth
}

// lexer cuts SQL into the tokens that matter for splitting, following the
// rules of PostgreSQL's psqlscan.l.
type lexer struct {
	src string
	pos int
}

func (lx *lexer) next() token {
	s, i := lx.src, lx.pos
	if i >= len(s) {
		return token{kind: tokEOF, start: i, end: i}
	}
	kind, end := tokOther, i+1
	c := s[i]
	switch {
	case isSpace(c):
		kind, end = tokTrivia, i+1
		for end < len(s) && isSpace(s[end]) {
			end++
		}
	case strings.HasPrefix(s[i:], "--"):
		kind, end = tokTrivia, lineEnd(s, i)
	case strings.HasPrefix(s[i:], "/*"):
		kind, end = tokTrivia, blockCommentEnd(s, i+2)
	case c == ';':
		kind = tokSemicolon
	case c == '(':
		kind = tokOpen
	case c == ')':
		kind = tokClose
	case c == '\'':
		end = stringEnd(s, i+1, false)
	case c == '"':
		end = quotedIdentEnd(s, i+1)
	case c == '$':
		// "$tag$" opens a dollar quote; "$1" (a parameter) and a lone "$" do
		// not. A '$' inside an identifier never gets here: identRunEnd takes it.
		if delim := dollarDelim(s, i); delim != "" {
			body := i + len(delim)
			if k := strings.Index(s[body:], delim); k >= 0 {
				end = body + k + len(delim)
			} else {
				end = len(s)
			}
		}
	case isDigit(c), c == '.' && i+1 < len(s) && isDigit(s[i+1]):
		end = numberEnd(s, i)
	case isIdentStart(c):
		end = identRunEnd(s, i)
		kind = tokIdent
		if end == i+1 && end < len(s) {
			switch next := s[end]; {
			case next == '\'' && (c == 'e' || c == 'E'):
				kind, end = tokOther, stringEnd(s, end+1, true)
			case next == '\'' && strings.IndexByte("bBxXnN", c) >= 0:
				kind, end = tokOther, stringEnd(s, end+1, false)
			case next == '&' && (c == 'u' || c == 'U'):
				// U&'…' lexes like '…' and U&"…" like "…"; a bare "u&" is
				// not an identifier either (psql's xufailed rule).
				kind = tokOther
				if end+1 < len(s) && s[end+1] == '\'' {
					end = stringEnd(s, end+2, false)
				} else if end+1 < len(s) && s[end+1] == '"' {
					end = quotedIdentEnd(s, end+2)
				}
			}
		}
	}
	lx.pos = end
	return token{kind: kind, start: i, end: end}
}

// numberEnd returns the offset just past the numeric literal at s[i], a
// digit or a '.' before one, lexed as PostgreSQL 15 and later do. What
// matters for splitting is which characters the literal swallows:
// identifier characters right after it, '$' included, are part of it (as
// "trailing junk"), so "1a$b$" opens no dollar quote and "1begin" is not
// the keyword BEGIN, though "1$a$" opens one; and "1e-" is one token, so
// "1e--x" holds no comment.
func numberEnd(s string, i int) int {
	j := digitsEnd(s, i)
	if j < len(s) && s[j] == '.' && !strings.HasPrefix(s[j:], "..") {
		j = digitsEnd(s, j+1)
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		switch {
		case k < len(s) && isDigit(s[k]):
			j = digitsEnd(s, k)
		case k > j+1:
			return k
		}
	}
	if j < len(s) && isIdentStart(s[j]) {
		j = identRunEnd(s, j)
	}
	return j
}

func digitsEnd(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// stringEnd returns the offset just past the string literal whose text
// begins at i, following doubled quotes, backslash escapes when backslash is
// set (E'…'), and continuation: 'a' <newline> 'b' is one literal, lexed in
// the same mode throughout.
func stringEnd(s string, i int, backslash bool) int {
	for i < len(s) {
		switch s[i] {
		case '\\':
			if backslash {
				i += 2
				continue
			}
		case '\'':
			if i+1 < len(s) && s[i+1] == '\'' {
				i += 2
				continue
			}
			if k := continuation(s, i+1); k >= 0 {
				i = k
				continue
			}
			return i + 1
		}
		i++
	}
	return len(s)
}

// continuation returns the offset just past the opening quote of a string
// continuing the one that closed just before i, or -1. As in the SQL
// standard, the continuation needs a newline between the two parts:
// horizontal space and -- comments, a newline, then any space and
// newline-terminated -- comments.
func continuation(s string, i int) int {
	for i < len(s) && s[i] != '\n' && s[i] != '\r' {
		switch {
		case s[i] == ' ' || s[i] == '\t' || s[i] == '\f':
			i++
		case strings.HasPrefix(s[i:], "--"):
			i = lineEnd(s, i)
		default:
			return -1
		}
	}
	if i >= len(s) {
		return -1
	}
	for i++; i < len(s); {
		switch {
		case isSpace(s[i]):
			i++
		case strings.HasPrefix(s[i:], "--"):
			i = lineEnd(s, i)
			if i >= len(s) {
				return -1
			}
			i++
		case s[i] == '\'':
			return i + 1
		default:
			return -1
		}
	}
	return -1
}

// quotedIdentEnd returns the offset just past the "…" identifier whose text
// begins at i ("" stands for a quote).
func quotedIdentEnd(s string, i int) int {
	for i < len(s) {
		if s[i] == '"' {
			if i+1 < len(s) && s[i+1] == '"' {
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return len(s)
}

// blockCommentEnd returns the offset just past the /* comment whose text
// begins at i; comments nest.
func blockCommentEnd(s string, i int) int {
	depth := 0
	for i < len(s) {
		switch {
		case strings.HasPrefix(s[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(s[i:], "*/"):
			if depth == 0 {
				return i + 2
			}
			depth--
			i += 2
		default:
			i++
		}
	}
	return len(s)
}

// lineEnd returns the offset of the newline ending the line holding i, or
// len(s); PostgreSQL ends -- comments at '\n' or '\r'.
func lineEnd(s string, i int) int {
	if k := strings.IndexAny(s[i:], "\n\r"); k >= 0 {
		return i + k
	}
	return len(s)
}

// dollarDelim returns the $tag$ delimiter starting at s[i] == '$', or "".
func dollarDelim(s string, i int) string {
	j := i + 1
	if j < len(s) && isIdentStart(s[j]) {
		for j++; j < len(s) && (isIdentStart(s[j]) || isDigit(s[j])); j++ {
		}
	}
	if j < len(s) && s[j] == '$' {
		return s[i : j+1]
	}
	return ""
}

func identRunEnd(s string, i int) int {
	for i++; i < len(s) && (isIdentStart(s[i]) || isDigit(s[i]) || s[i] == '$'); i++ {
	}
	return i
}

// isSpace matches PostgreSQL's whitespace: space, \t, \n, \r, \f and (since
// PostgreSQL 16) \v.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isIdentStart matches the bytes that may begin an identifier: ASCII
// letters, '_' and every byte of a multi-byte character.
func isIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c >= 0x80
}

// Position converts PostgreSQL's error position, a 1-based index in
// characters (UTF-8 code points; an invalid byte counts as one), into a byte
// offset in sql. Positions before the start give 0 and past the end
// len(sql).
func Position(sql string, charPos int) int {
	if charPos <= 1 {
		return 0
	}
	n := 1
	for i := range sql {
		if n == charPos {
			return i
		}
		n++
	}
	return len(sql)
}

// LineCol returns the 1-based line and column of the byte offset byteOff in
// sql, the column counted in characters. The offset is clamped to sql.
func LineCol(sql string, byteOff int) (line, col int) {
	byteOff = max(0, min(byteOff, len(sql)))
	before := sql[:byteOff]
	start := strings.LastIndexByte(before, '\n') + 1
	return 1 + strings.Count(before, "\n"), 1 + utf8.RuneCountInString(before[start:])
}
