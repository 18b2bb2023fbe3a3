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
		if exitCode(err) != 1 {
			return err // a bad URL or flag is a usage error, not ill health
		}
		// A server that cannot be reached is the unhealthy answer health
		// exists to give: its own document, not the generic error.
		h := pgdb.Health{Status: "unavailable", Error: err.Error()}
		a.out.health(h)
		return reported(fmt.Errorf("unhealthy: %w", err))
	}
	defer db.Close()
	a.out.targetLine(targetOf(db, c.String("table")))
	h := pgdb.Check(c.Context, db.Pool())
	a.out.health(h)
	if !h.Healthy {
		return reported(fmt.Errorf("unhealthy: %s", h.Error))
	}
	return nil
}
