package diff

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pgmig/pgmig/schema"
)

// Options tune Plan. The zero value works.
type Options struct {
	// AllowDestructive lets the up plan drop tables, columns and types,
	// remove enum values and narrow column types. Without it Plan returns
	// a *DestructiveError naming each such change. The down plan is always
	// allowed them: the down of creating a table is dropping it.
	AllowDestructive bool
	// Renames are hints "OLD=NEW" for tables ("public.a=public.b", or
	// "a=b" in schema public) and columns ("public.t.a=b" or
	// "t.a=t.b"): a rename cannot be told from a drop and an add, so
	// without a hint the old object is dropped and the new one created.
	Renames []string
	// LockTimeout is set at the top of each section. Zero means 5s.
	LockTimeout time.Duration
	// Castable says whether PostgreSQL can convert a value of type from
	// to type to with a cast (from::to), as a column's type change is
	// written; where it cannot, the change is refused by name, since only
	// a USING expression the schema does not give could make it. Nil
	// assumes every change can. Prove asks the scratch database.
	Castable func(from, to string) bool

	// reverse plans a down: a column the up dropped comes back at the end
	// of its table instead of being refused for its position.
	reverse bool
}

// Change is one object the plan creates, drops or alters.
type Change struct {
	Object string `json:"object"` // "table public.t", "column public.t.c"
	Action string `json:"action"` // create, drop, alter, replace, rename
}

// Hazard is a statement of the plan that does what a live database may
// feel: it rewrites a table, scans it under a lock that blocks writes, or
// fails on some data.
type Hazard struct {
	Object  string `json:"object"`
	Message string `json:"message"`

	stmt int // Statement.id of the statement it is about
}

// Statement is one SQL statement of a plan.
type Statement struct {
	SQL string
	// NoTransaction: the statement cannot run inside a transaction block
	// (CREATE INDEX CONCURRENTLY), or must not share one with the
	// statements before it (VALIDATE CONSTRAINT after ADD … NOT VALID).
	NoTransaction bool
	// LintIgnore is "RULE reason" when the statement trips a pgmig lint
	// rule on purpose; the file says so before it.
	LintIgnore string

	id int // 1-based within its plan, for the hazards about it
}

// Migration is the plan between two catalogs: the statements of its up
// and down sections, what it changes, and its hazards.
type Migration struct {
	Up, Down []Statement
	// Changes are what Up does, in the order it does it.
	Changes []Change
	// Hazards are the statements of Up a live database may feel.
	Hazards []Hazard
	// DownReorders are the tables whose column order the down cannot
	// restore: a column the up drops comes back at the end of its table,
	// as ALTER TABLE ADD COLUMN puts it. Their data is lost anyway.
	DownReorders []string
	// LockTimeout is the lock_timeout each section sets.
	LockTimeout time.Duration

	upReorders []string // as DownReorders, for a plan made with Options.reverse
}

// Empty reports whether there is nothing to change.
func (p *Migration) Empty() bool { return len(p.Changes) == 0 }

// Plan computes the migration that turns current into desired (Up) and
// back (Down, the plan from desired to current). A change it cannot
// express is an *UnsupportedError naming each; a destructive one without
// opts.AllowDestructive is a *DestructiveError. Plan is a pure function of
// its arguments and safe for concurrent use.
func Plan(current, desired *schema.Catalog, opts Options) (*Migration, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 5 * time.Second
	}
	renames, err := parseRenames(current, desired, opts.Renames)
	if err != nil {
		return nil, err
	}
	upp := newPlanner(current, desired, renames, opts.AllowDestructive)
	upp.reverse, upp.castable = opts.reverse, opts.Castable
	up, err := upp.plan()
	if err != nil {
		return nil, err
	}
	back := make([]rename, len(renames))
	for i, r := range renames {
		back[len(renames)-1-i] = r.reverse()
	}
	dp := newPlanner(desired, current, back, true)
	dp.reverse, dp.castable = true, opts.Castable
	down, err := dp.plan()
	if err != nil {
		return nil, fmt.Errorf("down: %w", err)
	}
	return &Migration{Up: up.stmts, Down: down.stmts, Changes: up.changes, Hazards: up.hazards,
		DownReorders: down.reorders, upReorders: up.reorders, LockTimeout: opts.LockTimeout}, nil
}

// Destructive is a change that loses data.
type Destructive struct {
	Object string `json:"object"`
	Reason string `json:"reason"`
}

// DestructiveError is returned by Plan when the up plan would lose data
// and Options.AllowDestructive is not set. The CLI maps it to exit 3.
type DestructiveError struct {
	Changes []Destructive
	// Renames are the tables and columns dropped with another added in
	// their place that may be the same one renamed.
	Renames []RenameCandidate
}

func (e *DestructiveError) Error() string { return e.Text(goName) }

// Text is the message with the option that takes a rename hint named as
// name renders it ("Options.Renames" in Error).
func (e *DestructiveError) Text(name func(option string) string) string {
	return listing("destructive change(s) refused", e.Changes, func(c Destructive) (string, string) { return c.Object, c.Reason }) +
		renameLines(e.Renames, name)
}

// RenameCandidate is a table or column the plan drops and one it adds
// in its place, which may be the same one renamed: a rename cannot be
// told from a drop and an add, so only a hint in Options.Renames makes it
// one.
type RenameCandidate struct {
	Kind string // "table" or "column"
	Old  string // the current one: "public.users.name"
	New  string // the desired one: "public.users.full_name"
	// Hint is the entry of Options.Renames that renames Old to New:
	// "public.users.name=full_name".
	Hint string
}

// goName names an option as the Go API spells it, for Error.
func goName(option string) string { return option }

// renameLines are the lines of an error that suggest each candidate's
// hint, the option named as name renders it.
func renameLines(cs []RenameCandidate, name func(option string) string) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "\n  %s %s dropped and %s added: if it is a rename, pass %s %s", c.Kind, c.Old, c.New, name("Options.Renames"), c.Hint)
	}
	return b.String()
}

// Unsupported is a difference the planner cannot express.
type Unsupported struct {
	Object string `json:"object"`
	What   string `json:"what"`
}

// UnsupportedError is returned by Plan when part of the difference cannot
// be written as a migration: nothing is ever left out in silence.
type UnsupportedError struct {
	Objects []Unsupported
	// Renames are as DestructiveError's: a column dropped and one added
	// in its place reads as a new column before the existing ones.
	Renames []RenameCandidate
}

func (e *UnsupportedError) Error() string { return e.Text(goName) }

// Text is the message with the option that takes a rename hint named as
// name renders it, as DestructiveError's.
func (e *UnsupportedError) Text(name func(option string) string) string {
	return listing("change(s) cannot be planned", e.Objects, func(u Unsupported) (string, string) { return u.Object, u.What }) +
		renameLines(e.Renames, name)
}

// listing is the message of an error refusing a plan for its items: their
// count and what, then a line "object: why" for each.
func listing[T any](what string, items []T, line func(T) (object, why string)) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s:", len(items), what)
	for _, it := range items {
		object, why := line(it)
		fmt.Fprintf(&b, "\n  %s: %s", object, why)
	}
	return b.String()
}

// File renders the plan as one pgmig migration file: a header naming the
// changes and hazards, an up section and a down section. A section that
// holds a statement that cannot run in a transaction is marked
// "-- pgmig:no-transaction" and runs one statement at a time.
func (p *Migration) File() string {
	return p.Render(p.Up, p.Down, "")
}

// Render writes a migration file of the plan's header (the hazards of
// the statements of up, and note, when it is not empty) and the given up
// and down sections. When up is part of the plan's Up (Split), the file
// names only its own part's hazards.
func (p *Migration) Render(up, down []Statement, note string) string {
	var b strings.Builder
	b.WriteString("-- Written by pgmig diff; review it before committing.\n")
	if note != "" {
		fmt.Fprintf(&b, "-- %s\n", oneLine(note))
	}
	if hs := p.hazardsOf(up); len(hs) > 0 {
		b.WriteString("--\n-- Hazards on a live database:\n")
		for _, h := range hs {
			fmt.Fprintf(&b, "--   %s: %s\n", h.Object, oneLine(h.Message))
		}
	}
	for _, t := range p.DownReorders {
		fmt.Fprintf(&b, "-- The down re-adds the columns of %s at the end of the table.\n", strings.TrimPrefix(t, "table "))
	}
	b.WriteString("\n-- pgmig:up\n")
	p.section(&b, up)
	b.WriteString("\n-- pgmig:down\n")
	p.section(&b, down)
	return b.String()
}

// hazardsOf is the plan's hazards about the statements of up, in the
// order the plan found them.
func (p *Migration) hazardsOf(up []Statement) []Hazard {
	in := map[int]bool{}
	for _, s := range up {
		in[s.id] = true
	}
	var out []Hazard
	for _, h := range p.Hazards {
		if in[h.stmt] {
			out = append(out, h)
		}
	}
	return out
}

// Split cuts Up where the statements that must run outside a transaction
// begin, when they all come last and some come before them: head can then
// run in one transaction and tail, one statement at a time, in a
// migration of its own. ok is false when Up cannot be cut so.
func (p *Migration) Split() (head, tail []Statement, ok bool) {
	i := slices.IndexFunc(p.Up, func(s Statement) bool { return s.NoTransaction })
	if i <= 0 {
		return nil, nil, false
	}
	for _, s := range p.Up[i:] {
		if !s.NoTransaction {
			return nil, nil, false
		}
	}
	return p.Up[:i], p.Up[i:], true
}

func (p *Migration) section(b *strings.Builder, stmts []Statement) {
	for _, s := range stmts {
		if s.NoTransaction {
			b.WriteString("-- pgmig:no-transaction\n")
			break
		}
	}
	fmt.Fprintf(b, "SET lock_timeout = '%dms';\n", p.LockTimeout.Milliseconds())
	for _, s := range stmts {
		if s.LintIgnore != "" {
			fmt.Fprintf(b, "-- pgmig:lint-ignore %s\n", oneLine(s.LintIgnore))
		}
		b.WriteString(s.SQL)
		b.WriteString(";\n")
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
