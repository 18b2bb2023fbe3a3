package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/source"
)

// UpOptions bounds Up. The zero value applies everything pending.
type UpOptions struct {
	To int64 // apply pending migrations up to and including this version; 0: no bound
	// ToVer is To as a version of any form, dotted ones included
	// (source.ParseVersion("1.2")); zero: no bound. Set one of To and ToVer,
	// or both to the same version.
	ToVer  source.Version
	Steps  int  // apply at most this many; 0: no bound
	DryRun bool // report what would be applied, change nothing
	// Rehearse runs every pending transactional section in one transaction
	// that is rolled back, reporting each one's duration and the locks it
	// took (Report.Rehearsed). Nothing persists; the history is untouched.
	Rehearse bool
	// SingleTransaction applies every pending migration in one transaction,
	// sent as one query: all or nothing, and the fewest round trips. It is
	// refused when a pending migration has a no-transaction section.
	SingleTransaction bool
}

// up is one attempt of Up; res, when set, carries earlier attempts' work.
func (r *Runner) up(ctx context.Context, opts UpOptions, res *resume) (Report, error) {
	if opts.To < 0 || opts.Steps < 0 {
		return Report{}, optionError("{UpOptions.To} and {UpOptions.Steps} must not be negative")
	}
	to, err := target("UpOptions", opts.To, opts.ToVer)
	if err != nil {
		return Report{}, err
	}
	ms, err := r.migrations(ctx)
	if err != nil {
		return Report{}, err
	}
	if !to.IsZero() && !hasVersion(ms, to) {
		return Report{}, optionError("{UpOptions.To} %s: no migration has that version", to)
	}
	if opts.DryRun && opts.Rehearse {
		return Report{}, optionError("choose one of {UpOptions.DryRun} and {UpOptions.Rehearse}")
	}
	upTo := func(m *source.Migration) bool { return to.IsZero() || verOf(*m).Compare(to) <= 0 }
	if opts.SingleTransaction || opts.Rehearse {
		for i := range ms {
			if len(ms[i].Up.Copies) > 0 && upTo(&ms[i]) {
				what := "{UpOptions.SingleTransaction}"
				if opts.Rehearse {
					what = "{UpOptions.Rehearse}"
				}
				return Report{}, copyRefused(&ms[i], what)
			}
		}
	}
	if opts.SingleTransaction {
		for i := range ms {
			// Checked against every file, pending or not, so the answer
			// does not depend on the database's state.
			if ms[i].Up.NoTransaction && upTo(&ms[i]) {
				return Report{}, singleTxRefused(&ms[i])
			}
		}
	}
	if err := repeatablesRunnable(ms); err != nil {
		return Report{}, err
	}
	rep := Report{DryRun: opts.DryRun || opts.Rehearse}
	run := func(s *session) error {
		// Before anything changes, as every check above: what the server
		// refuses in a transaction depends on its version.
		ms, err := s.forServer(ctx, ms)
		if err != nil {
			return err
		}
		if opts.SingleTransaction {
			for i := range ms {
				if ms[i].Up.NoTransaction && upTo(&ms[i]) {
					return singleTxRefused(&ms[i])
				}
			}
		}
		if err := repeatablesRunnable(ms); err != nil {
			return err
		}
		if !opts.DryRun && !opts.Rehearse && (hasRepeatables(ms) || hasDotted(ms)) {
			if err := s.tr.upgrade(ctx, s.conn); err != nil {
				return err
			}
		}
		recs, err := s.history(ctx)
		if err != nil {
			return err
		}
		p := newPlan(ms, recs)
		if res != nil && res.again && !res.replan(p, &opts) {
			rep.setCurrent(p.current())
			return nil
		}
		if err := p.validate(r.opts.AllowOutOfOrder); err != nil {
			return err
		}
		rep.setCurrent(p.current())
		if opts.DryRun {
			rep.setPlanned(rep.CurrentVer)
		}
		todo := p.pending(to, opts.Steps)
		todo = append(todo, p.pendingRepeatables(todo)...)
		what := ""
		switch {
		case opts.SingleTransaction:
			what = "a single-transaction run"
		case opts.Rehearse:
			what = "a rehearsal"
		}
		if err := r.goPending(todo, what); err != nil {
			return err
		}
		var errs []error
		for _, m := range todo {
			if err := transactionControl(m, m.Up); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if opts.Rehearse {
			rep.Rehearsed, err = r.rehearse(ctx, s, todo)
			return err
		}
		if opts.SingleTransaction && !opts.DryRun && len(todo) > 0 {
			steps, err := r.runAll(ctx, s, todo)
			if err != nil {
				return err
			}
			rep.Applied = steps
			for _, st := range steps {
				rep.advance(st.Ver, false)
			}
			return nil
		}
		applied := func(st Step) {
			rep.Applied = append(rep.Applied, st)
			rep.advance(st.Ver, false)
		}
		for _, m := range todo {
			if opts.DryRun {
				// A dry run changes nothing: Current stays as it is.
				rep.Applied = append(rep.Applied, planned(m, Up))
				rep.advance(verOf(*m), true)
				continue
			}
			if err := r.runStep(ctx, s, m, Up, applied); err != nil {
				return err
			}
		}
		if err := r.settle(ctx, s); err != nil {
			return err
		}
		return r.stamp(ctx, s, rep.Applied)
	}
	switch {
	case opts.DryRun:
		err = r.read(ctx, run)
	case opts.Rehearse:
		// Under the lock, so no other run migrates meanwhile, but the
		// tracking table is not created: the history stays untouched.
		err = r.locked(ctx, false, run)
	default:
		err = r.write(ctx, run)
	}
	return rep, err
}

// RollbackOptions chooses what Rollback undoes: Steps (default 1), To, or
// All; at most one of them.
type RollbackOptions struct {
	Steps int   // undo this many of the newest applied migrations
	To    int64 // undo every applied migration newer than To, leaving To applied
	// ToVer is To as a version of any form, dotted ones included; set one
	// of To and ToVer, or both to the same version.
	ToVer  source.Version
	All    bool // undo every applied migration
	DryRun bool // report what would be rolled back, change nothing
}

// Rollback runs down sections newest first, each in its own transaction
// with its history change. Before undoing anything it checks that every
// migration to undo has its file unchanged and a down section.
func (r *Runner) Rollback(ctx context.Context, opts RollbackOptions) (Report, error) {
	set := 0
	for _, b := range []bool{opts.Steps != 0, opts.To != 0 || !opts.ToVer.IsZero(), opts.All} {
		if b {
			set++
		}
	}
	if set > 1 {
		return Report{}, optionError("choose one of {RollbackOptions.Steps}, {RollbackOptions.To} and {RollbackOptions.All}")
	}
	if opts.Steps < 0 || opts.To < 0 {
		return Report{}, optionError("{RollbackOptions.To} and {RollbackOptions.Steps} must not be negative")
	}
	to, err := target("RollbackOptions", opts.To, opts.ToVer)
	if err != nil {
		return Report{}, err
	}
	if set == 0 {
		opts.Steps = 1
	}
	ms, err := r.migrations(ctx)
	if err != nil {
		return Report{}, err
	}
	rep := Report{DryRun: opts.DryRun}
	run := func(s *session) error {
		p, err := s.plan(ctx, ms)
		if err != nil {
			return err
		}
		targets, err := p.rollbackTargets(opts, to)
		if err != nil {
			return err
		}
		rep.setCurrent(p.current())
		if opts.DryRun {
			for _, e := range p.entries {
				if e.applied() && !contains(targets, e.ver()) {
					rep.setPlanned(e.ver())
				}
			}
		}
		for _, e := range targets {
			if opts.DryRun {
				// A dry run changes nothing: Current stays as it is.
				rep.RolledBack = append(rep.RolledBack, planned(e.m, Down))
				continue
			}
			if err := r.runStep(ctx, s, e.m, Down, func(st Step) {
				rep.RolledBack = append(rep.RolledBack, st)
				e.rec.Success = false // no longer applied, for current()
				rep.setCurrent(p.current())
			}); err != nil {
				return err
			}
		}
		return r.settle(ctx, s)
	}
	if opts.DryRun {
		err = r.read(ctx, run)
	} else {
		err = r.write(ctx, run)
	}
	return rep, err
}

func contains(es []*entry, v source.Version) bool {
	for _, e := range es {
		if e.ver().Compare(v) == 0 {
			return true
		}
	}
	return false
}

// rollbackTargets picks the applied migrations to undo, newest first, and
// checks them all before any is undone; to is opts' To or ToVer.
func (p *plan) rollbackTargets(opts RollbackOptions, to source.Version) ([]*entry, error) {
	var applied []*entry
	var errs []error
	for i := range p.entries {
		e := &p.entries[i]
		if e.state() == Failed {
			errs = append(errs, dirty(*e))
		}
		if e.applied() {
			applied = append(applied, e)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(applied, func(i, j int) bool { return applied[i].ver().Compare(applied[j].ver()) > 0 })
	var targets []*entry
	switch {
	case opts.All:
		targets = applied
	case !to.IsZero():
		found := false
		for _, e := range applied {
			if e.ver().Compare(to) == 0 {
				found = true
				break
			}
			targets = append(targets, e)
		}
		if !found {
			return nil, optionError("{RollbackOptions.To} %s: that version is not applied", to)
		}
	default:
		targets = applied[:min(opts.Steps, len(applied))]
	}
	for _, e := range targets {
		switch {
		case e.m == nil:
			errs = append(errs, &MissingFileError{Version: e.rec.Version, Ver: e.ver(), Name: e.rec.Name})
		case e.m.Checksum != e.rec.Checksum:
			errs = append(errs, &ChecksumMismatchError{Version: e.m.Version, Ver: verOf(*e.m), Name: e.m.Name, File: e.m.Up.File, Recorded: e.rec.Checksum, Current: e.m.Checksum})
		case e.m.Down == nil:
			errs = append(errs, &MissingDownError{Version: e.m.Version, Ver: verOf(*e.m), Name: e.m.Name, File: e.m.Up.File})
		default:
			if err := transactionControl(e.m, *e.m.Down); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return targets, errors.Join(errs...)
}

// Redo rolls back the newest applied migration and applies it again, under
// one hold of the lock.
func (r *Runner) Redo(ctx context.Context) (Report, error) {
	ms, err := r.migrations(ctx)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	err = r.write(ctx, func(s *session) error {
		p, err := s.plan(ctx, ms)
		if err != nil {
			return err
		}
		if err := p.validate(true); err != nil {
			return err
		}
		targets, err := p.rollbackTargets(RollbackOptions{Steps: 1}, source.Version{})
		if err != nil {
			return err
		}
		rep.setCurrent(p.current())
		if len(targets) == 0 {
			return nil
		}
		m := targets[0].m
		if err := r.runStep(ctx, s, m, Down, func(st Step) { rep.RolledBack = append(rep.RolledBack, st) }); err != nil {
			return err
		}
		if err := r.runStep(ctx, s, m, Up, func(st Step) { rep.Applied = append(rep.Applied, st) }); err != nil {
			return err
		}
		if err := r.settle(ctx, s); err != nil {
			return err
		}
		return r.stamp(ctx, s, rep.Applied)
	})
	return rep, err
}

// stamp sets the AppliedAt of steps just applied to what the tracking
// table recorded (the server's clock, as status shows it later), in one
// query, so that a report and the history agree to the microsecond.
func (r *Runner) stamp(ctx context.Context, s *session, steps []Step) error {
	versions := make([]source.Version, 0, len(steps))
	for _, st := range steps {
		// A dry run's planned steps were not applied; a repeatable
		// migration's row has no version to find it by.
		if !st.AppliedAt.IsZero() && !st.Repeatable {
			versions = append(versions, st.Ver)
		}
	}
	if len(versions) == 0 {
		return nil
	}
	recorded, err := s.tr.durations(ctx, s.conn, versions)
	if err != nil {
		return err
	}
	for i := range steps {
		if rec, ok := recorded[steps[i].Ver.Canonical()]; ok && !steps[i].Repeatable {
			steps[i].AppliedAt = rec.AppliedAt
		}
	}
	return nil
}

// Baseline records every migration up to and including version as applied,
// without running it, for a database that already has that schema. It
// refuses a tracking table that already holds history.
func (r *Runner) Baseline(ctx context.Context, version int64) (Report, error) {
	if version <= 0 {
		return Report{}, optionError("{Baseline.version} must be a positive version")
	}
	return r.BaselineVersion(ctx, source.IntVersion(version))
}

// BaselineVersion is Baseline with a version of any form, dotted ones
// included.
func (r *Runner) BaselineVersion(ctx context.Context, version source.Version) (Report, error) {
	if version.IsZero() {
		return Report{}, optionError("{Baseline.version} must be a positive version")
	}
	ms, err := r.migrations(ctx)
	if err != nil {
		return Report{}, err
	}
	if !hasVersion(ms, version) {
		return Report{}, optionError("{Baseline.version} %s: no migration has that version", version)
	}
	var rep Report
	err = r.write(ctx, func(s *session) error {
		recs, err := s.history(ctx)
		if err != nil {
			return err
		}
		if len(recs) > 0 {
			return &HistoryError{Msg: fmt.Sprintf("baseline refused: %s already records %d migration(s); baseline is for a database with no pgmig history", s.tr.name(), len(recs))}
		}
		var record []*source.Migration
		for i := range ms {
			// A repeatable migration is not recorded: up runs it, as for
			// any database new to it.
			if !ms[i].Repeatable && verOf(ms[i]).Compare(version) <= 0 {
				record = append(record, &ms[i])
			}
		}
		if err := s.upgradeFor(ctx, record); err != nil {
			return err
		}
		if err := s.tr.record(ctx, s.conn, record); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		for _, m := range record {
			rep.Baselined = append(rep.Baselined, planned(m, Up))
		}
		rep.setCurrent(verOf(*record[len(record)-1]))
		return nil
	})
	return rep, err
}

// RepairAction names a change Repair made.
type RepairAction string

const (
	RemovedFailed   RepairAction = "removed_failed_row"
	UpdatedChecksum RepairAction = "updated_checksum"
	UpdatedName     RepairAction = "updated_name"
)

// RepairChange is one change Repair made to the tracking table.
type RepairChange struct {
	Version int64
	Ver     source.Version // the version as the file or the row spells it; zero for a repeatable migration
	Name    string
	Action  RepairAction
	Old     string // the recorded value (checksum, name or error)
	New     string // the new value; empty for a removed row
}

// Repair aligns the tracking table with the files: it sets recorded
// checksums (and names) to the files' and removes failed rows, in one
// transaction, returning each change. Rows whose file is missing are left
// alone: only a person can tell whether their schema is still there.
func (r *Runner) Repair(ctx context.Context) ([]RepairChange, error) {
	ms, err := r.migrations(ctx)
	if err != nil {
		return nil, err
	}
	var changes []RepairChange
	err = r.write(ctx, func(s *session) error {
		recs, err := s.history(ctx)
		if err != nil {
			return err
		}
		p := newPlan(ms, recs)
		return pgx.BeginFunc(ctx, s.conn, func(tx pgx.Tx) error {
			for _, e := range p.entries {
				if e.rec == nil {
					continue
				}
				v := e.ver()
				switch {
				case !e.rec.Success:
					if err := s.tr.remove(ctx, tx, v); err != nil {
						return fmt.Errorf("repair %s: %w", v, err)
					}
					changes = append(changes, RepairChange{Version: e.rec.Version, Ver: v, Name: e.rec.Name, Action: RemovedFailed, Old: e.rec.Error})
					continue
				case e.m == nil:
					continue
				}
				if e.m.Checksum != e.rec.Checksum {
					if err := s.tr.setChecksum(ctx, tx, v, e.m.Checksum); err != nil {
						return fmt.Errorf("repair %s: %w", v, err)
					}
					changes = append(changes, RepairChange{Version: e.m.Version, Ver: v, Name: e.m.Name, Action: UpdatedChecksum, Old: e.rec.Checksum, New: e.m.Checksum})
				}
				if e.m.Name != e.rec.Name {
					if err := s.tr.setName(ctx, tx, v, e.m.Name); err != nil {
						return fmt.Errorf("repair %s: %w", v, err)
					}
					changes = append(changes, RepairChange{Version: e.m.Version, Ver: v, Name: e.m.Name, Action: UpdatedName, Old: e.rec.Name, New: e.m.Name})
				}
			}
			return nil
		})
	})
	return changes, err
}

func planned(m *source.Migration, dir Direction) Step {
	sec := m.Up
	if dir == Down && m.Down != nil {
		sec = *m.Down
	}
	return Step{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: sec.File, Checksum: m.Checksum, NoTransaction: sec.NoTransaction, Repeatable: m.Repeatable}
}

// hasVersion tells whether a versioned migration has version v. The
// source lists versioned migrations in version order, repeatable ones
// after them.
func hasVersion(ms []source.Migration, v source.Version) bool {
	n := len(ms)
	for n > 0 && ms[n-1].Repeatable {
		n--
	}
	i := sort.Search(n, func(i int) bool { return verOf(ms[i]).Compare(v) >= 0 })
	return i < n && verOf(ms[i]).Compare(v) == 0
}

// target is the version an options struct's To and ToVer give, zero for
// none; typ names the struct in the error of two that disagree.
func target(typ string, to int64, toVer source.Version) (source.Version, error) {
	switch {
	case toVer.IsZero() && to > 0:
		return source.IntVersion(to), nil
	case to > 0 && toVer.Compare(source.IntVersion(to)) != 0:
		return source.Version{}, optionError("{"+typ+".To} %d and {"+typ+".ToVer} %s: set one of them, or both to the same version", to, toVer)
	}
	return toVer, nil
}

// upgradeFor upgrades the tracking table when a migration of ms has a
// version its first layout cannot hold.
func (s *session) upgradeFor(ctx context.Context, ms []*source.Migration) error {
	for _, m := range ms {
		if !m.Repeatable && needsText(m.Ver) {
			return s.tr.upgrade(ctx, s.conn)
		}
	}
	return nil
}

func hasRepeatables(ms []source.Migration) bool {
	return slices.ContainsFunc(ms, func(m source.Migration) bool { return m.Repeatable })
}

// repeatablesRunnable refuses repeatable migrations that must run outside
// a transaction: their history row is written in the migration's own
// transaction, which such a file does not have.
func repeatablesRunnable(ms []source.Migration) error {
	var errs []error
	for i := range ms {
		if m := &ms[i]; m.Repeatable && m.Up.NoTransaction {
			errs = append(errs, &source.FileError{File: m.Up.File, Msg: "a repeatable migration runs in a transaction: remove its no-transaction directive, " +
				"or move the statements that cannot run in a transaction block into a versioned migration"})
		}
	}
	return errors.Join(errs...)
}
