package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fatih/color"
	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/lint"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

func (a *cliApp) lintCommand() *cli.Command {
	return &cli.Command{
		Name:  "lint",
		Usage: "check the migrations for statements that lock or break a live database, without connecting",
		UsageText: "pgmig lint [--source DIR] [--ddl-lock-timeout D] [--format json]\n\n" +
			"Exit 3 when an error-level rule fires (or a statement does not parse), 0 otherwise.\n" +
			"Silence a rule for one statement with a line before it:\n" +
			"   -- pgmig:lint-ignore RULE[,RULE] reason\n\nExamples:\n   pgmig lint\n   pgmig lint --source builtin --format json",
		Action: a.lint,
	}
}

// lintAll lints every migration of ms with the flags' settings.
func (a *cliApp) lintAll(c *cli.Context, ms []source.Migration) lint.Result {
	return lint.Lint(ms, lint.Options{
		DDLLockTimeout: c.Duration("ddl-lock-timeout"),
		Name:           flagOf,
		CacheDir:       lintCacheDir(),
		Logger:         a.logger,
	})
}

func (a *cliApp) lint(c *cli.Context) error {
	if c.Args().Present() {
		return usagef("lint takes no arguments; choose the files with --source")
	}
	ms, err := a.readSource(c)
	if err != nil {
		return err
	}
	res := a.lintAll(c, ms)
	a.out.lintReport(res, len(ms))
	if _, err := lint.Gate(res, lint.GateOptions{}); err != nil {
		return reported(err)
	}
	return nil
}

// lintPending runs for up --lint once the runner is built, before anything
// is applied: it lints every file (earlier ones say which tables exist) and
// lets lint.Gate judge the migrations up would apply. Error-level findings
// refuse the deploy (exit 3); warnings are shown on stderr and never do.
func (a *cliApp) lintPending(c *cli.Context, s *session) error {
	judged, err := gatePending(c.Context, s.r, a.lintAll(c, s.migrations()))
	if a.out.json {
		// Warnings have no place in the up document; a refusal is the
		// error document, with the findings under problems.
		return err
	}
	var refused *lint.GateError
	if !errors.As(err, &refused) && err != nil {
		return err
	}
	if !a.out.quiet || refused != nil {
		a.out.lintFindings(a.out.stderr, judged)
	}
	if refused == nil {
		return nil
	}
	red := a.out.paint(color.FgRed, color.Bold)
	fmt.Fprintf(a.out.stderr, "%s lint found %s in pending migrations; nothing applied\n", red("error:"), plural(len(refused.Problems), "error"))
	return reported(err)
}

// gatePending judges res for the migrations r has pending, with lint.Gate:
// an applied migration's findings can no longer be acted on, and must not
// block every later deploy. Over several targets each is judged by what it
// has pending.
func gatePending(ctx context.Context, r *runner.Runner, res lint.Result) (lint.Result, error) {
	st, err := r.Status(ctx)
	if err != nil {
		return lint.Result{}, err
	}
	// Versioned migrations by their version of any form; repeatable ones,
	// which have none, by their int64, 0, as before.
	pending, repeatables := []source.Version{}, []int64{}
	for _, m := range st.Migrations {
		switch {
		case m.State == runner.Pending && m.Repeatable:
			repeatables = []int64{0}
		case m.State == runner.Pending:
			pending = append(pending, m.Ver)
		}
	}
	return lint.Gate(res, lint.GateOptions{Versions: repeatables, Vers: pending})
}

// lintCacheDir is where lint keeps PostgreSQL's parser compiled between
// runs: pgmig/ in the user's cache directory ($XDG_CACHE_HOME, else
// ~/.cache, on Linux; ~/Library/Caches on macOS; %LocalAppData% on
// Windows). None when the user has none, as under a bare HOME-less
// service: lint then compiles the parser each run.
func lintCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "pgmig")
}
