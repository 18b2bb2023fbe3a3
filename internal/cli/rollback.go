package cli

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/runner"
)

func (a *cliApp) rollbackCommand() *cli.Command {
	return &cli.Command{
		Name:      "rollback",
		Aliases:   []string{"down"},
		Usage:     "run down sections, newest first (default: one step)",
		UsageText: "pgmig rollback [--steps N | --to VERSION | --all] [--dry-run]\n\nExamples:\n   pgmig rollback\n   pgmig rollback --to 002   # leaves 002 applied\n   pgmig rollback --all",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "steps", Usage: "roll back the newest `N` migrations"},
			&cli.StringFlag{Name: "to", Usage: "roll back everything newer than `VERSION`, leaving VERSION applied"},
			&cli.BoolFlag{Name: "all", Usage: "roll back every applied migration"},
			&cli.BoolFlag{Name: "dry-run", Usage: "show what would be rolled back, change nothing"},
		},
		Action: a.rollback,
	}
}

func (a *cliApp) rollback(c *cli.Context) error {
	opts := runner.RollbackOptions{Steps: c.Int("steps"), All: c.Bool("all"), DryRun: c.Bool("dry-run")}
	if s := c.String("to"); s != "" {
		v, err := parseVersion("to", s)
		if err != nil {
			return err
		}
		// --to 0 leaves version 0 applied, which no migration has:
		// every migration is rolled back.
		if v.IsZero() {
			opts.All = true
		}
		opts.ToVer = v
	}
	return a.reported(c, func(r *runner.Runner, ctx context.Context) (runner.Report, error) { return r.Rollback(ctx, opts) })
}
