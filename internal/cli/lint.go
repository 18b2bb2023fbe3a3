package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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

// lintFailed is a lint that found n errors: a validation failure (exit 3),
// like a bad file. problems are the findings, one line each, for --format
// json's error document when up --lint refuses.
func lintFailed(n int, problems []string) error {
	msg := fmt.Sprintf("lint: %s in pending migrations; nothing applied", plural(n, "error"))
	if len(problems) > 0 {
		msg += "\n" + strings.Join(problems, "\n")
	}
	return invalid(errors.New(msg))
}

// lintAll lints every migration of ms with the flags' settings.
func (a *cliApp) lintAll(c *cli.Context, ms []source.Migration) lint.Result {
	return lint.Lint(ms, lint.Options{
		DDLLockTimeout: c.Duration("ddl-lock-timeout"),
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
	if n := res.Errors(); n > 0 {
		return reported(lintFailed(n, nil))
	}
	return nil
}

// lintPending runs for up --lint once the runner is built, before anything
// is applied: it lints every file (earlier ones say which tables exist) but
// judges only the migrations up would apply, so an old applied migration
// that would not pass today does not block every deploy after it.
func (a *cliApp) lintPending(c *cli.Context, s *session) error {
	kept, err := pendingFindings(c.Context, s.r, a.lintAll(c, s.ms))
	if err != nil {
		return err
	}
	n := kept.Errors()
	if a.out.json {
		if n == 0 {
			return nil // the up document follows; warnings have no place in it
		}
		var problems []string
		for _, f := range kept.Findings {
			problems = append(problems, findingLine(f))
		}
		return lintFailed(n, problems)
	}
	if !a.out.quiet || n > 0 {
		a.out.lintFindings(a.out.stderr, kept)
	}
	if n == 0 {
		return nil
	}
	red := a.out.paint(color.FgRed, color.Bold)
	fmt.Fprintf(a.out.stderr, "%s lint found %s in pending migrations; nothing applied\n", red("error:"), plural(n, "error"))
	return reported(lintFailed(n, nil))
}

// pendingFindings keeps the findings of the migrations r has pending: an
// applied migration's findings can no longer be acted on, and must not
// block every later deploy.
func pendingFindings(ctx context.Context, r *runner.Runner, res lint.Result) (lint.Result, error) {
	st, err := r.Status(ctx)
	if err != nil {
		return lint.Result{}, err
	}
	pending := map[int64]bool{}
	for _, m := range st.Migrations {
		if m.State == runner.Pending {
			pending[m.Version] = true
		}
	}
	var kept lint.Result
	for _, f := range res.Findings {
		if pending[f.Version] {
			kept.Findings = append(kept.Findings, f)
		}
	}
	for _, ig := range res.Ignored {
		if pending[ig.Version] {
			kept.Ignored = append(kept.Ignored, ig)
		}
	}
	return kept, nil
}

// lintGate fails a target whose pending migrations have error-level
// findings, for up --lint over several targets.
func lintGate(ctx context.Context, r *runner.Runner, res lint.Result) error {
	kept, err := pendingFindings(ctx, r, res)
	if err != nil {
		return err
	}
	n := kept.Errors()
	if n == 0 {
		return nil
	}
	var problems []string
	for _, f := range kept.Findings {
		if f.Level == lint.Error {
			problems = append(problems, findingLine(f))
		}
	}
	return lintFailed(n, problems)
}

func findingLine(f lint.Finding) string {
	return fmt.Sprintf("%s:%d:%d: %s[%s]: %s", f.File, f.Line, f.Column, f.Level, f.Rule, f.Message)
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
