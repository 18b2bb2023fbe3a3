package stress

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/source"
)

// TestStressSplitDifferential checks pgmig's statement split against the
// server's own on random inputs full of what makes splitting hard: '…'
// strings with doubled quotes and (standard_conforming_strings on)
// backslashes, E'…' strings with escapes, U&'…', B'…', X'…' and N'…'
// strings, strings continued across a newline (in E mode too), $$ and
// $tag$ bodies (nested, case-sensitive tags, non-ASCII tags, "x$y$"
// identifiers that are no tags), nested /* */ comments, -- comments,
// quoted identifiers, operators run into comments ("*/**/"), numbers,
// BEGIN ATOMIC bodies with CASE … END, plpgsql bodies, and ';' in every
// one of them, doubled, alone, or missing at the end.
//
// The oracle is the server's lexer and grammar. The whole input goes to
// the server as one simple-protocol query, which the server parses
// entirely and runs statement by statement, answering each with a
// CommandComplete: its sequence of (command tag, column names, rows) is
// what the server took the statements to be. Then each piece of
// source.Split goes alone, as the runner sends them: a non-empty piece
// must give exactly one result, an empty one (Statement.Empty) none, and
// the pieces' results in order must equal the whole input's. A cut inside
// a literal, comment or body shows as an error or a different value; a
// missed cut as a piece giving two results. Both runs happen in a
// transaction that is rolled back, so functions the inputs create do not
// collide. Every generated input is valid SQL: a server error on the whole
// input is a fault of the generator, reported as a failure too.
//
// One blind spot is deliberate: Split follows psql's heuristic for
// BEGIN ATOMIC bodies (source.Split's contract), which counts the words
// BEGIN, CASE and END wherever they stand in a CREATE FUNCTION or
// PROCEDURE statement, and so differs from the server when one of them is
// a name there ("SELECT r.end FROM r" or "SELECT 1 AS case" in a body, a
// function named begin, "SET search_path = begin"). The generator keeps
// those words inside literals, comments and quoted identifiers.
//
// PGMIG_STRESS_SPLIT_INPUTS sets the number of inputs (default 2000,
// times PGMIG_STRESS_SCALE); PGMIG_STRESS_SEED replays a run.
func TestStressSplitDifferential(t *testing.T) {
	t.Parallel()
	n := envCount(t, "PGMIG_STRESS_SPLIT_INPUTS", 2000) * scale(t)
	rng, seed := newRand(t)
	c := connect(t, pgtest.NewDB(t, "CREATE TABLE rules (a text)"))
	pc := c.PgConn()
	g := &splitGen{rng: rng}
	start := time.Now()
	failures, statements, empties := 0, 0, 0
	for i := 0; i < n; i++ {
		in := g.input()
		stmts := source.Split(in)
		var problems []string
		var joined strings.Builder
		for _, s := range stmts {
			joined.WriteString(s.Text)
			if s.Empty() {
				empties++
			} else {
				statements++
			}
		}
		if joined.String() != in {
			problems = append(problems, "the pieces do not concatenate to the input")
		}
		want, err := serverResults(pc, []string{in})
		if err != nil {
			problems = append(problems, fmt.Sprintf("the generator made SQL the server refuses: %v", err))
		} else if got, err := serverResults(pc, texts(stmts)); err != nil {
			problems = append(problems, fmt.Sprintf("running the pieces one by one: %v", err))
		} else if d := diffResults(want, got); d != "" {
			problems = append(problems, d)
		}
		if len(problems) > 0 {
			failures++
			if failures <= 5 {
				var pieces strings.Builder
				for j, s := range stmts {
					fmt.Fprintf(&pieces, "  piece %d (empty %v): %q\n", j, s.Empty(), s.Text)
				}
				t.Errorf("input %d %q:\n%s\n%s", i, in, strings.Join(problems, "\n"), pieces.String())
			}
		}
	}
	summary(t, "split-differential", n, failures, seed,
		fmt.Sprintf("%d statements and %d empty pieces against PostgreSQL's parser, %s", statements, empties, time.Since(start).Round(time.Millisecond)))
}

func texts(stmts []source.Statement) []string {
	var out []string
	for _, s := range stmts {
		out = append(out, s.Text)
	}
	return out
}

// stmtResult is the server's answer to one statement.
type stmtResult struct {
	piece  int // which query of the batch it answered
	tag    string
	fields []string
	rows   [][][]byte
}

// serverResults runs each query in qs as one simple-protocol query, in
// order, inside a transaction it rolls back, and returns every statement's
// result.
func serverResults(pc *pgconn.PgConn, qs []string) ([]stmtResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := pc.Exec(ctx, "BEGIN").ReadAll(); err != nil {
		return nil, err
	}
	defer func() { pc.Exec(ctx, "ROLLBACK").ReadAll() }()
	var out []stmtResult
	for i, q := range qs {
		rs, err := pc.Exec(ctx, q).ReadAll()
		if err != nil {
			return nil, fmt.Errorf("query %d %q: %w", i, q, err)
		}
		for _, r := range rs {
			// An empty query answers EmptyQueryResponse, no CommandComplete.
			if r.CommandTag.String() == "" && len(r.FieldDescriptions) == 0 {
				continue
			}
			sr := stmtResult{piece: i, tag: r.CommandTag.String(), rows: r.Rows}
			for _, f := range r.FieldDescriptions {
				sr.fields = append(sr.fields, f.Name)
			}
			out = append(out, sr)
		}
	}
	return out, nil
}

// diffResults compares the whole input's results with the pieces', and
// says how they differ, or "" when they do not.
func diffResults(whole, pieces []stmtResult) string {
	var b strings.Builder
	count := map[int]int{}
	for _, r := range pieces {
		count[r.piece]++
	}
	for p, n := range count {
		if n > 1 {
			fmt.Fprintf(&b, "piece %d ran as %d statements: a missed cut\n", p, n)
		}
	}
	if len(whole) != len(pieces) {
		fmt.Fprintf(&b, "the server ran %d statements, the pieces %d\n", len(whole), len(pieces))
	}
	for i := 0; i < len(whole) && i < len(pieces); i++ {
		w, p := whole[i], pieces[i]
		if w.tag != p.tag || strings.Join(w.fields, "\x00") != strings.Join(p.fields, "\x00") || !sameRows(w.rows, p.rows) {
			fmt.Fprintf(&b, "statement %d: the server's %s %q %s, piece %d's %s %q %s\n", i, w.tag, w.fields, showRows(w.rows), p.piece, p.tag, p.fields, showRows(p.rows))
			break
		}
	}
	return b.String()
}

func sameRows(a, b [][][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if !bytes.Equal(a[i][j], b[i][j]) || (a[i][j] == nil) != (b[i][j] == nil) {
				return false
			}
		}
	}
	return true
}

func showRows(rows [][][]byte) string {
	var parts []string
	for _, r := range rows {
		var vs []string
		for _, v := range r {
			vs = append(vs, fmt.Sprintf("%q", v))
		}
		parts = append(parts, "("+strings.Join(vs, ", ")+")")
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// splitGen generates valid SQL inputs that are hard to split.
type splitGen struct {
	rng *rand.Rand
	fn  int // routines created in the current input
}

func (g *splitGen) pick(options ...string) string { return options[g.rng.IntN(len(options))] }

func (g *splitGen) chance(n int) bool { return g.rng.IntN(n) == 0 }

// input is one to six statements, each after trivia and most ended by a
// ';' (some by two, or by an empty statement), the last one perhaps not.
func (g *splitGen) input() string {
	g.fn = 0
	var b strings.Builder
	n := 1 + g.rng.IntN(6)
	for i := 0; i < n; i++ {
		b.WriteString(g.trivia())
		if g.chance(8) {
			// An empty statement: only trivia before its ';'.
			b.WriteString(";")
			b.WriteString(g.trivia())
		}
		b.WriteString(g.statement())
		if i < n-1 || !g.chance(3) {
			b.WriteString(g.trivia())
			b.WriteString(";")
			if g.chance(6) {
				b.WriteString(g.trivia() + ";")
			}
		}
	}
	b.WriteString(g.trivia())
	return b.String()
}

// nasty is what goes inside literals, comments and bodies: the characters
// and words a splitter keys on.
var nasty = []string{";", ";", "'", "\"", "$", "$$", "$a$", "$A$", "$_1$", "/*", "*/", "--", "\\", "\n", "(", ")", " ", "x", "begin", "END", "atomic", "case", "é", "E'", "U&"}

// inner is a run of nasty pieces.
func (g *splitGen) inner() string {
	var b strings.Builder
	for n := g.rng.IntN(7); n > 0; n-- {
		b.WriteString(nasty[g.rng.IntN(len(nasty))])
	}
	return b.String()
}

// trivia is whitespace and comments, perhaps nothing. Comments hold
// anything; a -- comment always ends with its newline.
func (g *splitGen) trivia() string {
	var b strings.Builder
	for n := g.rng.IntN(3); n > 0; n-- {
		switch g.rng.IntN(5) {
		case 0:
			b.WriteString(" ")
		case 1:
			b.WriteString(g.pick("\n", "\t", "\r\n", "\f", "  \n  "))
		case 2:
			b.WriteString("--" + strings.NewReplacer("\n", " ", "\r", " ").Replace(g.inner()) + "\n")
		case 3:
			b.WriteString("/*" + g.commentBody(2) + "*/")
		case 4:
			b.WriteString(" /* " + g.commentBody(1) + " */ ")
		}
	}
	return b.String()
}

// commentBody is a block comment's text: nested comments allowed, any
// "*/" only as the close of a nested one.
func (g *splitGen) commentBody(depth int) string {
	var b strings.Builder
	for n := g.rng.IntN(4); n > 0; n-- {
		if depth > 0 && g.chance(3) {
			b.WriteString("/*" + g.commentBody(depth-1) + "*/")
			continue
		}
		// No '/': no stray open or close; the nested ones above are the
		// only delimiters inside.
		b.WriteString(" " + strings.ReplaceAll(g.inner(), "/", "") + " ")
	}
	return b.String()
}

// statement is one statement without its ';'.
func (g *splitGen) statement() string {
	switch g.rng.IntN(11) {
	case 0, 1:
		return g.atomicRoutine()
	case 2:
		return g.plpgsqlRoutine()
	case 3:
		tag := g.tag()
		return fmt.Sprintf("DO %s BEGIN PERFORM %s; %s END %s", tag, g.literalAvoiding(tag), g.pick("", "NULL;", "PERFORM 1;"), tag)
	case 5:
		// A rule's actions hold ';' inside parentheses.
		g.fn++
		return fmt.Sprintf("CREATE RULE rr%d AS ON INSERT TO rules DO ALSO (NOTIFY rules;%sSELECT %s;%s)",
			g.fn, g.trivia(), g.literal(), g.pick("", " SELECT 1", " NOTIFY r0"))
	case 4:
		// Rows of one type, whatever the literals' types are.
		return fmt.Sprintf("VALUES (length(%s))%s(length(%s))", g.literal(), g.trivia()+","+g.trivia(), g.literal())
	default:
		var cols []string
		for n := 1 + g.rng.IntN(3); n > 0; n-- {
			cols = append(cols, g.expr()+g.label())
		}
		return g.pick("SELECT ", "select ", "SELECT"+g.triviaSep()) + strings.Join(cols, ","+g.trivia())
	}
}

// triviaSep is trivia that separates two words: never empty.
func (g *splitGen) triviaSep() string {
	if s := g.trivia(); s != "" {
		return s
	}
	return " "
}

// expr is an expression of any type.
func (g *splitGen) expr() string {
	switch g.rng.IntN(8) {
	case 0:
		return g.number()
	case 1:
		return g.pick("2 */**/ 3", "4 -/* c */-1", "5 --x\n+ 1", "6/*/**/*/-2", "(7)", "8 | 1", "9<>/**/8")
	case 2:
		return "ARRAY[" + g.textLiteral() + "," + g.trivia() + g.textLiteral() + "]"
	case 3:
		return "(SELECT " + g.literal() + ")"
	case 4:
		return g.textLiteral() + g.trivia() + " || " + g.trivia() + g.textLiteral()
	default:
		return g.literal()
	}
}

// intExpr is an integer expression, for the bodies of routines returning int.
func (g *splitGen) intExpr() string {
	switch g.rng.IntN(4) {
	case 0:
		return g.pick("1", "42", "2 */**/ 3")
	case 1:
		return "CASE WHEN " + g.literal() + " IS NULL THEN 1 ELSE " + g.pick("2", "length("+g.literal()+")") + " END"
	default:
		return "length(" + g.literal() + ")"
	}
}

func (g *splitGen) number() string {
	return g.pick("1", "1e-2", ".5", "12.5E+3", "1.", "0.0", "10e3 ")
}

// label is an optional column label: plain, quoted, or an identifier
// holding '$', which opens no dollar quote.
func (g *splitGen) label() string {
	switch g.rng.IntN(7) {
	case 0:
		return " AS x"
	case 1:
		return " AS " + quoteIdent(g.inner())
	case 2:
		return " AS x$y$"
	case 3:
		return " a$$"
	case 4:
		return ` AS U&"d\0061t;"`
	default:
		return ""
	}
}

func quoteIdent(s string) string {
	if s == "" {
		s = "q"
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// literal is a string or bit-string literal of some kind.
func (g *splitGen) literal() string {
	return g.literalAvoiding("")
}

// textLiteral is a literal of a string type (no bit string): one that
// concatenates with text and shares an array with it.
func (g *splitGen) textLiteral() string {
	for {
		if s := g.literal(); !strings.ContainsAny(s[:1], "bBxX") {
			return s
		}
	}
}

// literalAvoiding is a literal that does not hold delim, so that it may sit
// inside a $delim$ body.
func (g *splitGen) literalAvoiding(delim string) string {
	for {
		s := g.anyLiteral()
		if delim == "" || !strings.Contains(s, delim) {
			return s
		}
	}
}

func (g *splitGen) anyLiteral() string {
	switch g.rng.IntN(11) {
	case 0, 1:
		return plainString(g.inner())
	case 2:
		return g.eString()
	case 3:
		// Continuation: the parts make one literal, across a newline.
		return plainString(g.inner()) + g.pick("\n", " \n ", " -- c;'\n", "\n-- c'\n\t") + plainString(g.inner())
	case 4:
		// In E mode throughout: the continued part's \' is a quote.
		return g.eString() + g.pick("\n", "  \n") + "'\\';" + strings.NewReplacer("\\", "\\\\", "'", "''").Replace(g.inner()) + "'"
	case 5, 6:
		tag := g.tag()
		body := g.inner()
		// The first tag after the opening one closes the body.
		for strings.Index(body+tag, tag) != len(body) {
			body = g.inner()
		}
		return tag + body + tag
	case 7:
		return "U&" + strings.ReplaceAll(strings.ReplaceAll(plainString(g.inner()), `\`, `\\`), "x", `\0078`)
	case 8:
		return "U&'d!0061t!!" + strings.ReplaceAll(strings.ReplaceAll(g.inner(), "'", "''"), "!", "!!") + "' UESCAPE '!'"
	case 9:
		return g.pick("B'0101'", "X'1F'", "b''", "x'aB'")
	default:
		return "N" + plainString(g.inner())
	}
}

// plainString quotes s as a standard string: with
// standard_conforming_strings on a backslash is itself.
func plainString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// eString quotes s as an E'…' string, with escapes.
func (g *splitGen) eString() string {
	var b strings.Builder
	b.WriteString(g.pick("E'", "e'"))
	for _, r := range g.inner() {
		switch r {
		case '\'':
			b.WriteString(g.pick(`\'`, `''`))
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(g.pick(`\n`, "\n"))
		default:
			b.WriteRune(r)
		}
	}
	if g.chance(4) {
		b.WriteString(`\t\x41\101\u00e9;`)
	}
	return b.String() + "'"
}

// tag is a dollar-quote delimiter.
func (g *splitGen) tag() string {
	return g.pick("$$", "$$", "$a$", "$A$", "$_1$", "$body$", "$é$", "$x9$")
}

// atomicRoutine is a CREATE FUNCTION or PROCEDURE with a SQL-standard
// body, BEGIN ATOMIC … END, whose statements end in ';'; a call follows
// it, inside the same statement list, sometimes.
func (g *splitGen) atomicRoutine() string {
	g.fn++
	var body strings.Builder
	for n := g.rng.IntN(4); n > 0; n-- {
		body.WriteString(g.triviaSep() + "SELECT " + g.intExpr() + g.trivia() + ";")
	}
	begin := g.pick("BEGIN ATOMIC", "begin atomic", "Begin"+g.triviaSep()+"Atomic")
	end := g.pick("END", "end")
	if g.chance(3) {
		return fmt.Sprintf("CREATE %sPROCEDURE p%d(a int DEFAULT length(%s)) LANGUAGE sql %s%s %s",
			g.pick("", "OR REPLACE "), g.fn, g.literal(), begin, body.String(), end)
	}
	// A function's last statement gives its result: end on an int.
	body.WriteString(g.triviaSep() + "SELECT " + g.intExpr() + ";")
	return fmt.Sprintf("CREATE %sFUNCTION f%d() RETURNS int LANGUAGE sql %s%s%s %s",
		g.pick("", "OR REPLACE ", "or replace "), g.fn, g.pick("", "STABLE ", "IMMUTABLE "), begin, body.String(), end)
}

// plpgsqlRoutine is a function with a dollar-quoted plpgsql body holding
// other literals, dollar-quoted ones among them.
func (g *splitGen) plpgsqlRoutine() string {
	g.fn++
	tag := g.pick("$fn$", "$$", "$body$", "$a$")
	return fmt.Sprintf("CREATE FUNCTION g%d() RETURNS text LANGUAGE plpgsql AS %s BEGIN RETURN %s; END; %s",
		g.fn, tag, g.literalAvoiding(tag), tag)
}
