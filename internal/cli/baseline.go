package cli

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/runner"
)

func (a *cliApp) baselineCommand() *cli.Command {
	return &cli.Command{
		Name:      "baseline",
		Usage:     "record every migration up to VERSION as applied without running it",
		UsageText: "pgmig baseline --version VERSION\n   pgmig baseline --from golang-migrate|goose|dbmate|flyway [--from-table NAME]",
		Flags: []cli.Flag{
			// Checked in the action rather than with Required: urfave/cli
			// prints the help on stdout for a missing required flag, which
			// breaks --format json.
			&cli.StringFlag{Name: "version", Usage: "the newest migration (`VERSION`) the database already has (required)"},
			&cli.StringFlag{Name: "from", Usage: "instead of --version, take over the history `TOOL` kept: golang-migrate, goose, dbmate or flyway"},
			&cli.StringFlag{Name: "from-table", Usage: "the other tool's history `TABLE`, [schema.]table (default: the tool's own, e.g. goose_db_version)"},
		},
		Action: a.baseline,
	}
}

func (a *cliApp) baseline(c *cli.Context) error {
	if c.IsSet("from") || c.IsSet("from-table") {
		return a.adopt(c)
	}
	if !c.IsSet("version") {
		return usagef("baseline needs --version VERSION, the newest migration the database already has")
	}
	v, err := parseVersion("version", c.String("version"))
	if err != nil {
		return err
	}
	return a.reported(c, func(r *runner.Runner, ctx context.Context) (runner.Report, error) { return r.BaselineVersion(ctx, v) })
}

// adopt is `baseline --from TOOL`: it records what another tool applied.
func (a *cliApp) adopt(c *cli.Context) error {
	switch {
	case c.IsSet("version"):
		return usagef("baseline takes --version or --from, not both")
	case !c.IsSet("from"):
		return usagef("--from-table needs --from TOOL (golang-migrate, goose, dbmate or flyway)")
	}
	return a.reported(c, func(r *runner.Runner, ctx context.Context) (runner.Report, error) {
		return r.Adopt(ctx, runner.Tool(c.String("from")), c.String("from-table"))
	})
}
