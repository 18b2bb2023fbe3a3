package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/runner"
)

func (a *cliApp) redoCommand() *cli.Command {
	return &cli.Command{
		Name:   "redo",
		Usage:  "roll back the newest applied migration and apply it again",
		Action: a.redo,
	}
}

func (a *cliApp) redo(c *cli.Context) error {
	return a.reported(c, (*runner.Runner).Redo)
}
