package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/fleet"
	"github.com/pgmig/pgmig/pgdb"
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
	switch {
	case file != "":
		urls, err := readTargets(file)
		if err != nil {
			return nil, false, err
		}
		for _, u := range urls {
			targets = append(targets, fleet.Target{Name: pgdb.Redact(u), ConnString: u})
		}
	case len(a.urls) > 1:
		for _, u := range a.urls {
			targets = append(targets, fleet.Target{Name: pgdb.Redact(u), ConnString: u})
		}
	default:
		schemas, err := a.schemas(c, query)
		if err != nil {
			return nil, false, err
		}
		base := c.String("database-url")
		for _, s := range schemas {
			targets = append(targets, fleet.Target{Name: s, ConnString: base, Schema: s})
		}
	}
	if len(targets) == 0 {
		return nil, false, usagef("no targets: the list is empty")
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

// readTargets reads a targets file: one connection string per line, blank
// lines and # comments ignored.
func readTargets(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usage(fmt.Errorf("--targets: %w", err))
	}
	defer f.Close()
	var urls []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		urls = append(urls, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--targets %s: %w", path, err)
	}
	return urls, nil
}

// schemas runs --schemas-query on the database named by --database-url.
func (a *cliApp) schemas(c *cli.Context, query string) ([]string, error) {
	db, err := a.connect(c)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Pool().Query(c.Context, query)
	if err != nil {
		return nil, fmt.Errorf("--schemas-query: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("--schemas-query: want one text column of schema names: %w", err)
	}
	return names, nil
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
		res.Current = rep.Current
		if st.Migrations != nil {
			res.Current = st.Current
			res.Migrations = statusJSON(st).Migrations
			for _, m := range st.Migrations {
				if m.State == runner.Pending {
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
