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
	r, db, err := a.engine(c)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	rep, err := r.Redo(c.Context)
	if err != nil {
		return err
	}
	a.out.report(rep, time.Since(start))
	return nil
}
