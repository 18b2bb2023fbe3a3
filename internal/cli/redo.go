package cli

import (
	"time"

	"github.com/urfave/cli/v2"
)

func (a *cliApp) redoCommand() *cli.Command {
	return &cli.Command{
		Name:   "redo",
		Usage:  "roll back the newest applied migration and apply it again",
		Action: a.redo,
	}
}

func (a *cliApp) redo(c *cli.Context) error {
	s, err := a.session(c)
	if err != nil {
		return err
	}
	defer s.close()
	start := time.Now()
	rep, err := s.r.Redo(c.Context)
	if err != nil {
		return err
	}
	a.out.report(rep, time.Since(start))
	return nil
}
