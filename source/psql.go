package source

import "strings"

// What psql, and so pg_dump's output, puts in a file beyond SQL: COPY …
// FROM stdin data on the lines after the statement, ending with a line
// "\.", and meta-commands, lines beginning with a backslash. The server
// understands neither, so the scan below finds them before anything is
// sent.

// CopyIn is a COPY … FROM STDIN statement of a section with its data, as
// psql and pg_dump write them: the data lines follow the statement and end
// with a line holding only "\.". In Section.SQL the data lines and the
// "\." line are blanked (each byte but the newlines turned into a space),
// so the SQL still splits and maps to the file line for line; the data is
// sent through the copy protocol instead.
type CopyIn struct {
	// Start and End are the byte offsets in Section.SQL of the COPY
	// statement's first token and just past its ';'.
	Start, End int
	// Line is the line of Section.File holding the first data line.
	Line int
	// Data is the data lines, each ending in '\n', without the "\." line.
	Data string
}

// metaLine is a line beginning with a psql meta-command.
type metaLine struct {
	start, end int    // the line, end just past its newline
	line       int    // 1-based
	cmd        string // the command word, such as `\restrict`
	text       string // the line, trimmed, for messages
}

// skipped reports whether pgmig accepts the meta-command and skips it:
// pg_dump (17.6, 18 and later) writes `\restrict KEY` at the top of its
// output and `\unrestrict KEY` at the end, which only guard psql against
// meta-commands smuggled into the dump; pgmig runs none.
func (m metaLine) skipped() bool { return m.cmd == `\restrict` || m.cmd == `\unrestrict` }

// copyBlock is the data of a COPY … FROM STDIN found by scanPsql.
type copyBlock struct {
	stmtStart, stmtEnd int // the COPY statement: first token, just past ';'
	dataStart, dataEnd int // the data lines
	end                int // just past the "\." line
	line               int // 1-based line of the first data line
}

// psqlText is what scanPsql found in a file's text.
type psqlText struct {
	metas  []metaLine
	copies []copyBlock
	// quoted holds the byte ranges of the string literals, quoted
	// identifiers and dollar-quoted bodies that span lines: a line that
	// begins inside one is not a marker.
	quoted [][2]int
	// unterminated is the 1-based line of a COPY … FROM STDIN whose data
	// has no "\." line; 0 when there is none.
	unterminated int
}

// inQuotes reports whether the byte offset off lies inside a quoted token
// that spans lines (not at its first character).
func (p *psqlText) inQuotes(off int) bool {
	for _, q := range p.quoted {
		if off > q[0] && off < q[1] {
			return true
		}
	}
	return false
}

// scanPsql lexes text as psql reads a file: statements end at ';' outside
// quotes, comments and parentheses; after a COPY … FROM STDIN statement the
// following lines up to "\." are data, not SQL; a backslash that begins a
// line outside quotes and comments begins a meta-command that runs to the
// end of the line.
func scanPsql(text string) psqlText {
	var (
		p      psqlText
		lx     = lexer{src: text}
		first  = -1 // the current statement's first token
		parens = 0
		// What the statement's leading identifiers say: a COPY, and
		// whether FROM STDIN came in it.
		isCopy, prevFrom, fromStdin bool
		idents                      int
	)
	reset := func() { first, parens, isCopy, prevFrom, fromStdin, idents = -1, 0, false, false, false, 0 }
	for {
		tok := lx.next()
		if tok.kind == tokEOF {
			break
		}
		switch tok.kind {
		case tokTrivia:
			continue
		case tokOther:
			if text[tok.start] == '\\' && lineStart(text, tok.start) {
				end := lineEnd(text, tok.start)
				if end < len(text) {
					end++
				}
				line := strings.TrimSpace(text[tok.start:end])
				cmd, _, _ := strings.Cut(strings.ReplaceAll(line, "\t", " "), " ")
				p.metas = append(p.metas, metaLine{start: lineBegin(text, tok.start), end: end,
					line: 1 + strings.Count(text[:tok.start], "\n"), cmd: cmd, text: line})
				lx.pos = end
				continue
			}
			if strings.IndexByte(text[tok.start:tok.end], '\n') >= 0 {
				p.quoted = append(p.quoted, [2]int{tok.start, tok.end})
			}
		}
		if first < 0 {
			first = tok.start
		}
		parens = tok.nest(parens)
		switch tok.kind {
		case tokIdent:
			word := text[tok.start:tok.end]
			if idents == 0 && asciiEqualFold(word, "copy") {
				isCopy = true
			}
			if isCopy && parens == 0 && prevFrom && asciiEqualFold(word, "stdin") {
				fromStdin = true
			}
			prevFrom = parens == 0 && asciiEqualFold(word, "from")
			idents++
		case tokSemicolon:
			if parens > 0 {
				continue
			}
			if isCopy && fromStdin {
				// The data begins on the line after the statement.
				nl := strings.IndexByte(text[tok.end:], '\n')
				if nl < 0 {
					p.unterminated = 1 + strings.Count(text[:first], "\n")
					lx.pos = len(text)
					reset()
					continue
				}
				ds := tok.end + nl + 1
				cb := copyBlock{stmtStart: first, stmtEnd: tok.end, dataStart: ds, line: 1 + strings.Count(text[:ds], "\n")}
				found := false
				for ls := ds; ls < len(text); {
					le := strings.IndexByte(text[ls:], '\n')
					next := len(text)
					if le >= 0 {
						next = ls + le + 1
					}
					if strings.TrimRight(text[ls:next], "\n") == `\.` {
						cb.dataEnd, cb.end, found = ls, next, true
						break
					}
					ls = next
				}
				if !found {
					p.unterminated = 1 + strings.Count(text[:first], "\n")
					lx.pos = len(text)
					reset()
					continue
				}
				p.copies = append(p.copies, cb)
				lx.pos = cb.end
			}
			reset()
			continue
		}
		if tok.kind != tokIdent {
			prevFrom = false
		}
	}
	return p
}

// lineStart reports whether only spaces and tabs come before off on its line.
func lineStart(s string, off int) bool {
	for i := off - 1; i >= 0 && s[i] != '\n'; i-- {
		if s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}

// lineBegin returns the offset of the start of the line holding off.
func lineBegin(s string, off int) int { return strings.LastIndexByte(s[:off], '\n') + 1 }

// blank returns text with the bytes in [start, end) turned into spaces,
// newlines kept, so offsets and lines stay where they were.
func blank(text string, spans [][2]int) string {
	if len(spans) == 0 {
		return text
	}
	b := []byte(text)
	for _, sp := range spans {
		for i := sp[0]; i < sp[1]; i++ {
			if b[i] != '\n' {
				b[i] = ' '
			}
		}
	}
	return string(b)
}

// psqlProblems reports the meta-commands pgmig cannot run and COPY data
// without its end, as *FileError messages through fail.
func (p *psqlText) problems(fail func(line int, format string, args ...any)) {
	for _, m := range p.metas {
		if !m.skipped() {
			fail(m.line, "psql meta-command %q: pgmig sends SQL to the server, which has no meta-commands "+
				`(only pg_dump's \restrict and \unrestrict lines are accepted, and skipped); remove the line or write it as SQL`, m.text)
		}
	}
	if p.unterminated > 0 {
		fail(p.unterminated, `COPY … FROM stdin without a line "\." ending its data: put the data on the lines after the statement and end it with a line holding only "\."`)
	}
}

// spans returns the stretches of text the server must not see: skipped
// meta-command lines and COPY data with its "\." line.
func (p *psqlText) spans() [][2]int {
	var out [][2]int
	for _, m := range p.metas {
		if m.skipped() {
			out = append(out, [2]int{m.start, m.end})
		}
	}
	for _, c := range p.copies {
		out = append(out, [2]int{c.dataStart, c.end})
	}
	return out
}

// copiesIn returns the COPY … FROM STDIN statements of the section held by
// the region [start, end) of text, relative to the section's SQL.
func (p *psqlText) copiesIn(text string, start, end int) []CopyIn {
	var out []CopyIn
	for _, c := range p.copies {
		if c.stmtStart < start || c.stmtStart >= end {
			continue
		}
		out = append(out, CopyIn{Start: c.stmtStart - start, End: c.stmtEnd - start, Line: c.line,
			Data: text[c.dataStart:c.dataEnd]})
	}
	return out
}
