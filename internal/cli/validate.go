package cli

import (
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
	return a.readStatus(c, (*runner.Runner).Validate, a.out.validated)
}
