package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fatih/color"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-isatty"
	"github.com/mattn/go-runewidth"

	"github.com/pgmig/pgmig/diff"
	"github.com/pgmig/pgmig/lint"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// printer renders results: text for people (stdout for results, stderr for
// messages), or exactly one JSON document on stdout.
type printer struct {
	stdout, stderr io.Writer
	json, color    bool
	quiet          bool
	// heartbeat: stderr is a terminal, so long statements get progress lines.
	heartbeat bool
	// done lists the steps that finished, in order, for the message of a
	// run a signal stops.
	done []runner.Step
	// target is the database the command works on, once it connected;
	// every JSON document then names it.
	target *jsonTarget
}

func newPrinter(stdout, stderr io.Writer, asJSON, colour, quiet bool) *printer {
	return &printer{stdout: stdout, stderr: stderr, json: asJSON, color: colour, quiet: quiet}
}

// flush sends buffered results on now, for lines that report progress.
func (p *printer) flush() {
	if f, ok := p.stdout.(interface{ Flush() error }); ok {
		f.Flush()
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// colourOn is whether text output is coloured: only on a terminal, and
// not with --no-color, NO_COLOR set to anything, or TERM=dumb (a terminal
// that cannot show escape codes: Emacs shells, some CI log viewers).
func colourOn(terminal, noColor bool, getenv func(string) string) bool {
	return terminal && !noColor && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}

func (p *printer) paint(attrs ...color.Attribute) func(a ...any) string {
	c := color.New(attrs...)
	if p.color {
		c.EnableColor()
	} else {
		c.DisableColor()
	}
	return c.SprintFunc()
}

// fmtVersion is v as "%03d" writes it, without fmt: status writes one a
// row.
func fmtVersion(v int64) string {
	s := strconv.FormatInt(v, 10)
	if v >= 0 && len(s) < 3 {
		return "000"[len(s):] + s
	}
	if v < 0 {
		return fmt.Sprintf("%03d", v)
	}
	return s
}

// fmtV is a version as text output shows it: a whole number zero-padded,
// as pgmig has always shown versions, and a dotted one as its file
// spells it (13.1, 1.0). v unset (a value built with only the int64)
// falls back to n.
func fmtV(n int64, v source.Version) string {
	if v.IsZero() {
		return fmtVersion(n)
	}
	if i, ok := v.Int(); ok && !strings.Contains(v.String(), ".") {
		return fmtVersion(i)
	}
	return v.String()
}

// fmtVer is fmtV, or "R" for a repeatable migration, which has no
// version (Flyway's R__name.sql).
func fmtVer(n int64, v source.Version, repeatable bool) string {
	if repeatable {
		return "R"
	}
	return fmtV(n, v)
}

// jsonVersion is a migration's "version" in JSON: a number for a whole
// one, a string as the file spells it for a dotted one (a JSON number
// cannot tell 1.1 from 1.10), and null for a repeatable migration.
func jsonVersion(n int64, v source.Version, repeatable bool) *source.Version {
	if repeatable {
		return nil
	}
	if v.IsZero() {
		v = source.IntVersion(n)
	}
	return &v
}

// jsonCurrent is a "current" version in JSON, as jsonVersion writes a
// version: null when there is none.
func jsonCurrent(n *int64, v source.Version) *source.Version {
	if v.IsZero() {
		if n == nil {
			return nil
		}
		v = source.IntVersion(*n)
	}
	return &v
}

func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		// As "%.1f ms", without fmt: status writes one a row.
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	case d < time.Minute:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return d.Round(100 * time.Millisecond).String()
	}
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*10) / 10
}

// writeJSON prints v as the command's one JSON document. HTML escaping is
// off: SQL and diffs hold <, > and &, which must read as themselves.
func (p *printer) writeJSON(v any) {
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(p.stdout, "{\"error\": {\"message\": %q, \"code\": 1}}\n", err.Error())
		return
	}
	var out bytes.Buffer
	json.Indent(&out, withTarget(compact.Bytes(), p.target), "", "  ")
	out.WriteByte('\n')
	p.stdout.Write(out.Bytes())
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func noTx(s runner.Step) string {
	if s.NoTransaction {
		return " (no transaction)"
	}
	return ""
}

func rfc3339(t time.Time) *string {
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

// errorDoc is the JSON form of a failure, with the fields that apply.
type errorDoc struct {
	Message   string `json:"message"`
	Code      int    `json:"code"`
	SQLState  string `json:"sqlstate,omitempty"`
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Column    int    `json:"column,omitempty"`
	Statement int    `json:"statement,omitempty"`
	// Version is a number for a whole version, a string for a dotted one.
	Version   *source.Version `json:"version,omitempty"`
	Direction string          `json:"direction,omitempty"`
	Detail    string          `json:"detail,omitempty"`
	Hint      string          `json:"hint,omitempty"`
	Where     string          `json:"where,omitempty"`
	// Problems lists each problem when there are several: each lint
	// error that refused up --lint, each bad file, each validation failure.
	Problems []problemDoc `json:"problems,omitempty"`
}

// problemDoc is one of several problems, with the fields that apply; a
// lint finding has them all.
type problemDoc struct {
	File    string          `json:"file,omitempty"`
	Line    int             `json:"line,omitempty"`
	Column  int             `json:"column,omitempty"`
	Version *source.Version `json:"version,omitempty"`
	Level   string          `json:"level,omitempty"`
	Rule    string          `json:"rule,omitempty"`
	Message string          `json:"message"`
}

// problemsOf lists the problems err holds: the findings of a lint gate
// that refused, or the errors joined (errors.Join) somewhere in its chain.
func problemsOf(err error) []problemDoc {
	var ge *lint.GateError
	if errors.As(err, &ge) {
		ps := make([]problemDoc, 0, len(ge.Problems))
		for _, f := range ge.Problems {
			ps = append(ps, problemDoc{File: f.File, Line: f.Line, Column: f.Column, Version: errVersion(f.Version, f.Ver), Level: string(f.Level), Rule: f.Rule, Message: f.Message})
		}
		return ps
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if _, ok := e.(*connectError); ok {
			// Its message is the one line the attempts come to; what it
			// wraps is pgx's and the retry's own joins (a deadline, each
			// address tried, TLS then plain text), which would put back
			// the lines the summary leaves out as misleading.
			return nil
		}
		multi, ok := e.(interface{ Unwrap() []error })
		if !ok {
			continue
		}
		errs := multi.Unwrap()
		msgs := make([]string, len(errs))
		for i, p := range errs {
			msgs[i] = p.Error()
		}
		// errors.Join's message is its errors' on lines of their own;
		// fmt.Errorf with several %w is one error, not a list.
		if len(errs) < 2 || e.Error() != strings.Join(msgs, "\n") {
			return nil
		}
		ps := make([]problemDoc, 0, len(errs))
		for _, p := range errs {
			d := problemDoc{Message: cliText(p)}
			d.File, d.Line, d.Version = locate(p)
			ps = append(ps, d)
		}
		return ps
	}
	return nil
}

// locate is the file, line and version a problem is about, where it says.
func locate(err error) (file string, line int, version *source.Version) {
	var fe *source.FileError
	var dv *source.DuplicateVersionError
	var cm *runner.ChecksumMismatchError
	var mf *runner.MissingFileError
	var de *runner.DirtyError
	var oo *runner.OutOfOrderError
	var md *runner.MissingDownError
	switch {
	case errors.As(err, &fe):
		return fe.File, fe.Line, nil
	case errors.As(err, &dv):
		return "", 0, errVersion(dv.Version, dv.Ver)
	case errors.As(err, &cm):
		return cm.File, 0, errVersion(cm.Version, cm.Ver)
	case errors.As(err, &mf):
		return "", 0, errVersion(mf.Version, mf.Ver)
	case errors.As(err, &de):
		return "", 0, errVersion(de.Version, de.Ver)
	case errors.As(err, &oo):
		return "", 0, errVersion(oo.Version, oo.Ver)
	case errors.As(err, &md):
		return md.File, 0, errVersion(md.Version, md.Ver)
	}
	return "", 0, nil
}

// errVersion is an error document's "version": none (omitted) for a
// repeatable migration or an error about no one version.
func errVersion(n int64, v source.Version) *source.Version {
	if n == 0 && v.IsZero() {
		return nil
	}
	return jsonVersion(n, v, false)
}

func newErrorDoc(err error, code int) errorDoc {
	var me *runner.MigrationError
	var pe *pgconn.PgError
	d := errorDoc{Message: cliText(err), Code: code}
	if errors.As(err, &pe) {
		d.SQLState, d.Detail, d.Hint, d.Where = pe.Code, pe.Detail, pe.Hint, pe.Where
	}
	var md *runner.MissingDownError
	var cm *runner.ChecksumMismatchError
	var de *runner.DirtyError
	switch {
	case errors.As(err, &me):
		d.File, d.Line, d.Column, d.Statement, d.Version = me.File, me.Line, me.Column, me.Statement, errVersion(me.Version, me.Ver)
		d.Direction = string(me.Direction)
	case errors.As(err, &md):
		d.File, d.Version = md.File, errVersion(md.Version, md.Ver)
	case errors.As(err, &cm):
		d.File, d.Version = cm.File, errVersion(cm.Version, cm.Ver)
	case errors.As(err, &de):
		// A failed no-transaction row: which migration, and which of its
		// statements to look at before repair.
		d.Version, d.Statement = errVersion(de.Version, de.Ver), de.Statement
	}
	d.Problems = problemsOf(err)
	return d
}

// error reports a failed command: text on stderr, or the JSON error
// document on stdout.
func (p *printer) error(err error, code int) {
	var me *runner.MigrationError
	var pe *pgconn.PgError
	errors.As(err, &me)
	errors.As(err, &pe)
	if p.json {
		p.writeJSON(struct {
			Error errorDoc `json:"error"`
		}{newErrorDoc(err, code)})
		return
	}
	red := p.paint(color.FgRed, color.Bold)
	if me == nil {
		for _, line := range strings.Split(cliText(err), "\n") {
			fmt.Fprintf(p.stderr, "%s %s\n", red("error:"), line)
		}
		if code == 2 {
			fmt.Fprintln(p.stderr, "run `pgmig --help` for usage")
		}
		return
	}
	tail := ""
	var ae *diff.ApplyError
	if errors.As(err, &ae) {
		tail = "this ran on diff's scratch database only: no file was written, and no database of yours changed;\n" +
			"  the planner wrote a statement the server refuses: write this change by hand (pgmig create)"
	}
	p.migrationError(me, pe, tail)
}

// migrationError shows a failed statement the way a compiler shows a
// syntax error: the file, line and column, the line itself with a caret
// under the column, then the server's DETAIL and HINT.
// tail, when set, replaces the line that says what was kept.
func (p *printer) migrationError(me *runner.MigrationError, pe *pgconn.PgError, tail string) {
	red, blue := p.paint(color.FgRed, color.Bold), p.paint(color.FgBlue, color.Bold)
	msg := me.Err.Error()
	if pe != nil {
		msg = fmt.Sprintf("%s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	fmt.Fprintf(p.stderr, "%s %s %s %s: %s\n", red("error:"), verbOf(me.Direction), fmtV(me.Version, me.Ver), me.Name, msg)
	if me.File != "" {
		loc := me.File
		if me.Line > 0 {
			loc += fmt.Sprintf(":%d", me.Line)
			if me.Column > 0 {
				loc += fmt.Sprintf(":%d", me.Column)
			}
		}
		if me.Statement > 0 {
			loc += fmt.Sprintf(" (statement %d)", me.Statement)
		}
		fmt.Fprintf(p.stderr, "  %s %s\n", blue("-->"), loc)
	}
	if me.Line > 0 {
		num := fmt.Sprint(me.Line)
		pad := strings.Repeat(" ", len(num))
		fmt.Fprintf(p.stderr, "%s %s\n", pad, blue("|"))
		fmt.Fprintf(p.stderr, "%s %s %s\n", blue(num), blue("|"), me.SourceLine)
		if me.Column > 0 {
			fmt.Fprintf(p.stderr, "%s %s %s%s\n", pad, blue("|"), caretPad(me.SourceLine, me.Column), red("^"))
		}
	}
	if pe != nil {
		for _, kv := range [][2]string{{"detail", pe.Detail}, {"hint", pe.Hint}, {"context", pe.Where}} {
			if kv[1] != "" {
				fmt.Fprintf(p.stderr, "  %s %s: %s\n", blue("="), kv[0], kv[1])
			}
		}
	}
	switch {
	case tail != "":
		fmt.Fprintln(p.stderr, "  "+tail)
	case me.NoTransaction:
		// Statements before the failed one ran outside a transaction:
		// they stay, and the history has a failed row until repair.
		fmt.Fprintln(p.stderr, "  this section ran without a transaction: the statements before the failed one were kept;\n"+
			"  fix the database by hand, then run `pgmig repair` (pgmig refuses to go on until then)")
	case me.Direction == runner.Up:
		fmt.Fprintln(p.stderr, "  nothing of this migration was kept; earlier migrations of this run stay applied")
	default:
		fmt.Fprintln(p.stderr, "  nothing of this rollback was kept; the migration is still applied")
	}
}

func verbOf(d runner.Direction) string {
	if d == runner.Down {
		return "rolling back"
	}
	return "applying"
}

// caretPad returns the blank space that puts a caret under the col'th
// character (1-based) of line, keeping tabs so the terminal aligns them
// alike, and counting wide characters twice.
func caretPad(line string, col int) string {
	var b strings.Builder
	i := 1
	for _, r := range line {
		if i >= col {
			break
		}
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteString(strings.Repeat(" ", runewidth.RuneWidth(r)))
		}
		i++
	}
	return b.String()
}

// printDiff writes a unified diff, coloured on a terminal.
func (p *printer) printDiff(w interface{ Write([]byte) (int, error) }, diff string) {
	red, green, cyan := p.paint(color.FgRed), p.paint(color.FgGreen), p.paint(color.FgCyan)
	for _, l := range strings.SplitAfter(diff, "\n") {
		if l == "" {
			continue
		}
		switch {
		case strings.HasPrefix(l, "---"), strings.HasPrefix(l, "+++"):
			fmt.Fprint(w, p.paint(color.Bold)(strings.TrimSuffix(l, "\n")), "\n")
		case strings.HasPrefix(l, "@@"):
			fmt.Fprint(w, cyan(strings.TrimSuffix(l, "\n")), "\n")
		case strings.HasPrefix(l, "-"):
			fmt.Fprint(w, red(strings.TrimSuffix(l, "\n")), "\n")
		case strings.HasPrefix(l, "+"):
			fmt.Fprint(w, green(strings.TrimSuffix(l, "\n")), "\n")
		default:
			fmt.Fprint(w, l)
		}
	}
}

// errorJSON is the "error" object of a failure, as printer.error writes it.
func errorJSON(err error, code int) *errorDoc {
	d := newErrorDoc(err, code)
	return &d
}

// heartbeatInterval is how often a long statement is reported on a terminal.
const heartbeatInterval = 5 * time.Second

// heartbeatInterval is how often the runner should sample a running step
// for this printer: on a terminal in text mode only.
func (p *printer) heartbeatInterval() time.Duration {
	if p.json || p.quiet || !p.heartbeat {
		return 0
	}
	return heartbeatInterval
}

func onRel(rel string) string {
	if rel == "" {
		return ""
	}
	return "on " + rel
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
