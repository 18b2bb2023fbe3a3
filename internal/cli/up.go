package cli

import (
	"context"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/lint"
	"github.com/pgmig/pgmig/remote"
	"github.com/pgmig/pgmig/runner"
)

func (a *cliApp) upCommand() *cli.Command {
	return &cli.Command{
		Name:      "up",
		Usage:     "validate, then apply pending migrations in order, each in its own transaction",
		UsageText: "pgmig up [--to VERSION] [--steps N] [--dry-run]\n\nExamples:\n   pgmig up --source builtin\n   pgmig up --to 003\n   pgmig up --steps 1 --dry-run",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "stop after `VERSION`"},
			&cli.IntFlag{Name: "steps", Usage: "apply at most `N` migrations"},
			&cli.BoolFlag{Name: "dry-run", Usage: "show what would be applied, change nothing"},
			&cli.BoolFlag{Name: "single-transaction", Usage: "apply all pending migrations in one transaction, sent as one query: all or nothing (refused when one runs without a transaction)"},
			&cli.BoolFlag{Name: "rehearse", Usage: "run pending migrations in a transaction that is rolled back; report each one's duration and locks"},
			&cli.BoolFlag{Name: "lint", Usage: "lint the pending migrations first (see pgmig lint); refuse to apply anything if an error-level rule fires"},
		},
		Action: a.up,
	}
}

func (a *cliApp) up(c *cli.Context) error {
	var opts runner.UpOptions
	if s := c.String("to"); s != "" {
		v, err := parseVersion("to", s)
		if err != nil {
			return err
		}
		opts.ToVer = v
	}
	opts.Steps, opts.DryRun, opts.Rehearse = c.Int("steps"), c.Bool("dry-run"), c.Bool("rehearse")
	opts.SingleTransaction = c.Bool("single-transaction")
	if targets, ok, err := a.fleetTargets(c); err != nil || ok {
		if err != nil {
			return err
		}
		if opts.Rehearse {
			return usagef("--rehearse runs against one database at a time")
		}
		ms, err := a.readSource(c)
		if err != nil {
			return err
		}
		// One lint of the source; each target is judged by what it has pending.
		var linted *lint.Result
		if c.Bool("lint") {
			res := a.lintAll(c, ms)
			linted = &res
		}
		return a.runFleet(c, targets, ms, func(ctx context.Context, r *runner.Runner) (runner.Report, runner.Status, error) {
			if linted != nil {
				if _, err := gatePending(ctx, r, *linted); err != nil {
					return runner.Report{}, runner.Status{}, err
				}
			}
			rep, err := r.Up(ctx, opts)
			return rep, runner.Status{}, err
		})
	}
	s, err := a.session(c)
	if err != nil {
		return err
	}
	defer s.close()
	if len(s.migrations()) == 0 {
		where := c.String("source")
		if strings.Contains(where, "://") {
			where = remote.Redact(where)
		}
		a.out.noMigrations(where)
	}
	if c.Bool("lint") {
		if err := a.lintPending(c, s); err != nil {
			return err
		}
	}
	start := time.Now()
	rep, err := s.r.Up(c.Context, opts)
	if err != nil {
		return err
	}
	if opts.Rehearse {
		a.out.rehearsal(rep, time.Since(start))
		return nil
	}
	a.out.report(rep, time.Since(start))
	return nil
}
