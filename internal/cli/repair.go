package cli

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/runner"
)

func (a *cliApp) repairCommand() *cli.Command {
	return &cli.Command{
		Name:   "repair",
		Usage:  "set recorded checksums to the files' and remove failed rows, printing each change",
		Action: a.repair,
	}
}

func (a *cliApp) repair(c *cli.Context) error {
	return onSession(a, c, false, (*runner.Runner).Repair, func(changes []runner.RepairChange, _ time.Duration) { a.out.repaired(changes) })
}
