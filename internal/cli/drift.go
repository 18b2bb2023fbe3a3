package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/check"
)

func (a *cliApp) driftCommand() *cli.Command {
	return &cli.Command{
		Name:  "drift",
		Usage: "compare the database's schema with what its applied migrations build; exit 3 when they differ",
		UsageText: "pgmig drift\n\n" +
			"Builds the migrations the tracking table records as applied on a scratch database,\n" +
			"pgmig_drift_<random> on the same server (the role needs CREATEDB), dropped afterwards,\n" +
			"and prints a unified diff of the two schemas: '+' lines are in the database only.\n" +
			"Data, sequence values, owners and privileges are not compared.\n\n" +
			"Examples:\n   pgmig drift --source migrations\n   pgmig drift --format json",
		Action: a.drift,
	}
}

// drift runs check.Drift on --database-url and renders the diff; drift
// found is the verdict that the schema differs, exit 3.
func (a *cliApp) drift(c *cli.Context) error {
	ms, err := a.readSource(c)
	if err != nil {
		return err
	}
	live, err := a.connect(c)
	if err != nil {
		return err
	}
	defer live.Close()
	a.out.targetLine(targetOf(live, c.String("table")))
	rep, err := check.Drift(c.Context, live.Pool(), &loaded{ms: ms}, check.DriftOptions{Runner: a.compareOptions(c)})
	if rep.Cleanup != nil {
		fmt.Fprintf(a.stderr, "warning: %v\n", rep.Cleanup)
	}
	if err != nil {
		return err
	}
	a.out.drifted(rep)
	if rep.Drifted() {
		return reported(invalid(fmt.Errorf("schema drift: %s differ from what the applied migrations build", plural(len(rep.Objects), "object"))))
	}
	return nil
}
