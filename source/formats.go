package source

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
)

// Other tools' migration files, read as they are, so that a project can
// switch to pgmig without renaming or rewriting them:
//
//   - golang-migrate: N_name.up.sql and N_name.down.sql, pgmig's own pair
//     layout. Such a file wrapped whole in BEGIN; … COMMIT; is read without
//     the wrapper (see stripWrapper).
//   - goose: "-- +goose Up" / "-- +goose Down" markers, StatementBegin /
//     StatementEnd, NO TRANSACTION and ENVSUB ON / OFF annotations.
//   - dbmate: "-- migrate:up" / "-- migrate:down" markers, with an optional
//     "transaction:false".
//   - Flyway: V<version>__<description>.sql and U<version>__<description>.sql.

// Options configures a Source built by FromFSWith. The zero value is what
// FromFS uses.
type Options struct {
	// LookupEnv looks up the variables that goose's "-- +goose ENVSUB ON"
	// regions substitute. Nil means os.LookupEnv.
	LookupEnv func(key string) (string, bool)
	// Logger receives the warnings about the files (see Warning), at level
	// Warn with the keys "file" and "line". Nil discards them.
	Logger *slog.Logger
	// GoMigrations reads goose's Go migrations, NNN_name.go files that
	// register themselves with goose, as migrations with Migration.Go set,
	// for a runner that holds their functions. When false such files are
	// a *GoMigrationError.
	GoMigrations bool
	// FlywayVersions reads Flyway's dotted versions (V1.2__x.sql) and
	// repeatable migrations (R__x.sql), for a runner that orders by
	// Migration.Ver and applies Migration.Repeatable ones. When false
	// such files are errors naming them.
	FlywayVersions bool
	// Repeatables reads Flyway's repeatable migrations (R__x.sql) alone,
	// for a runner that applies Migration.Repeatable ones but orders by
	// integer versions; FlywayVersions implies it.
	Repeatables bool
}

// FromFSWith returns the Source reading the .sql files at the root of fsys,
// as FromFS does, with opts.
func FromFSWith(fsys fs.FS, opts Options) Source {
	return &fsSource{fsys: fsys, opts: opts}
}

// DirWith returns the Source reading the directory path, as Dir does,
// with opts.
func DirWith(path string, opts Options) Source {
	return &fsSource{fsys: newDirFS(path), dir: path, opts: opts}
}

// A region is the stretch of a file's text that one section holds.
type region struct {
	sec        *Section
	start, end int
}

// Tools whose markers a single file may use, one tool per file.
const (
	toolPgmig  = "pgmig"
	toolGoose  = "goose"
	toolDbmate = "dbmate"
)

// markerSpelling is how tool writes the up and the down marker.
func markerSpelling(tool string) (up, down string) {
	switch tool {
	case toolGoose:
		return "-- +goose Up", "-- +goose Down"
	case toolDbmate:
		return "-- migrate:up", "-- migrate:down"
	}
	return "-- pgmig:up", "-- pgmig:down"
}

// foreignKind says what a goose or dbmate line means.
type foreignKind int

const (
	fMarker         foreignKind = iota // begins the up or down section
	fNoTransaction                     // goose: the whole file runs outside a transaction
	fStatementBegin                    // goose: the statements up to StatementEnd are one
	fStatementEnd
	fEnvsubOn // goose: substitute ${VAR} from here …
	fEnvsubOff
)

// foreignLine is a goose annotation or a dbmate marker found in a file.
type foreignLine struct {
	tool  string
	kind  foreignKind
	name  string // "up" or "down" for a marker
	notx  bool   // dbmate's "transaction:false"
	text  string // the line, trimmed, for messages
	line  int
	start int // byte offsets of the line and just past its newline
	end   int
}

// gooseAnnotations are the "-- +goose WORDS" that goose reads, spelt as
// its documentation spells them; like goose, pgmig matches the words
// lower-cased, with any run of spaces as one.
var gooseAnnotations = []struct {
	words string
	kind  foreignKind
	name  string
}{
	{"Up", fMarker, "up"},
	{"Down", fMarker, "down"},
	{"StatementBegin", fStatementBegin, ""},
	{"StatementEnd", fStatementEnd, ""},
	{"NO TRANSACTION", fNoTransaction, ""},
	{"ENVSUB ON", fEnvsubOn, ""},
	{"ENVSUB OFF", fEnvsubOff, ""},
}

// gooseKnown lists gooseAnnotations for the message about an unknown one.
var gooseKnown = func() string {
	words := make([]string, len(gooseAnnotations))
	for i, a := range gooseAnnotations {
		words[i] = a.words
	}
	return strings.Join(words, ", ")
}()

// parseForeign reports whether line is a goose annotation or a dbmate
// marker. msg, when not empty, says what is wrong with it.
//
// Goose annotations are "-- +goose WORDS", the words matched without
// regard to case, as goose does. dbmate markers are "-- migrate:up" and
// "-- migrate:down" followed by options; any other "-- migrate:WORD" is
// reported rather than ignored, so that a misspelt marker is not silently
// read as a comment.
func parseForeign(line string) (fl foreignLine, ok bool, msg string) {
	text := strings.TrimSpace(line)
	body, ok := strings.CutPrefix(text, "--")
	if !ok {
		return fl, false, ""
	}
	body = strings.TrimLeft(body, " \t")
	fl.text = text
	if len(body) >= len("+goose") && strings.EqualFold(body[:len("+goose")], "+goose") &&
		(len(body) == len("+goose") || body[len("+goose")] == ' ' || body[len("+goose")] == '\t') {
		fl.tool = toolGoose
		words := strings.ToLower(strings.Join(strings.Fields(body[len("+goose"):]), " "))
		for _, a := range gooseAnnotations {
			if asciiEqualFold(a.words, words) {
				fl.kind, fl.name = a.kind, a.name
				return fl, true, ""
			}
		}
		return fl, true, fmt.Sprintf("unknown goose annotation %q (known: %s)", text, gooseKnown)
	}
	rest, isDbmate := strings.CutPrefix(body, "migrate:")
	if !isDbmate || rest == "" || rest[0] == ' ' || rest[0] == '\t' {
		return fl, false, ""
	}
	fl.tool, fl.kind = toolDbmate, fMarker
	fields := strings.Fields(rest)
	switch fields[0] {
	case "up", "down":
		fl.name = fields[0]
	default:
		return fl, true, fmt.Sprintf("unknown dbmate marker %q (known: -- migrate:up, -- migrate:down)", text)
	}
	for _, opt := range fields[1:] {
		switch opt {
		case "transaction:false":
			fl.notx = true
		case "transaction:true":
			fl.notx = false
		default:
			return fl, true, fmt.Sprintf("%q: unknown option %q (known: transaction:false, transaction:true)", text, opt)
		}
	}
	return fl, true, ""
}

// describe names the layout of a file whose name says it holds one whole
// section, for messages.
func (fn fileName) describe() string {
	switch {
	case fn.flyway && fn.kind == kindDown:
		return "Flyway U…__….sql"
	case fn.flyway:
		return "Flyway V…__….sql"
	case fn.kind == kindDown:
		return ".down.sql"
	}
	return ".up.sql"
}

// flywayName recognises Flyway's V<version>__<description>.sql (an up
// section), U<version>__<description>.sql (its undo, a down section) and,
// with ext, R__<description>.sql (a repeatable migration) and dotted
// versions (V1.2__x.sql, or V1_2__x.sql, which Flyway reads as 1.2).
// Without ext those are refused: the runner must know about them.
func flywayName(file string, ext flywayExt) (fileName, bool, error) {
	if len(file) > 1 && file[0] == 'B' && isDigit(file[1]) && strings.Contains(file, "__") {
		// Flyway's baseline migrations (a Flyway Teams feature) stand in
		// for every V file up to their version on a new database only.
		ver, _, _ := strings.Cut(file[1:], "__")
		return fileName{}, true, &FileError{File: file, Msg: fmt.Sprintf(
			"Flyway baseline migrations (B<version>__name.sql) are not supported: on a new database Flyway applies it in place of the V files up to %s; rename it V%s__… to apply it as that version, and move the V files it replaces out of the source",
			strings.ReplaceAll(ver, "_", "."), ver)}
	}
	if len(file) < 2 || strings.IndexByte("VUR", file[0]) < 0 {
		return fileName{}, false, nil
	}
	rest := strings.TrimSuffix(file[1:], ".sql")
	if rest == "" {
		return fileName{}, false, nil
	}
	ver, desc, found := strings.Cut(rest, "__")
	if !found {
		if isDigit(rest[0]) {
			return fileName{}, true, &FileError{File: file, Msg: fmt.Sprintf(
				"a Flyway file name separates version and description with two underscores, as in %c1__create_users.sql", file[0])}
		}
		return fileName{}, false, nil
	}
	fail := func(format string, args ...any) (fileName, bool, error) {
		return fileName{}, true, &FileError{File: file, Msg: fmt.Sprintf(format, args...)}
	}
	if file[0] == 'R' {
		switch {
		case ver != "":
			return fail("a Flyway repeatable migration has no version: expected R__%s.sql", desc)
		case desc == "":
			return fail("missing description after '__'; expected R__<description>.sql")
		case !ext.repeatable:
			return fail("Flyway repeatable migrations (R__name.sql) are not supported by this pgmig yet: " +
				"make it a versioned migration (V<version>__name.sql or NNN_name.sql), or move it out of the migrations directory")
		}
		return fileName{name: desc, kind: kindUp, flyway: true, repeatable: true}, true, nil
	}
	if ver == "" {
		return fail("missing version after %q; expected %c<version>__<description>.sql", file[:1], file[0])
	}
	dotted := strings.Trim(ver, "0123456789._") == "" && strings.ContainsAny(ver, "._")
	if dotted && !ext.dotted {
		return fail("Flyway version %s is dotted (Flyway reads it as %s, '_' as '.'), which this pgmig does not apply yet; "+
			"renaming it to a whole number would change where it sorts (1.10 comes after 1.9 and before 2)", ver, strings.ReplaceAll(ver, "_", "."))
	}
	if !dotted && strings.Trim(ver, "0123456789") != "" {
		return fail("Flyway version %q is not a number (digits, with '.' or '_' between parts)", ver)
	}
	v, err := ParseVersion(strings.ReplaceAll(ver, "_", "."))
	if err != nil {
		return fail("%v", err)
	}
	if desc == "" {
		return fail("missing description after '__'; expected %c%s__<description>.sql", file[0], ver)
	}
	fn := fileName{ver: v, width: len(ver), name: desc, kind: kindUp, flyway: true}
	if n, ok := v.Int(); ok {
		fn.version = n
		if !dotted {
			fn.ver = IntVersion(n)
		}
	}
	if file[0] == 'U' {
		fn.kind = kindDown
	}
	return fn, true, nil
}

// foreignFile collects what a file's goose and dbmate lines ask for beyond
// section markers.
type foreignFile struct {
	file  string
	text  string
	lines []foreignLine // non-marker annotations, in file order
	fail  func(line int, format string, args ...any)
}

// toolUse records the first marker line of each tool a file uses: of
// the first two, the only ones mixed reports, in an array, as every file
// with a marker notes one.
type toolUse struct {
	first [2]foreignLine // in the order met
	n     int
}

func (u *toolUse) note(tool string, line int, text string) {
	for _, f := range u.first[:u.n] {
		if f.tool == tool {
			return
		}
	}
	if u.n < len(u.first) {
		u.first[u.n] = foreignLine{tool: tool, line: line, text: text}
		u.n++
	}
}

// mixed returns the first line of a second tool's markers, if any.
func (u *toolUse) mixed() (second, first foreignLine, ok bool) {
	if u.n < 2 {
		return foreignLine{}, foreignLine{}, false
	}
	return u.first[1], u.first[0], true
}

// noTransaction reports whether the file holds "-- +goose NO TRANSACTION",
// which in goose applies to the whole file, wherever it stands.
func (ff *foreignFile) noTransaction() bool {
	for _, l := range ff.lines {
		if l.kind == fNoTransaction {
			return true
		}
	}
	return false
}

// checkStatements checks goose's StatementBegin/StatementEnd pairs: each
// inside a section, in pairs, not nested. A block whose last statement
// lacks its ';' would run into the statement after the block (goose ends
// it at StatementEnd; pgmig, which sends a transactional section as one
// query, cannot), so that is refused too, unless nothing follows.
func (ff *foreignFile) checkStatements(regions []region, header int) {
	var open *foreignLine
	var in *region
	for i := range ff.lines {
		l := &ff.lines[i]
		if l.kind != fStatementBegin && l.kind != fStatementEnd {
			continue
		}
		var r *region
		for j := range regions {
			if l.start >= regions[j].start && l.start < regions[j].end {
				r = &regions[j]
			}
		}
		if r == nil || l.start < header {
			ff.fail(l.line, "%q must be inside a section, after its marker", l.text)
			continue
		}
		if open != nil && in != r {
			ff.fail(open.line, "%q has no \"-- +goose StatementEnd\" before the end of its section", open.text)
			open = nil
		}
		switch {
		case l.kind == fStatementBegin && open != nil:
			ff.fail(l.line, "%q inside the statement begun on line %d: add \"-- +goose StatementEnd\" before it", l.text, open.line)
		case l.kind == fStatementBegin:
			open, in = l, r
		case open == nil:
			ff.fail(l.line, "%q without \"-- +goose StatementBegin\" before it", l.text)
		default:
			if lastTokenKind(ff.text[open.end:l.start]) != tokSemicolon && firstToken(ff.text[l.end:r.end]) >= 0 {
				ff.fail(l.line, "the statement before %q does not end with ';' and more SQL follows: "+
					"pgmig ends statements at ';', so it would run into the next one; add the ';'", l.text)
			}
			open = nil
		}
	}
	if open != nil {
		ff.fail(open.line, "%q has no \"-- +goose StatementEnd\" before the end of its section", open.text)
	}
}

// lastTokenKind returns the kind of the last token of s that is not
// whitespace or a comment, or tokEOF when there is none.
func lastTokenKind(s string) tokenKind {
	lx := lexer{src: s}
	last := tokEOF
	for {
		tok := lx.next()
		switch tok.kind {
		case tokEOF:
			return last
		case tokTrivia:
		default:
			last = tok.kind
		}
	}
}

// substitute applies goose's ENVSUB to the regions: on each line after a
// "-- +goose ENVSUB ON" and before the next "-- +goose ENVSUB OFF", the
// variables are replaced by their values. It reports whether any section's
// SQL changed.
func (ff *foreignFile) substitute(regions []region, lookup func(string) (string, bool)) bool {
	var toggles []foreignLine
	for _, l := range ff.lines {
		if l.kind == fEnvsubOn || l.kind == fEnvsubOff {
			toggles = append(toggles, l)
		}
	}
	if len(toggles) == 0 {
		return false
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	changed := false
	for _, r := range regions {
		var b strings.Builder
		line := 1 + strings.Count(ff.text[:r.start], "\n")
		for start := r.start; start < r.end; line++ {
			end := r.end
			if k := strings.IndexByte(ff.text[start:r.end], '\n'); k >= 0 {
				end = start + k + 1
			}
			on := false
			for _, t := range toggles {
				if t.start <= start {
					on = t.kind == fEnvsubOn
				}
			}
			s := ff.text[start:end]
			if on {
				out, err := expandEnv(s, lookup)
				if err != nil {
					ff.fail(line, "-- +goose ENVSUB: %v", err)
				}
				s = out
			}
			b.WriteString(s)
			start = end
		}
		if b.String() != r.sec.SQL {
			r.sec.SQL = b.String()
			changed = true
		}
	}
	return changed
}

// expandEnv replaces ${NAME}, ${NAME:-default}, ${NAME-default} and $NAME
// in s, as goose's ENVSUB does; a NAME begins with a letter and goes on
// with letters, digits and '_'. A variable that is not set and has no
// default is an error. "$$" and "$tag$" are dollar quotes, left as they
// are, and so is a '$' before anything else ("$1" among others). A default
// is taken literally, without expanding variables in it.
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		if s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("%q has no closing '}'", s[i:min(len(s), i+20)])
			}
			expr := s[i+2 : i+2+end]
			n := nameEnd(expr, 0)
			if n == 0 {
				return "", fmt.Errorf("${%s}: want ${NAME}, ${NAME:-default} or ${NAME-default}", expr)
			}
			name, op := expr[:n], expr[n:]
			v, set := lookup(name)
			switch {
			case op == "":
				if !set {
					return "", fmt.Errorf("variable %s is not set; set it, or give a default: ${%s:-default}", name, name)
				}
			case strings.HasPrefix(op, ":-"):
				if !set || v == "" {
					v = op[2:]
				}
			case strings.HasPrefix(op, "-"):
				if !set {
					v = op[1:]
				}
			default:
				return "", fmt.Errorf("${%s}: want ${NAME}, ${NAME:-default} or ${NAME-default}", expr)
			}
			b.WriteString(v)
			i += 2 + end + 1
			continue
		}
		n := nameEnd(s, i+1)
		if n == i+1 || n < len(s) && s[n] == '$' {
			// Not a name, or a $tag$ dollar quote.
			b.WriteByte('$')
			i++
			continue
		}
		name := s[i+1 : n]
		v, set := lookup(name)
		if !set {
			return "", fmt.Errorf("variable %s is not set; set it, or give a default: ${%s:-default}", name, name)
		}
		b.WriteString(v)
		i = n
	}
	return b.String(), nil
}

// nameEnd returns the end of the variable name beginning at s[i], or i when
// none begins there.
func nameEnd(s string, i int) int {
	if i >= len(s) || !('a' <= s[i]|0x20 && s[i]|0x20 <= 'z') {
		return i
	}
	j := i + 1
	for j < len(s) && ('a' <= s[j]|0x20 && s[j]|0x20 <= 'z' || isDigit(s[j]) || s[j] == '_') {
		j++
	}
	return j
}

// stripWrapper narrows the region of a transactional section that is one
// whole file (N_name.up.sql, N_name.down.sql, Flyway's V and U files) and
// wrapped whole in BEGIN; … COMMIT;, as golang-migrate users write them
// (golang-migrate runs a file without a transaction of its own), to the
// statements between. pgmig runs them in its own transaction, together
// with the history row, which is what the wrapper asked for. The wrapper
// is stripped only when BEGIN (or BEGIN WORK, BEGIN TRANSACTION, START
// TRANSACTION, with no options) is the first statement and the rest of its
// line is blank or a -- comment, so that the SQL still begins at the start
// of a line of the file; COMMIT (or END) the last; and no other statement
// controls the transaction. Otherwise the file is left as it is, and
// ownTransactions runs it as golang-migrate does. When it split the
// section and left it as it was, it returns its non-empty statements, for
// the checks after it.
func stripWrapper(text string, r *region) []Statement {
	if r.sec.NoTransaction {
		return nil
	}
	sql := text[r.start:r.end]
	// Only a file that begins with BEGIN or START is split here.
	if w := firstWord(sql, firstToken(sql)); !asciiEqualFold(w, "begin") && !asciiEqualFold(w, "start") {
		return nil
	}
	var stmts []Statement
	for _, st := range Split(sql) {
		if !st.Empty() {
			stmts = append(stmts, st)
		}
	}
	if len(stmts) < 2 {
		return stmts
	}
	words := func(st Statement) string {
		body := strings.TrimSpace(sql[st.Start : st.Offset+len(st.Text)])
		return strings.ToUpper(strings.Join(strings.Fields(strings.TrimSuffix(body, ";")), " "))
	}
	first, last := stmts[0], stmts[len(stmts)-1]
	switch words(first) {
	case "BEGIN", "BEGIN WORK", "BEGIN TRANSACTION", "START TRANSACTION":
	default:
		return stmts
	}
	switch words(last) {
	case "COMMIT", "COMMIT WORK", "COMMIT TRANSACTION", "END", "END WORK", "END TRANSACTION":
	default:
		return stmts
	}
	for _, st := range stmts[1 : len(stmts)-1] {
		w := strings.Fields(words(st))
		switch {
		case len(w) == 0:
		case w[0] == "BEGIN", w[0] == "COMMIT", w[0] == "END", w[0] == "ABORT", w[0] == "START", w[0] == "PREPARE":
			return stmts
		case w[0] == "ROLLBACK" && !(len(w) > 1 && w[1] == "TO" || len(w) > 2 && w[2] == "TO"):
			return stmts
		}
	}
	semi := first.Offset + len(first.Text)
	eol := strings.IndexByte(sql[semi:], '\n')
	if eol < 0 {
		return stmts
	}
	if rest := strings.TrimSpace(sql[semi : semi+eol]); rest != "" && !strings.HasPrefix(rest, "--") {
		return stmts
	}
	start, end := semi+eol+1, last.Start
	if start > end {
		return stmts
	}
	r.sec.Line += strings.Count(sql[:start], "\n")
	r.sec.SQL = sql[start:end]
	r.start, r.end = r.start+start, r.start+end
	return nil
}

// Statements returns the statements of the section as pgmig runs them.
// For a no-transaction section, run one statement at a time, that is Split,
// except that the text between a "-- +goose StatementBegin" line and a
// "-- +goose StatementEnd" line is one statement, semicolons and all, as
// goose runs it; the piece ends at the block's last ';' (without one, it
// goes on to the next ';'). A transactional section is sent whole, and the
// server counts its statements as Split does: there those lines are plain
// comments, and Statements is Split.
func (s Section) Statements() []Statement { return split(s.SQL, s.NoTransaction) }

// gooseStatementMarker tells whether the -- comment at sql[start:end] is
// goose's "-- +goose StatementBegin" (1) or "-- +goose StatementEnd" (-1)
// standing on a line of its own; 0 otherwise.
func gooseStatementMarker(sql string, start, end int) int {
	for i := start - 1; i >= 0 && sql[i] != '\n'; i-- {
		if sql[i] != ' ' && sql[i] != '\t' {
			return 0
		}
	}
	fl, ok, msg := parseForeign(sql[start:end])
	if !ok || msg != "" || fl.tool != toolGoose {
		return 0
	}
	switch fl.kind {
	case fStatementBegin:
		return 1
	case fStatementEnd:
		return -1
	}
	return 0
}
