package lint

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pgmig/pgmig/source"
)

// Options tell the linter what the run will do. The zero value works.
type Options struct {
	// DDLLockTimeout is the run's runner.Options.DDLLockTimeout, the
	// lock_timeout pgmig sets for each transactional section; when it is
	// set those sections satisfy the no-lock-timeout rule. Zero: not set.
	DDLLockTimeout time.Duration
	// Name renders each option a finding's Message or Help names, given
	// as the Go API names it (OptionDDLLockTimeout); nil keeps that name.
	// A CLI names the flag that sets the option: the linter's messages
	// name no flag.
	Name func(option string) string
	// CacheDir is a directory where the compiled parser is kept for later
	// processes. Compiling PostgreSQL's parser to machine code takes a
	// second or more of CPU and some 250 MB; loading it from CacheDir, tens
	// of milliseconds. pgmig passes os.UserCacheDir()/pgmig. Empty: the
	// parser is compiled in memory. A directory that cannot be created,
	// read or written costs only that compilation, never a finding. The
	// parser is made once per process, by the first Lint that parses.
	CacheDir string
	// Logger receives a line saying how the parser was made. Nil discards.
	Logger *slog.Logger
}

// Finding is one rule firing on one statement.
type Finding struct {
	Rule    string
	Level   Level
	Version int64 // 0 for a dotted version (see Ver)
	// Ver is the migration's version as its file spells it, integer or
	// dotted (source.Migration.Ver).
	Ver source.Version
	// File is the migration file, relative to the source root; Line and
	// Column (1-based, the column in characters) are those of the
	// statement's first token in File, or for a parse error of the place
	// the parser stopped.
	File    string
	Line    int
	Column  int
	Message string
	// Help is the safe alternative.
	Help string
}

// Ignored is a finding a "-- pgmig:lint-ignore" line silenced, with the
// reason written after the rule list.
type Ignored struct {
	Rule    string
	Version int64
	Ver     source.Version
	File    string
	Line    int
	Reason  string
}

// Result is what Lint found, in file and line order.
type Result struct {
	Findings []Finding
	Ignored  []Ignored
}

// Errors returns the number of error-level findings.
func (r Result) Errors() int { return r.count(Error) }

// Warnings returns the number of warning-level findings.
func (r Result) Warnings() int { return r.count(Warning) }

func (r Result) count(l Level) int {
	n := 0
	for _, f := range r.Findings {
		if f.Level == l {
			n++
		}
	}
	return n
}

// Lint checks migrations, given in ascending version order as a
// source.Source returns them. Up sections are checked against every rule;
// down sections only for parse errors. Lint is safe for concurrent use;
// parsing itself is done one statement at a time.
func Lint(ms []source.Migration, opts Options) Result {
	l := &linter{
		opts:    opts,
		tables:  map[string]int{},
		indexes: map[string]int{},
		schemas: map[string]int{},
		checks:  map[string]map[string]*notNullCheck{},
	}
	for i := range ms {
		l.file = i
		l.section(&ms[i], ms[i].Up, true)
		if ms[i].Down != nil {
			l.section(&ms[i], *ms[i].Down, false)
		}
	}
	return l.res
}

// linter carries what earlier statements created from file to file.
type linter struct {
	opts Options
	res  Result
	file int // index of the migration being checked
	// tables, indexes and schemas map what the migrations created to the
	// index of the migration that created it.
	tables, indexes, schemas map[string]int
	// checks holds, per table, the CHECK (col IS NOT NULL) constraints that
	// make a later SET NOT NULL skip its scan once validated.
	checks map[string]map[string]*notNullCheck
}

type notNullCheck struct {
	col       string
	validated bool
}

// sectionState is what one section has done so far.
type sectionState struct {
	m   *source.Migration
	sec source.Section
	tx  bool // runs in pgmig's transaction
	// lockTimeout: a lock_timeout is in effect for the next statement.
	lockTimeout, lockReported bool
	// notValid holds the constraints this transaction added NOT VALID.
	notValid map[string]bool
	// enumValues maps enum values this transaction added to the line of
	// the ALTER TYPE.
	enumValues map[string]int
}

// stmt is the statement being checked and the ignores before it.
type stmt struct {
	line, col int
	text      string // the statement's text, leading comments included
	ignores   []*ignore
}

func (l *linter) section(m *source.Migration, sec source.Section, up bool) {
	s := &sectionState{
		m: m, sec: sec, tx: !sec.NoTransaction,
		lockTimeout: !sec.NoTransaction && (sec.LockTimeout > 0 || l.opts.DDLLockTimeout > 0),
		notValid:    map[string]bool{},
		enumValues:  map[string]int{},
	}
	ignores := findIgnores(sec)
	statements := 0
	for _, st := range source.Split(sec.SQL) {
		if st.Empty() {
			continue
		}
		statements++
		line, col := source.LineCol(sec.SQL, st.Start)
		cur := stmt{line: sec.Line + line - 1, col: col, text: st.Text}
		for _, ig := range ignores {
			if ig.offset >= st.Offset && ig.offset < st.Start {
				ig.attached = true
				cur.ignores = append(cur.ignores, ig)
			}
		}
		tree, err := parse(st.Text, &l.opts)
		if err != nil {
			at := cur
			if se, ok := err.(*syntaxError); ok && se.Cursor > 0 {
				line, col := source.LineCol(sec.SQL, st.Offset+source.Position(st.Text, se.Cursor))
				at.line, at.col = sec.Line+line-1, col
			}
			l.report(s, cur, at, RuleParseError, "%s", err.Error())
			continue
		}
		if !up {
			continue
		}
		for _, p := range tree {
			l.statement(s, cur, p.Stmt)
		}
	}
	if up && statements == 0 && !m.Go {
		// The loader warns of it too, but only on stderr: a lint report
		// that counts no warnings would contradict the line above it.
		l.reportf(s, stmt{line: sec.Line, col: 1}, RuleEmptyUp, "the up section holds no statement")
	}
	if up {
		l.checkIgnores(s, ignores)
	}
}

// report records a finding on the statement cur, at its first token, unless
// an ignore before the statement silences the rule.
func (l *linter) reportf(s *sectionState, cur stmt, rule, format string, args ...any) {
	l.report(s, cur, cur, rule, format, args...)
}

func (l *linter) report(s *sectionState, cur, at stmt, rule, format string, args ...any) {
	r, _ := lookupRule(rule)
	for _, ig := range cur.ignores {
		for _, id := range ig.rules {
			if id == rule {
				ig.used[id] = true
				l.res.Ignored = append(l.res.Ignored, Ignored{Rule: rule, Version: s.m.Version, Ver: s.m.Ver, File: s.sec.File, Line: at.line, Reason: ig.reason})
				return
			}
		}
	}
	l.res.Findings = append(l.res.Findings, Finding{
		Rule: rule, Level: r.Level, Version: s.m.Version, Ver: s.m.Ver, File: s.sec.File, Line: at.line, Column: at.col,
		Message: fmt.Sprintf(format, args...), Help: named(r.Help, l.name),
	})
}

// name is an option as the caller names it (Options.Name).
func (l *linter) name(option string) string {
	if l.opts.Name == nil {
		return option
	}
	return l.opts.Name(option)
}

// ignore is one "-- pgmig:lint-ignore RULE[,RULE] [reason]" line.
type ignore struct {
	offset   int // byte offset of the line in the section's SQL
	line     int // line in the file
	rules    []string
	reason   string
	attached bool            // a statement follows it
	used     map[string]bool // rules it silenced
}

// findIgnores finds the lint-ignore lines of a section, as the source
// package finds directives: line by line, without regard to quotes.
func findIgnores(sec source.Section) []*ignore {
	var out []*ignore
	for line, start := 0, 0; start < len(sec.SQL); line++ {
		end := len(sec.SQL)
		if k := strings.IndexByte(sec.SQL[start:], '\n'); k >= 0 {
			end = start + k + 1
		}
		text := strings.TrimSpace(sec.SQL[start:end])
		if body, ok := strings.CutPrefix(text, "--"); ok {
			body = strings.TrimLeft(body, " \t")
			if len(body) >= len("pgmig:") && strings.EqualFold(body[:len("pgmig:")], "pgmig:") {
				name, arg, _ := strings.Cut(strings.ReplaceAll(body[len("pgmig:"):], "\t", " "), " ")
				if name == "lint-ignore" {
					list, reason, _ := strings.Cut(strings.TrimSpace(arg), " ")
					out = append(out, &ignore{
						offset: start, line: sec.Line + line,
						rules:  strings.Split(list, ","),
						reason: strings.TrimSpace(reason),
						used:   map[string]bool{},
					})
				}
			}
		}
		start = end
	}
	return out
}

// checkIgnores reports ignore lines that silence nothing: a misspelt rule
// or a stale line would otherwise hide the next real finding's absence.
func (l *linter) checkIgnores(s *sectionState, ignores []*ignore) {
	for _, ig := range ignores {
		at := stmt{line: ig.line, col: 1}
		for _, id := range ig.rules {
			switch _, known := lookupRule(id); {
			case !known:
				l.report(s, stmt{}, at, RuleUnknownIgnore, "-- pgmig:lint-ignore names %q, which is not a rule", id)
			case !ig.attached:
				l.report(s, stmt{}, at, RuleUnusedIgnore, "-- pgmig:lint-ignore %s is followed by no statement", id)
			case !ig.used[id]:
				l.report(s, stmt{}, at, RuleUnusedIgnore, "-- pgmig:lint-ignore %s: the statement after it does not trigger %s", id, id)
			}
		}
	}
}
