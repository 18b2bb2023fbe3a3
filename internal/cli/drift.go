package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/schema"
	"github.com/pgmig/pgmig/source"
)

func (a *cliApp) driftCommand() *cli.Command {
	return &cli.Command{
		Name:  "drift",
		Usage: "compare the database's schema with what its applied migrations build; exit 3 when they differ",
		UsageText: "pgmig drift\n\n" +
			"Builds the migrations the tracking table records as applied on a scratch database,\n" +
			"pgmig_drift_<random> on the same server (the role needs CREATEDB), dropped afterwards,\n" +
			"and prints a unified diff of the two schemas: '+' lines are in the database only.\n" +
			"Data, sequence values, owners and privileges are not compared.\n\n" +
			"Examples:\n   pgmig drift --source migrations\n   pgmig drift --format json",
		Action: a.drift,
	}
}

// drift snapshots the live database, builds its applied migrations on a
// scratch database, snapshots that, and diffs the two.
func (a *cliApp) drift(c *cli.Context) error {
	ctx := c.Context
	start := time.Now()
	table := c.String("table")
	exclude, _, err := trackingTable(table)
	if err != nil {
		return err
	}
	all, err := a.readSource(c)
	if err != nil {
		return err
	}
	live, err := a.connect(c)
	if err != nil {
		return err
	}
	defer live.Close()
	r, err := a.scratchRunner(c, live, all)
	if err != nil {
		return err
	}
	st, err := r.Status(ctx)
	if err != nil {
		return err
	}
	ms, err := appliedMigrations(all, st)
	if err != nil {
		return err
	}
	var tracked bool
	if err := live.Pool().QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", exclude).Scan(&tracked); err != nil {
		return fmt.Errorf("drift: look up %s: %w", table, err)
	}
	liveSnap, err := schema.Take(ctx, live.Pool(), schema.Options{Exclude: []string{exclude}})
	if err != nil {
		return fmt.Errorf("drift: %w", err)
	}

	sc, err := a.createScratch(c, "pgmig_drift_")
	if err != nil {
		return err
	}
	defer sc.drop(ctx)
	if tracked {
		// Up creates the tracking table (and its schema) even with nothing
		// to apply, as the live database has them.
		sr, err := a.scratchRunner(c, sc.db, ms)
		if err != nil {
			return err
		}
		if _, err := sr.Up(ctx, runner.UpOptions{}); err != nil {
			return fmt.Errorf("drift: build the applied migrations on %s: %w", sc.name, err)
		}
	}
	built, err := schema.Take(ctx, sc.db.Pool(), schema.Options{Exclude: []string{exclude}})
	if err != nil {
		return fmt.Errorf("drift: %w", err)
	}
	built.Label = "migrations"
	if st.Current != nil {
		built.Label = "migrations up to " + fmtVersion(*st.Current)
	}
	liveSnap.Label = "database"
	diff, objects := schema.Diff(built, liveSnap)
	a.out.drifted(st.Current, len(ms), objects, diff, time.Since(start))
	if len(objects) > 0 {
		// The verdict that the schema differs: exit 3.
		return reported(invalid(fmt.Errorf("schema drift: %s differ from what the applied migrations build", plural(len(objects), "object"))))
	}
	return nil
}

// appliedMigrations returns the migrations the tracking table records as
// applied, from the source. A history the files cannot rebuild (a changed
// or missing file, a failed row) is a validation failure.
func appliedMigrations(all []source.Migration, st runner.Status) ([]source.Migration, error) {
	byVersion := map[int64]source.Migration{}
	for _, m := range all {
		byVersion[m.Version] = m
	}
	var ms []source.Migration
	var problems []error
	for _, m := range st.Migrations {
		switch m.State {
		case runner.Applied:
			ms = append(ms, byVersion[m.Version])
		case runner.Changed:
			problems = append(problems, &runner.ChecksumMismatchError{Version: m.Version, Name: m.Name, File: m.File, Recorded: m.Recorded, Current: m.Checksum})
		case runner.Missing:
			problems = append(problems, &runner.MissingFileError{Version: m.Version, Name: m.Name})
		case runner.Failed:
			problems = append(problems, &runner.DirtyError{Version: m.Version, Name: m.Name, Statement: m.FailedStatement, Message: m.Error})
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("drift: the files cannot rebuild the applied migrations: %w", errors.Join(problems...))
	}
	return ms, nil
}
