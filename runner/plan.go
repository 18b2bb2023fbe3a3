package runner

import (
	"context"
	"errors"
	"slices"
	"sort"
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
	Version   int64
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
	Current *int64 // newest applied version; nil when none is
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

func newPlan(ms []source.Migration, recs []Record) *plan {
	byVersion := make(map[int64]*entry, len(ms)+len(recs))
	byName := map[string]*entry{}
	var p plan
	for i := range ms {
		if ms[i].Repeatable {
			byName[ms[i].Name] = &entry{m: &ms[i]}
			continue
		}
		byVersion[ms[i].Version] = &entry{m: &ms[i]}
	}
	for i := range recs {
		if recs[i].Repeatable {
			if e, ok := byName[recs[i].Name]; ok {
				e.rec = &recs[i]
			} else {
				byName[recs[i].Name] = &entry{rec: &recs[i]}
			}
			continue
		}
		if e, ok := byVersion[recs[i].Version]; ok {
			e.rec = &recs[i]
		} else {
			byVersion[recs[i].Version] = &entry{rec: &recs[i]}
		}
	}
	p.entries = make([]entry, 0, len(byVersion))
	for _, e := range byVersion {
		p.entries = append(p.entries, *e)
	}
	sort.Slice(p.entries, func(i, j int) bool { return p.entries[i].version() < p.entries[j].version() })
	for _, e := range byName {
		p.repeatables = append(p.repeatables, *e)
	}
	sort.Slice(p.repeatables, func(i, j int) bool { return p.repeatables[i].name() < p.repeatables[j].name() })
	return &p
}

func (e entry) version() int64 {
	if e.m != nil {
		return e.m.Version
	}
	return e.rec.Version
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

// current is the newest applied version, nil when none is.
func (p *plan) current() *int64 {
	for i := len(p.entries) - 1; i >= 0; i-- {
		if p.entries[i].applied() {
			v := p.entries[i].version()
			return &v
		}
	}
	return nil
}

func (p *plan) status() Status {
	st := Status{Current: p.current(), Migrations: make([]MigrationStatus, 0, len(p.entries)+len(p.repeatables))}
	for _, e := range slices.Concat(p.entries, p.repeatables) {
		ms := MigrationStatus{Version: e.version(), Name: e.name(), State: e.state(), Repeatable: e.repeatable()}
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
	latest := int64(-1)
	if c := p.current(); c != nil {
		latest = *c
	}
	for _, e := range p.entries {
		switch e.state() {
		case Changed:
			errs = append(errs, &ChecksumMismatchError{Version: e.m.Version, Name: e.m.Name, File: e.m.Up.File, Recorded: e.rec.Checksum, Current: e.m.Checksum})
		case Missing:
			errs = append(errs, &MissingFileError{Version: e.rec.Version, Name: e.rec.Name})
		case Failed:
			errs = append(errs, &DirtyError{Version: e.rec.Version, Name: e.rec.Name, Statement: e.rec.FailedStatement, Message: e.rec.Error})
		case Pending:
			if !allowOutOfOrder && e.version() < latest {
				errs = append(errs, &OutOfOrderError{Version: e.m.Version, Name: e.m.Name, Latest: latest})
			}
		}
	}
	// A repeatable migration whose file is gone is listed by status, not
	// refused: nothing comes after it, and no down undoes it.
	for _, e := range p.repeatables {
		if e.state() == Failed {
			errs = append(errs, &DirtyError{Version: e.rec.Version, Name: e.rec.Name, Statement: e.rec.FailedStatement, Message: e.rec.Error})
		}
	}
	return errors.Join(errs...)
}

// pending lists the migrations Up would apply, in order, bounded by to (0:
// no bound) and steps (0: no bound).
func (p *plan) pending(to int64, steps int) []*source.Migration {
	var out []*source.Migration
	for _, e := range p.entries {
		if e.state() != Pending {
			continue
		}
		if to > 0 && e.m.Version > to {
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
// and without creating the table.
func (r *Runner) current(ctx context.Context) (*plan, error) {
	ms, err := r.migrations(ctx)
	if err != nil {
		return nil, err
	}
	var p *plan
	err = r.read(ctx, func(s *session) error {
		recs, err := s.history(ctx)
		if err != nil {
			return err
		}
		p = newPlan(ms, recs)
		return nil
	})
	return p, err
}

// Status reports every migration known from the files and the history. It
// takes no lock and changes nothing, not even creating the table.
func (r *Runner) Status(ctx context.Context) (Status, error) {
	p, err := r.current(ctx)
	if err != nil {
		return Status{}, err
	}
	return p.status(), nil
}

// Validate checks the files and the history without changing anything: the
// files' own problems (matching source.ErrInvalid) first, then every
// disagreement with the history (matching ErrValidation), joined. It
// returns the status it checked.
func (r *Runner) Validate(ctx context.Context) (Status, error) {
	p, err := r.current(ctx)
	if err != nil {
		return Status{}, err
	}
	return p.status(), p.validate(r.opts.AllowOutOfOrder)
}
