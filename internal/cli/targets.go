package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/fleet"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// fleetTargets resolves the target flags; ok is false when the command
// runs against one database as usual.
func (a *cliApp) fleetTargets(c *cli.Context) (targets []fleet.Target, ok bool, err error) {
	file, query := c.String("targets"), c.String("schemas-query")
	n := 0
	for _, set := range []bool{file != "", query != "", len(a.urls) > 1} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		if c.Int("parallel") != 1 || c.Int("canary") != 0 || c.Bool("fail-fast") || c.IsSet("shard") || c.Bool("skip-locked") {
			return nil, false, usagef("--parallel, --canary, --fail-fast, --shard and --skip-locked need several targets: --targets FILE, --schemas-query SQL or repeated --database-url")
		}
		return nil, false, nil
	case n > 1:
		return nil, false, usagef("choose one of --targets, --schemas-query and repeated --database-url")
	case c.Int("parallel") < 1:
		return nil, false, usagef("--parallel %d: want 1 or more", c.Int("parallel"))
	case c.Int("canary") < 0:
		return nil, false, usagef("--canary %d: want 0 or more", c.Int("canary"))
	}
	spec := fleet.Spec{File: file, SchemasQuery: query}
	hint := "--targets: "
	switch {
	case len(a.urls) > 1:
		spec.URLs, hint = a.urls, "--database-url: "
	case query != "":
		hint = "--schemas-query: "
		db, err := a.connect(c)
		if err != nil {
			return nil, false, err
		}
		defer db.Close()
		spec.DB, spec.ConnString = db.Pool(), c.String("database-url")
	}
	targets, err = fleet.Resolve(c.Context, spec)
	var pathErr *fs.PathError
	switch {
	case err == nil:
	case errors.Is(err, fleet.ErrSpec), errors.Is(err, fleet.ErrNoTargets), errors.As(err, &pathErr):
		return nil, false, usage(fmt.Errorf("%s%w", hint, err))
	default:
		// The server refused the schemas query, or the file could not be
		// read to its end.
		return nil, false, fmt.Errorf("%s%w", hint, err)
	}
	if spec := c.String("shard"); spec != "" {
		shard, err := fleet.ParseShard(spec)
		if err != nil {
			return nil, false, usagef("--shard: %w", err)
		}
		// An empty shard is no error: a matrix job may have nothing to do.
		targets = shard.Select(targets)
	}
	return targets, true, nil
}

// runFleet runs op against every target and prints one result each. The
// exit code is the worst target's.
func (a *cliApp) runFleet(c *cli.Context, targets []fleet.Target, migs []source.Migration, op func(context.Context, *runner.Runner) (runner.Report, runner.Status, error)) error {
	live := a.out.progressLine()
	results := fleet.Run(c.Context, targets, fleet.Options{
		Parallel: c.Int("parallel"), Canary: c.Int("canary"), FailFast: c.Bool("fail-fast"),
		SkipLocked: c.Bool("skip-locked"), LockWait: c.Duration("lock-timeout"),
		OnProgress: live.update,
	}, func(ctx context.Context, t fleet.Target) (targetResult, error) {
		res := targetResult{Target: t.Name}
		db, err := a.dial(ctx, c, t.ConnString, "--database-url")
		if err != nil {
			return res, err
		}
		defer db.Close()
		r, err := a.newRunner(c, db, migs, runnerUse{schema: t.Schema, tryLock: c.Bool("skip-locked")})
		if err != nil {
			return res, err
		}
		rep, st, err := op(ctx, r)
		for _, s := range rep.Applied {
			res.Applied = append(res.Applied, stepJSON(s, "applied", rep.DryRun))
		}
		res.Current, res.applied = jsonCurrent(rep.Current, rep.CurrentVer), len(rep.Applied)
		if st.Migrations != nil {
			res.Current = jsonCurrent(st.Current, st.CurrentVer)
			res.Migrations = statusJSON(st).Migrations
			for _, m := range st.Migrations {
				switch m.State {
				case runner.Applied, runner.Changed:
					// A changed file's migration is still applied.
					res.applied++
				case runner.Pending:
					res.pending++
				}
			}
		}
		return res, err
	})
	live.done()

	worst := 0
	out := make([]targetResult, len(results))
	for i, r := range results {
		res := r.Value
		res.Target, res.Outcome, res.Canary, res.DurationMS = r.Target.Name, r.Outcome, r.Canary, ms(r.Duration)
		res.LockBusy = r.LockBusy
		if r.Err != nil {
			res.Code = exitCode(r.Err)
			d := newErrorDoc(r.Err, res.Code)
			res.Error = &d
			worst = max(worst, res.Code)
		}
		if c.Command.Name == "validate" && r.Outcome == fleet.OK {
			ok := true
			res.Valid = &ok
		}
		out[i] = res
	}
	a.out.targets(out)
	if worst > 0 {
		return &exitError{code: worst, printed: true, err: fmt.Errorf("%d of %d targets failed", countFailed(results)+countOutcome(results, fleet.Locked), len(results))}
	}
	if skipped := countOutcome(results, fleet.Skipped); skipped > 0 {
		return &exitError{code: 1, printed: true, err: fmt.Errorf("%d targets not run", skipped)}
	}
	return nil
}

func countFailed(rs []fleet.Result[targetResult]) int { return countOutcome(rs, fleet.Failed) }

func countOutcome(rs []fleet.Result[targetResult], o fleet.Outcome) int {
	n := 0
	for _, r := range rs {
		if r.Outcome == o {
			n++
		}
	}
	return n
}

// readStatus runs a command that reads a runner.Status and changes
// nothing (status, validate): over the targets when the target flags name
// several, else on --database-url, rendered by show.
func (a *cliApp) readStatus(c *cli.Context, op func(*runner.Runner, context.Context) (runner.Status, error), show func(runner.Status)) error {
	if targets, ok, err := a.fleetTargets(c); err != nil || ok {
		if err != nil {
			return err
		}
		ms, err := a.readSource(c)
		if err != nil {
			return err
		}
		return a.runFleet(c, targets, ms, func(ctx context.Context, r *runner.Runner) (runner.Report, runner.Status, error) {
			st, err := op(r, ctx)
			return runner.Report{}, st, err
		})
	}
	return onSession(a, c, true, op, func(st runner.Status, _ time.Duration) { show(st) })
}
