package cli

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/runner"
)

func (a *cliApp) validateCommand() *cli.Command {
	return &cli.Command{
		Name:   "validate",
		Usage:  "check files against the history (checksums, missing files, duplicates, order) without changing anything",
		Action: a.validate,
	}
}

func (a *cliApp) validate(c *cli.Context) error {
	if targets, ok, err := a.fleetTargets(c); err != nil || ok {
		if err != nil {
			return err
		}
		ms, err := a.readSource(c)
		if err != nil {
			return err
		}
		return a.runFleet(c, targets, ms, func(ctx context.Context, r *runner.Runner) (runner.Report, runner.Status, error) {
			st, err := r.Validate(ctx)
			return runner.Report{}, st, err
		})
	}
	s, err := a.session(c)
	if err != nil {
		return err
	}
	defer s.close()
	st, err := s.r.Validate(c.Context)
	if err != nil {
		return err
	}
	a.out.validated(st)
	return nil
}
