package runner

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/pgmig/pgmig/source"
)

// State is a migration's standing, from its file and its history row.
type State string

const (
	Applied State = "applied" // recorded, and the file's checksum matches
	Pending State = "pending" // in the files, not recorded
	Changed State = "changed" // recorded with another checksum than the file's
	Missing State = "missing" // recorded, file gone
	Failed  State = "failed"  // recorded as failed part-way
	// Outdated is a repeatable migration's state when its file's checksum
	// differs from the recorded run's: up runs it again.
	Outdated State = "outdated"
)

// MigrationStatus is one line of Status.
type MigrationStatus struct {
	Version int64 // 0 for a dotted version (see Ver) and a repeatable migration
	// Ver is the version as the file spells it, or as the history records
	// it when the file is missing; zero for a repeatable migration.
	Ver       source.Version
	Name      string
	State     State
	File      string     // empty when missing
	AppliedAt *time.Time // nil when not recorded
	Duration  time.Duration
	// Checksum is the file's checksum, or the recorded one when the file is
	// missing; Recorded is the tracking table's.
	Checksum string
	Recorded string
	// Error and FailedStatement come from a failed row.
	Error           string
	FailedStatement int
	HasDown         bool
	// Repeatable marks a repeatable migration (Version 0): its states are
	// Applied, Pending, Outdated, Failed and Missing.
	Repeatable bool
}

// Status is every migration known from the files and the history.
type Status struct {
	// Current is the newest applied version; nil when none is, and when
	// it is dotted: CurrentVer has it whatever its form.
	Current    *int64
	CurrentVer source.Version // zero when none is applied
	// Migrations are the versioned migrations in version order, then the
	// repeatable ones in name order.
	Migrations []MigrationStatus
}

// entry is a version seen in the files, the history, or both.
type entry struct {
	m   *source.Migration
	rec *Record
}

// plan merges the source's migrations with the history, in version order.
type plan struct {
	entries []entry
	// repeatables are the repeatable migrations, keyed by name, in name
	// order; never rolled back, and outside the version order.
	repeatables []entry
}

// plan reads the history under the session's lock and plans ms, as far as
// this server can run them (forServer), against it.
func (s *session) plan(ctx context.Context, ms []source.Migration) (*plan, error) {
	ms, err := s.forServer(ctx, ms)
	if err != nil {
		return nil, err
	}
	recs, err := s.history(ctx)
	if err != nil {
		return nil, err
	}
	return newPlan(ms, recs), nil
}

func newPlan(ms []source.Migration, recs []Record) *plan {
	// Keyed by the canonical version (1, 01 and 1.0 are one migration),
	// each to its entry's index. The entries are made in the files'
	// order, which is already the version order but for a missing
	// file's row: sorting then is the exception, and at 10,000
	// migrations sorting every time was most of the plan's cost.
	byVersion := make(map[string]int, len(ms)+len(recs))
	byName := map[string]int{}
	p := plan{entries: make([]entry, 0, len(ms))}
	for i := range ms {
		if ms[i].Repeatable {
			p.repeatables = put(p.repeatables, byName, ms[i].Name, entry{m: &ms[i]})
			continue
		}
		p.entries = put(p.entries, byVersion, verOf(ms[i]).Canonical(), entry{m: &ms[i]})
	}
	for i := range recs {
		es, index, k := &p.entries, byVersion, ""
		if recs[i].Repeatable {
			es, index, k = &p.repeatables, byName, recs[i].Name
		} else {
			k = orInt(recs[i].Version, recs[i].Ver).Canonical()
		}
		if j, ok := index[k]; ok {
			(*es)[j].rec = &recs[i]
		} else {
			*es = put(*es, index, k, entry{rec: &recs[i]})
		}
	}
	byVer := func(a, b entry) int { return a.ver().Compare(b.ver()) }
	if !slices.IsSortedFunc(p.entries, byVer) {
		slices.SortFunc(p.entries, byVer)
	}
	nameOrder := func(a, b entry) int { return strings.Compare(a.name(), b.name()) }
	if !slices.IsSortedFunc(p.repeatables, nameOrder) {
		slices.SortFunc(p.repeatables, nameOrder)
	}
	return &p
}

// put sets the entry of key k in es to e: a new one, indexed in index,
// or, for a key met before, in place of the one there.
func put(es []entry, index map[string]int, k string, e entry) []entry {
	if j, ok := index[k]; ok {
		es[j] = e
		return es
	}
	index[k] = len(es)
	return append(es, e)
}

// ver is the entry's version: as its file spells it, else as its row
// records it.
func (e entry) ver() source.Version {
	if e.m != nil {
		return verOf(*e.m)
	}
	return orInt(e.rec.Version, e.rec.Ver)
}

func (e entry) repeatable() bool {
	if e.m != nil {
		return e.m.Repeatable
	}
	return e.rec.Repeatable
}

func (e entry) name() string {
	if e.m != nil {
		return e.m.Name
	}
	return e.rec.Name
}

func (e entry) state() State {
	switch {
	case e.rec == nil:
		return Pending
	case !e.rec.Success:
		return Failed
	case e.m == nil:
		return Missing
	case e.m.Checksum != e.rec.Checksum:
		if e.m.Repeatable {
			return Outdated
		}
		return Changed
	default:
		return Applied
	}
}

// applied tells whether the migration's changes are in the database as far
// as the history knows: a recorded, successful row.
func (e entry) applied() bool { return e.rec != nil && e.rec.Success }

// current is the newest applied version, zero when none is.
func (p *plan) current() source.Version {
	for i := len(p.entries) - 1; i >= 0; i-- {
		if p.entries[i].applied() {
			return p.entries[i].ver()
		}
	}
	return source.Version{}
}

func (p *plan) status() Status {
	cur := p.current()
	st := Status{Current: intPtr(cur), CurrentVer: cur, Migrations: make([]MigrationStatus, 0, len(p.entries)+len(p.repeatables))}
	for _, e := range slices.Concat(p.entries, p.repeatables) {
		ms := MigrationStatus{Name: e.name(), State: e.state(), Repeatable: e.repeatable()}
		if !ms.Repeatable {
			ms.Ver = e.ver()
			ms.Version = intOf(ms.Ver)
		}
		if e.m != nil {
			ms.File = e.m.Up.File
			ms.Checksum = e.m.Checksum
			ms.HasDown = e.m.Down != nil
		}
		if e.rec != nil {
			at := e.rec.AppliedAt
			ms.AppliedAt = &at
			ms.Duration = e.rec.Duration
			ms.Recorded = e.rec.Checksum
			ms.Error = e.rec.Error
			ms.FailedStatement = e.rec.FailedStatement
			if e.m == nil {
				ms.Checksum = e.rec.Checksum
			}
		}
		st.Migrations = append(st.Migrations, ms)
	}
	return st
}

// validate reports every disagreement between files and history, joined:
// changed checksums, missing files, failed rows and, unless allowed,
// pending migrations older than the newest applied one.
func (p *plan) validate(allowOutOfOrder bool) error {
	var errs []error
	latest := p.current()
	for _, e := range p.entries {
		switch e.state() {
		case Changed:
			errs = append(errs, &ChecksumMismatchError{Version: e.m.Version, Ver: e.ver(), Name: e.m.Name, File: e.m.Up.File, Recorded: e.rec.Checksum, Current: e.m.Checksum})
		case Missing:
			errs = append(errs, &MissingFileError{Version: e.rec.Version, Ver: e.ver(), Name: e.rec.Name})
		case Failed:
			errs = append(errs, dirty(e))
		case Pending:
			if !allowOutOfOrder && !latest.IsZero() && e.ver().Compare(latest) < 0 {
				errs = append(errs, &OutOfOrderError{Version: e.m.Version, Ver: e.ver(), Name: e.m.Name, Latest: intOf(latest), LatestVer: latest})
			}
		}
	}
	// A repeatable migration whose file is gone is listed by status, not
	// refused: nothing comes after it, and no down undoes it.
	for _, e := range p.repeatables {
		if e.state() == Failed {
			errs = append(errs, dirty(e))
		}
	}
	return errors.Join(errs...)
}

// dirty is the error of an entry whose row is marked failed.
func dirty(e entry) *DirtyError {
	de := &DirtyError{Version: e.rec.Version, Name: e.rec.Name, Statement: e.rec.FailedStatement, Message: e.rec.Error}
	if !e.rec.Repeatable {
		de.Ver = e.ver()
	}
	return de
}

// pending lists the migrations Up would apply, in order, bounded by to
// (zero: no bound) and steps (0: no bound).
func (p *plan) pending(to source.Version, steps int) []*source.Migration {
	var out []*source.Migration
	for _, e := range p.entries {
		if e.state() != Pending {
			continue
		}
		if !to.IsZero() && e.ver().Compare(to) > 0 {
			break
		}
		if steps > 0 && len(out) == steps {
			break
		}
		out = append(out, e.m)
	}
	return out
}

// pendingRepeatables lists the repeatable migrations Up runs after the
// versioned ones, in name order: those never run and those whose file
// changed since. They run only once no versioned migration is left
// pending, so that they see the schema the whole set makes: a bounded up
// (to or steps) that stops short of the newest version leaves them.
func (p *plan) pendingRepeatables(todo []*source.Migration) []*source.Migration {
	left := 0
	for _, e := range p.entries {
		if e.state() == Pending {
			left++
		}
	}
	if left > len(todo) {
		return nil
	}
	var out []*source.Migration
	for _, e := range p.repeatables {
		if s := e.state(); s == Pending || s == Outdated {
			out = append(out, e.m)
		}
	}
	return out
}

// current reads the files and the history into a plan, without the lock
// and without creating the table. With onServer it also checks the
// sections against the server's version (see onServer), returning those
// problems beside the plan.
//
// The files are read while the history query runs: at 10,000 migrations
// each takes tens of milliseconds, and status paid for both in turn. A
// problem with the files is still the error returned, whatever the
// server said.
func (r *Runner) current(ctx context.Context, onServer bool) (*plan, error) {
	files := r.readMigrations(ctx)
	var p *plan
	var serverErr error
	err := r.read(ctx, func(s *session) error {
		recs, err := s.history(ctx)
		if err != nil {
			return err
		}
		ms, err := files()
		if err != nil {
			return err
		}
		if onServer {
			if ms, serverErr = s.forServer(ctx, ms); serverErr != nil && ms == nil {
				return serverErr
			}
			if err := repeatablesRunnable(ms); err != nil {
				serverErr = errors.Join(serverErr, err)
			}
		}
		p = newPlan(ms, recs)
		return nil
	})
	if _, ferr := files(); ferr != nil {
		return nil, ferr
	}
	if err != nil {
		return nil, err
	}
	return p, serverErr
}

// Status reports every migration known from the files and the history. It
// takes no lock and changes nothing, not even creating the table.
func (r *Runner) Status(ctx context.Context) (Status, error) {
	p, err := r.current(ctx, false)
	if err != nil {
		return Status{}, err
	}
	return p.status(), nil
}

// Validate checks the files and the history without changing anything: the
// files' own problems (matching source.ErrInvalid) first, those that
// depend on the server's version among them (a statement it refuses in a
// transaction), then every disagreement with the history (matching
// ErrValidation), joined. It returns the status it checked.
func (r *Runner) Validate(ctx context.Context) (Status, error) {
	p, err := r.current(ctx, true)
	if p == nil {
		return Status{}, err
	}
	return p.status(), errors.Join(err, p.validate(r.opts.AllowOutOfOrder))
}
