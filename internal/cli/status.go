package cli

import (
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
	return a.readStatus(c, (*runner.Runner).Status, a.out.status)
}
