package cli

import "github.com/urfave/cli/v2"

func (a *cliApp) repairCommand() *cli.Command {
	return &cli.Command{
		Name:   "repair",
		Usage:  "set recorded checksums to the files' and remove failed rows, printing each change",
		Action: a.repair,
	}
}

func (a *cliApp) repair(c *cli.Context) error {
	r, db, err := a.engine(c)
	if err != nil {
		return err
	}
	defer db.Close()
	changes, err := r.Repair(c.Context)
	if err != nil {
		return err
	}
	a.out.repaired(changes)
	return nil
}
