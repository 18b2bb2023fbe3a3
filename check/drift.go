package check

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/schema"
	"github.com/pgmig/pgmig/source"
)

// DriftOptions tune Drift. The zero value works.
type DriftOptions struct {
	// Runner is the settings of the runners that read the live history
	// and build it on the scratch database: tracking table (empty means
	// runner.DefaultTable), lock timeout, DDL settings, OnEvent. Its
	// Logger also gets the scratch database's lifecycle.
	Runner runner.Options
}

// DriftReport is what Drift found. Objects is empty (not nil) and Diff ""
// when the schema is what the migrations build.
type DriftReport struct {
	// Current is the newest applied version in the live database; nil when
	// none is, and when it is dotted: CurrentVer has it whatever its form.
	Current    *int64
	CurrentVer source.Version
	// Applied is how many migrations were built: those the live tracking
	// table records as applied.
	Applied int
	// Objects are the keys of the objects that differ ("column
	// public.users.x"), and Diff the unified diff from what the migrations
	// build ("---") to the live database ("+++").
	Objects []string
	Diff    string
	// Database is the scratch database the history was built in, already
	// dropped when Drift returns.
	Database string
	Duration time.Duration
	// Cleanup is the failure to drop the scratch database; the verdict
	// stands, the database needs dropping by hand.
	Cleanup error
}

// Drifted reports whether the live schema differs from what its applied
// migrations build.
func (r DriftReport) Drifted() bool { return len(r.Objects) > 0 }

// Drift compares the schema of live with what its applied migrations
// build: it reads which migrations live's tracking table records as
// applied, builds exactly those from src on a scratch database named
// pgmig_drift_<random> on live's server (dropped whatever happens), and
// diffs the two snapshots. Pending migrations are not built; live is only
// read. Data, sequence values, owners and privileges are not compared.
//
// A history the files cannot rebuild (an applied migration's file changed
// or missing, a failed row) is an error joining the runner's
// *runner.ChecksumMismatchError, *runner.MissingFileError and
// *runner.DirtyError, each matching runner.ErrValidation. Drift found is
// no error: see DriftReport.Drifted.
func Drift(ctx context.Context, live *pgxpool.Pool, src source.Source, opts DriftOptions) (rep DriftReport, err error) {
	start := time.Now()
	defer func() { rep.Duration = time.Since(start) }()
	rep.Objects = []string{}
	all, tt, err := readInputs(ctx, live, src, opts.Runner.Table)
	if err != nil {
		return rep, err
	}
	r, err := runner.New(live, static(all), opts.Runner)
	if err != nil {
		return rep, err
	}
	st, err := r.Status(ctx)
	if err != nil {
		return rep, err
	}
	rep.Current, rep.CurrentVer = st.Current, st.CurrentVer
	ms, err := appliedMigrations(all, st)
	if err != nil {
		return rep, err
	}
	rep.Applied = len(ms)
	var tracked bool
	if err := live.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", tt.ident).Scan(&tracked); err != nil {
		return rep, fmt.Errorf("drift: look up %s: %w", tt.ident, err)
	}
	liveSnap, err := schema.Take(ctx, live, schema.Options{Exclude: []string{tt.ident}})
	if err != nil {
		return rep, fmt.Errorf("drift: %w", err)
	}

	sc, err := NewScratch(ctx, live, "pgmig_drift_", opts.Runner.Logger)
	if err != nil {
		return rep, err
	}
	rep.Database = sc.Name
	defer func() { rep.Cleanup = sc.Drop() }()
	if tracked {
		// Up creates the tracking table (and its schema) even with nothing
		// to apply, as the live database has them.
		sr, err := runner.New(sc.Pool, static(ms), opts.Runner)
		if err != nil {
			return rep, err
		}
		if _, err := sr.Up(ctx, runner.UpOptions{}); err != nil {
			return rep, fmt.Errorf("drift: build the applied migrations on %s: %w", sc.Name, err)
		}
	}
	built, err := schema.Take(ctx, sc.Pool, schema.Options{Exclude: []string{tt.ident}})
	if err != nil {
		return rep, fmt.Errorf("drift: %w", err)
	}
	built.Label = "migrations"
	switch {
	case st.Current != nil:
		built.Label = fmt.Sprintf("migrations up to %03d", *st.Current)
	case !st.CurrentVer.IsZero():
		built.Label = "migrations up to " + st.CurrentVer.String()
	}
	liveSnap.Label = "database"
	diff, objects := schema.Diff(built, liveSnap)
	if len(objects) > 0 {
		rep.Objects, rep.Diff = objects, diff
	}
	return rep, nil
}

// appliedMigrations returns the migrations the tracking table records as
// applied, from the source. A history the files cannot rebuild (a changed
// or missing file, a failed row) is a validation failure.
func appliedMigrations(all []source.Migration, st runner.Status) ([]source.Migration, error) {
	// Keyed as the runner pairs files and rows: by the version as Flyway
	// compares it (a dotted one has no int64), a repeatable one by name.
	key := func(repeatable bool, name string, n int64, v source.Version) string {
		switch {
		case repeatable:
			return "R " + name
		case v.IsZero():
			return source.IntVersion(n).Canonical()
		}
		return v.Canonical()
	}
	byVersion := map[string]source.Migration{}
	for _, m := range all {
		byVersion[key(m.Repeatable, m.Name, m.Version, m.Ver)] = m
	}
	var ms []source.Migration
	var problems []error
	for _, m := range st.Migrations {
		switch m.State {
		case runner.Applied:
			ms = append(ms, byVersion[key(m.Repeatable, m.Name, m.Version, m.Ver)])
		case runner.Changed:
			problems = append(problems, &runner.ChecksumMismatchError{Version: m.Version, Ver: m.Ver, Name: m.Name, File: m.File, Recorded: m.Recorded, Current: m.Checksum})
		case runner.Missing:
			problems = append(problems, &runner.MissingFileError{Version: m.Version, Ver: m.Ver, Name: m.Name})
		case runner.Failed:
			problems = append(problems, &runner.DirtyError{Version: m.Version, Ver: m.Ver, Name: m.Name, Statement: m.FailedStatement, Message: m.Error})
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("drift: the files cannot rebuild the applied migrations: %w", errors.Join(problems...))
	}
	return ms, nil
}
