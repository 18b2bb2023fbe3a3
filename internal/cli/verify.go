package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/check"
	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/runner"
)

func (a *cliApp) verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "check on a scratch database that every down section restores the schema its up found",
		UsageText: "pgmig verify [--dev-url URL]\n\n" +
			"Creates pgmig_verify_<random> on the server of --database-url (the role needs CREATEDB),\n" +
			"applies each migration, rolls it back and applies it again, comparing schema snapshots,\n" +
			"and drops the database whatever happens. With --dev-url it uses that database instead,\n" +
			"which must be empty, and leaves it empty.\n\n" +
			"Examples:\n   pgmig verify --source migrations\n   pgmig verify --dev-url postgres://localhost/app_dev --format json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dev-url", Usage: "an empty database (`URL`) to verify in, instead of creating a scratch one", EnvVars: []string{"PGMIG_DEV_URL"}},
		},
		Action: a.verify,
	}
}

// verify runs check.Verify (or check.VerifyIn with --dev-url) and renders
// its verdict: exit 3 when the migrations are at fault, 1 when the check
// could not be made.
func (a *cliApp) verify(c *cli.Context) error {
	ctx := c.Context
	ms, err := a.readSource(c)
	if err != nil {
		return err
	}
	opts := check.VerifyOptions{
		Runner:     a.compareOptions(c),
		OnVerified: func(v check.Verified) { a.out.verifiedStep(v) },
	}
	verifyIn := check.Verify
	dial := func() (*pgdb.DB, error) { return a.connect(c) }
	if dev := c.String("dev-url"); dev != "" {
		verifyIn = check.VerifyIn
		dial = func() (*pgdb.DB, error) { return a.dial(ctx, c, dev, "--dev-url") }
	}
	db, err := dial()
	if err != nil {
		return err
	}
	defer db.Close()
	a.out.targetLine(targetOf(db, c.String("table")))
	rep, err := verifyIn(ctx, db.Pool(), &loaded{ms: ms}, opts)
	return a.verifyResult(rep, err)
}

// verifyResult prints the report and gives err its exit code and hints.
func (a *cliApp) verifyResult(rep check.VerifyReport, err error) error {
	if rep.Cleanup != nil {
		fmt.Fprintf(a.stderr, "warning: %v\n", rep.Cleanup)
	}
	if len(rep.Leftover) > 0 {
		fmt.Fprintf(a.stderr, "warning: the --dev-url database was empty and still holds after rolling everything back: %s\n", strings.Join(rep.Leftover, ", "))
	}
	var diff *check.DifferenceError
	var notEmpty *check.NotEmptyError
	var priv *check.PrivilegeError
	switch {
	case err == nil:
		a.out.verified(rep, nil, nil)
		return nil
	case errors.As(err, &diff):
		a.out.verified(rep, diff, nil)
		return reported(invalid(err))
	case check.IsVerdict(err):
		// The migrations themselves fail on an empty database (an up or
		// down, a missing down section): a verdict on them, exit 3.
		if a.out.json {
			a.out.verified(rep, nil, err)
			return reported(invalid(err))
		}
		return invalid(err)
	case errors.As(err, &notEmpty):
		return usage(fmt.Errorf("--dev-url: %w", err))
	case errors.As(err, &priv):
		return fmt.Errorf("%w, or pass --dev-url with an empty database pgmig may use", err)
	default:
		// Connection lost, cancelled, lock not acquired, ...: not a verdict.
		return err
	}
}

// compareOptions are the runner settings for the runners of verify and
// drift, which build schemas to snapshot: their events are not printed as
// up and rollback print them, only waits, retries and failures are.
func (a *cliApp) compareOptions(c *cli.Context) runner.Options {
	return a.runnerOptions(c, runnerUse{compare: true, onEvent: func(e runner.Event) {
		if e.Kind != runner.StepFinished && e.Kind != runner.StepProgress {
			a.out.event(e)
		}
	}})
}
