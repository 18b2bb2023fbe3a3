package cli

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/runner"
)

func (a *cliApp) statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show every migration with its state: applied, pending, changed, missing or failed",
		UsageText: "pgmig status [--format json]",
		Action:    a.status,
	}
}

func (a *cliApp) status(c *cli.Context) error {
	if targets, ok, err := a.fleetTargets(c); err != nil || ok {
		if err != nil {
			return err
		}
		ms, err := a.readSource(c)
		if err != nil {
			return err
		}
		return a.runFleet(c, targets, ms, func(ctx context.Context, r *runner.Runner) (runner.Report, runner.Status, error) {
			st, err := r.Status(ctx)
			return runner.Report{}, st, err
		})
	}
	s, err := a.session(c)
	if err != nil {
		return err
	}
	defer s.close()
	st, err := s.r.Status(c.Context)
	if err != nil {
		return err
	}
	a.out.status(st)
	return nil
}
