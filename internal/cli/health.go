package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/pgdb"
)

func (a *cliApp) healthCommand() *cli.Command {
	return &cli.Command{
		Name:   "health",
		Usage:  "connect and print the server version and round-trip latency; exit 0 healthy, 1 not",
		Action: a.health,
	}
}

func (a *cliApp) health(c *cli.Context) error {
	db, err := a.connect(c)
	if err != nil {
		return err
	}
	defer db.Close()
	h := pgdb.Check(c.Context, db.Pool())
	a.out.health(h)
	if !h.Healthy {
		return reported(fmt.Errorf("unhealthy: %s", h.Error))
	}
	return nil
}
