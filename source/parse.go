package source

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// directive is one "-- pgmig:NAME [ARG]" line that pgmig understands.
type directive struct {
	name string
	// marker directives begin a section of a single-file migration.
	marker bool
	// anywhere directives may stand on any line inside a section, not only
	// among its leading comments: they govern the statement after them.
	anywhere bool
	// apply records a non-marker directive on the section it governs; its
	// error becomes the message of a FileError on the directive's line.
	apply func(s *Section, arg string) error
}

// directives is the table of known directives, in the order error messages
// list them. It is never modified.
var directives = []directive{
	{name: "up", marker: true},
	{name: "down", marker: true},
	{name: "no-transaction", apply: func(s *Section, arg string) error {
		if arg != "" {
			return fmt.Errorf(`"-- pgmig:no-transaction" takes no argument, got %q`, arg)
		}
		s.NoTransaction = true
		return nil
	}},
	{name: "lock-timeout", apply: func(s *Section, arg string) error {
		d, err := time.ParseDuration(arg)
		if err != nil || d <= 0 {
			return fmt.Errorf(`"-- pgmig:lock-timeout" wants a positive duration such as 2s or 500ms, got %q`, arg)
		}
		s.LockTimeout = d
		return nil
	}},
	// "-- pgmig:lint-ignore RULE[,RULE] [reason…]" silences pgmig lint's
	// rules for the statement after it; the lint package reads it from the
	// section's SQL, so it sets nothing here.
	{name: "lint-ignore", anywhere: true, apply: func(_ *Section, arg string) error {
		rules, _, _ := strings.Cut(strings.ReplaceAll(arg, "\t", " "), " ")
		if rules == "" {
			return fmt.Errorf(`"-- pgmig:lint-ignore" wants the rules to silence and a reason, such as "-- pgmig:lint-ignore drop-column the column is unused since 012"`)
		}
		for _, r := range strings.Split(rules, ",") {
			if r == "" {
				return fmt.Errorf(`"-- pgmig:lint-ignore %s": an empty rule name; separate rules with commas and no spaces`, rules)
			}
		}
		return nil
	}},
}

func lookupDirective(name string) (directive, bool) {
	for _, d := range directives {
		if d.name == name {
			return d, true
		}
	}
	return directive{}, false
}

func knownDirectives() string {
	names := make([]string, len(directives))
	for i, d := range directives {
		names[i] = d.name
	}
	return strings.Join(names, ", ")
}

// directiveLine is a "-- pgmig:" line found in a file.
type directiveLine struct {
	directive
	line       int    // 1-based
	start, end int    // byte offsets of the line and just past its newline
	text       string // the line, trimmed, for messages
	arg        string
	tool       string // whose marker: toolPgmig, toolGoose or toolDbmate
	notx       bool   // dbmate's "transaction:false" on its marker
}

// parseDirective reports whether line is a directive line: a -- comment
// whose text begins with "pgmig:" in any case, so that a misspelt
// "-- PGMIG:UP" is reported rather than silently ignored. The directive
// name itself is matched case-sensitively later.
func parseDirective(line string) (name, arg, text string, ok bool) {
	text = strings.TrimSpace(line)
	body, ok := strings.CutPrefix(text, "--")
	if !ok {
		return "", "", "", false
	}
	body = strings.TrimLeft(body, " \t")
	if len(body) < len("pgmig:") || !strings.EqualFold(body[:len("pgmig:")], "pgmig:") {
		return "", "", "", false
	}
	body = body[len("pgmig:"):]
	name = body
	if i := strings.IndexAny(body, " \t"); i >= 0 {
		name, arg = body[:i], strings.TrimSpace(body[i:])
	}
	return name, arg, text, true
}

// normalize strips a UTF-8 byte order mark and turns CRLF into LF: the text
// pgmig sends and checksums is the same whatever editor saved the file.
func normalize(content string) string {
	text := strings.TrimPrefix(content, "\uFEFF")
	return strings.ReplaceAll(text, "\r\n", "\n")
}

// checksum returns the hex SHA-256 of sql, the up text of a migration after
// CRLF has been turned into LF (see Migration.Checksum).
func checksum(sql string) string {
	// Over the string's own bytes: []byte(sql) would copy a text that may
	// be hundreds of MiB, and Sum256 only reads its input.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(sql), len(sql)))
	return hex.EncodeToString(sum[:])
}

// parsedFile is one file's contribution to a migration.
type parsedFile struct {
	file     string
	fileName          // what the name says
	up, down *Section // the sections the file holds
	// sum is the text Migration.Checksum covers: the whole file for a file
	// that is all one section, else the up section, as written (before
	// ENVSUB substitution, with any BEGIN/COMMIT wrapper).
	sum string
	// substituted is set when ENVSUB changed a section's SQL, or COPY
	// data or a skipped meta-command was blanked, so that the SQL is no
	// longer the file's text.
	substituted bool
	warnings    []Warning
}

// parseFile parses the content of the migration file named file, whose name
// has already been parsed into fn, taking ENVSUB variables from the
// environment. Problems are returned as *FileError, ordered by line.
func parseFile(file string, fn fileName, content []byte) (parsedFile, []error) {
	return parseFileEnv(file, fn, string(content), nil)
}

// parseFileEnv is parseFile on the content as a string, with ENVSUB
// variables from lookup (nil: os.LookupEnv).
func parseFileEnv(file string, fn fileName, content string, lookup func(string) (string, bool)) (parsedFile, []error) {
	text := normalize(content)
	pf := parsedFile{file: file, fileName: fn}
	var errs []*FileError
	fail := func(line int, format string, args ...any) {
		errs = append(errs, &FileError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}

	if line, what := badBytes(text); line > 0 {
		fail(line, "%s: migration files must be UTF-8 text", what)
	}

	// What psql would read as data or meta-commands is found first: COPY
	// data lines are not SQL and hold no markers, and the server sees
	// neither them nor pg_dump's \restrict lines (sent is text with those
	// blanked, byte for byte, so offsets and lines stay the same).
	// The checks below look for a few words first, in one pass, and lex
	// the text only where they occur.
	words := findWords(text)
	var ps psqlText
	if words.copy || strings.IndexByte(text, '\\') >= 0 || strings.Contains(text, "migrate:") {
		ps = scanPsql(text)
	}
	ps.problems(fail)
	orig := text
	text = blank(text, ps.spans())
	pf.substituted = text != orig

	// Room for a file's usual markers without allocating, per file of
	// thousands.
	var markerRoom [2]directiveLine
	var dirs []directiveLine
	markers := markerRoom[:0]
	seen := map[string]int{} // marker name → line
	ff := &foreignFile{file: file, text: text, fail: fail}
	// indentedMarkers are dbmate markers dbmate does not see (not at
	// column 1), by name, the first of each; made only for a file that
	// has one, as this runs for each of thousands of files.
	var indentedMarkers map[string]foreignLine
	var tools toolUse
	for line, start := 1, 0; start < len(text); line++ {
		end := len(text)
		if k := strings.IndexByte(text[start:], '\n'); k >= 0 {
			end = start + k + 1
		}
		name, arg, trimmed, ok := parseDirective(text[start:end])
		if !ok {
			// Another tool's marker or annotation, read as pgmig's own.
			fl, foreign, msg := parseForeign(text[start:end])
			// dbmate sees its markers only at column 1 ("^--\s*migrate:"),
			// and a line inside a quoted or dollar-quoted body is SQL.
			indented := false
			if foreign && fl.tool == toolDbmate && (!strings.HasPrefix(text[start:end], "--") || ps.inQuotes(start)) {
				foreign, indented = false, !ps.inQuotes(start)
			}
			switch {
			case indented:
				if _, ok := indentedMarkers[fl.name]; !ok && fl.name != "" {
					if indentedMarkers == nil {
						indentedMarkers = map[string]foreignLine{}
					}
					indentedMarkers[fl.name] = foreignLine{name: fl.name, text: fl.text, line: line}
				}
			case !foreign:
			case msg != "":
				fail(line, "%s", msg)
			case fl.kind != fMarker:
				fl.line, fl.start, fl.end = line, start, end
				tools.note(fl.tool, line, fl.text)
				ff.lines = append(ff.lines, fl)
			case fn.kind != kindSingle:
				fail(line, "%q does not belong in a %s file, which is all one section; remove the line", fl.text, fn.describe())
			case seen[fl.name] > 0:
				fail(line, "second %q marker (the first is on line %d); each marker may appear once", fl.text, seen[fl.name])
			default:
				tools.note(fl.tool, line, fl.text)
				seen[fl.name] = line
				markers = append(markers, directiveLine{directive: directive{name: fl.name, marker: true},
					line: line, start: start, end: end, text: fl.text, tool: fl.tool, notx: fl.notx})
			}
		}
		if ok {
			d, known := lookupDirective(name)
			dl := directiveLine{directive: d, line: line, start: start, end: end, text: trimmed, arg: arg}
			switch {
			case !known:
				fail(line, "unknown directive %q (known: %s)", trimmed, knownDirectives())
			case d.marker && fn.kind != kindSingle:
				fail(line, "%q does not belong in a %s file, which is all one section; remove the line",
					trimmed, fn.describe())
			case d.marker && seen[name] > 0:
				fail(line, "second %q marker (the first is on line %d); each marker may appear once",
					"-- pgmig:"+name, seen[name])
			case d.marker:
				if arg != "" {
					fail(line, "%q takes no argument, got %q", "-- pgmig:"+name, arg)
				}
				seen[name] = line
				dl.tool = toolPgmig
				tools.note(toolPgmig, line, trimmed)
				markers = append(markers, dl)
			default:
				dirs = append(dirs, dl)
			}
		}
		start = end
	}
	for _, name := range []string{"up", "down"} {
		if il, ok := indentedMarkers[name]; ok && seen[name] == 0 {
			// Read as dbmate does, it is a comment, and the statements
			// after it join the section before: a down section would run
			// as part of the up. dbmate itself refuses such a file (it
			// finds no marker of that name); so does pgmig, saying why.
			fail(il.line, "%q is indented: dbmate reads its markers only at the start of a line, so it would read this one as a comment and the lines after it as part of the section before; move it to the start of the line", il.text)
		}
	}
	if second, first, mixed := tools.mixed(); mixed {
		fail(second.line, "%q is %s's, but line %d (%q) is %s's: a file uses the markers of one tool only",
			second.text, second.tool, first.line, first.text, first.tool)
	}

	// A section runs from the line after its marker to the next marker.
	var regionRoom [2]region
	regions := regionRoom[:0]
	header := 0 // end of the text before the first marker
	if len(markers) == 0 {
		sec := &Section{File: file, SQL: text, Line: 1}
		regions = append(regions, region{sec, 0, len(text)})
		if fn.kind == kindDown {
			pf.down = sec
		} else {
			pf.up = sec
		}
	} else {
		header = markers[0].start
		for i, m := range markers {
			end := len(text)
			if i+1 < len(markers) {
				end = markers[i+1].start
			}
			sec := &Section{File: file, SQL: text[m.end:end], Line: m.line + 1, NoTransaction: m.notx}
			regions = append(regions, region{sec, m.end, end})
			if m.name == "up" {
				pf.up = sec
			} else {
				pf.down = sec
			}
		}
		up, down := markerSpelling(markers[0].tool)
		if pf.up == nil {
			fail(markers[0].line, "%q without %q: put a %q line before the up SQL (a file with no marker at all is all up)",
				down, up, up)
		} else if k := firstToken(text[:header]); k >= 0 {
			line := 1 + strings.Count(text[:k], "\n")
			fail(line, "SQL before the first section marker (line %d): only comments and blank lines may come "+
				"before it; put the up SQL after %q and the down SQL after %q",
				markers[0].line, up, down)
		}
	}

	for _, d := range dirs {
		var targets []*Section
		if d.anywhere && d.start < header {
			fail(d.line, "%q must be inside a section, on the line before the statement it governs", d.text)
			continue
		}
		if d.start < header {
			// A directive in the header of a single file governs both sections.
			for _, r := range regions {
				targets = append(targets, r.sec)
			}
		}
		for _, r := range regions {
			if d.start < r.start || d.start >= r.end {
				continue
			}
			// Only leading comment lines govern a section: further down, the
			// line would read as if it applied to the statements after it.
			if k := firstToken(text[r.start:r.end]); !d.anywhere && k >= 0 && d.start >= r.start+k {
				where := "among the leading comment lines of a section, before its first statement"
				if len(markers) > 0 {
					where += `, or before the first marker to apply to both sections`
				}
				fail(d.line, "%q must be %s", d.text, where)
				break
			}
			targets = append(targets, r.sec)
		}
		for _, sec := range targets {
			if err := d.apply(sec, d.arg); err != nil {
				fail(d.line, "%s", err.Error())
				break
			}
		}
	}

	// What goose's annotations ask for, and golang-migrate's wrapper.
	if ff.noTransaction() {
		for _, r := range regions {
			r.sec.NoTransaction = true
		}
	}
	ff.checkStatements(regions, header)
	var split []Statement // the non-empty statements of regions[0], when stripWrapper split it
	if fn.kind != kindSingle {
		split = stripWrapper(text, &regions[0])
	}
	if fn.kind == kindSingle && pf.up != nil {
		for _, r := range regions {
			if r.sec == pf.up {
				pf.sum = orig[r.start:r.end]
			}
		}
	} else {
		pf.sum = orig
	}
	if ff.substitute(regions, lookup) {
		pf.substituted, split = true, nil
	}

	// Statements that cannot run inside a transaction block are found now,
	// before anything runs, and handled as the file's own tool would.
	tool := ""
	if len(markers) > 0 {
		tool = markers[0].tool
	}
	for i, r := range regions {
		r.sec.Copies = ps.copiesIn(orig, r.start, r.end)
		// Split only what needs it: most sections hold none of the words
		// these checks look for.
		var stmts []Statement
		if i == 0 {
			stmts = split
		}
		statements := func() []Statement {
			if stmts == nil {
				stmts = r.sec.Statements()
			}
			return stmts
		}
		if fn.kind != kindSingle && words.txControl && ownTransactions(r, statements(), fn.flyway) {
			stmts = r.sec.Statements()
		}
		if !words.noTx && !(words.value && holdsAddValue(r.sec.SQL)) {
			continue
		}
		n := 0
		for _, st := range statements() {
			if !st.Empty() {
				n++
			}
		}
		applyNoTx(r, noTxRuleFor(fn, tool, n), statements(), fail)
	}
	if pf.up != nil && firstToken(pf.up.SQL) < 0 && len(errs) == 0 {
		pf.warnings = append(pf.warnings, Warning{File: file, Line: pf.up.Line,
			Msg: "the up section is empty: applying the migration changes nothing but the history"})
	}

	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b *FileError) int { return a.Line - b.Line })
		out := make([]error, len(errs))
		for i, e := range errs {
			out[i] = e
		}
		return pf, out
	}
	return pf, nil
}

// badBytes returns the line of the first byte PostgreSQL would refuse in
// query text, an invalid UTF-8 sequence or a NUL, and what it is; line 0
// when there is none.
func badBytes(text string) (line int, what string) {
	for i, r := range text {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(text[i:], "\uFFFD"):
			what = "invalid UTF-8"
		case r == 0:
			what = "NUL byte"
		default:
			continue
		}
		return 1 + strings.Count(text[:i], "\n"), what
	}
	return 0, ""
}
