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
	s, err := a.session(c)
	if err != nil {
		return err
	}
	defer s.close()
	changes, err := s.r.Repair(c.Context)
	if err != nil {
		return err
	}
	a.out.repaired(changes)
	return nil
}
