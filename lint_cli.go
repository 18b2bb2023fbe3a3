package main

import (
	"context"
	"fmt"
	"io"
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

// lintFailed is the exit code of a lint that found errors: a validation
// failure (3), like a bad file.
type lintFailed struct {
	errors int
	// problems are the findings, one line each, for --format json's
	// error document when up --lint refuses.
	problems []string
}

func (e *lintFailed) Error() string {
	msg := fmt.Sprintf("lint: %s in pending migrations; nothing applied", plural(e.errors, "error"))
	if len(e.problems) == 0 {
		return msg
	}
	return msg + "\n" + strings.Join(e.problems, "\n")
}

func (e *lintFailed) Is(target error) bool { return target == runner.ErrValidation }

// lintSource reads --source and lints every migration in it.
func (a *cliApp) lintSource(c *cli.Context) ([]source.Migration, lint.Result, error) {
	ropts, err := a.remoteOptions(c)
	if err != nil {
		return nil, lint.Result{}, err
	}
	src, err := openSource(c.Context, c.String("source"), ropts)
	if err != nil {
		return nil, lint.Result{}, err
	}
	ms, err := src.Migrations(c.Context)
	if err != nil {
		return nil, lint.Result{}, err
	}
	return ms, lint.Lint(ms, lint.Options{
		DDLLockTimeout: c.Duration("ddl-lock-timeout"),
		CacheDir:       lintCacheDir(),
		Logger:         a.logger,
	}), nil
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

func (a *cliApp) lint(c *cli.Context) error {
	if c.Args().Present() {
		return usagef("lint takes no arguments; choose the files with --source")
	}
	ms, res, err := a.lintSource(c)
	if err != nil {
		return err
	}
	a.out.lintReport(res, len(ms))
	if n := res.Errors(); n > 0 {
		return &reportedError{&lintFailed{errors: n}}
	}
	return nil
}

// lintPending runs for up --lint once the runner is built, before anything
// is applied: it lints every file (earlier ones say which tables exist) but
// judges only the migrations up would apply, so an old applied migration
// that would not pass today does not block every deploy after it.
func (a *cliApp) lintPending(c *cli.Context, r *runner.Runner) error {
	_, res, err := a.lintSource(c)
	if err != nil {
		return err
	}
	kept, err := pendingFindings(c.Context, r, res)
	if err != nil {
		return err
	}
	n := kept.Errors()
	if a.out.json {
		if n == 0 {
			return nil // the up document follows; warnings have no place in it
		}
		lf := &lintFailed{errors: n}
		for _, f := range kept.Findings {
			lf.problems = append(lf.problems, findingLine(f))
		}
		return lf
	}
	if !a.out.quiet || n > 0 {
		a.out.lintFindings(a.out.stderr, kept)
	}
	if n == 0 {
		return nil
	}
	red := a.out.paint(color.FgRed, color.Bold)
	fmt.Fprintf(a.out.stderr, "%s lint found %s in pending migrations; nothing applied\n", red("error:"), plural(n, "error"))
	return &reportedError{&lintFailed{errors: n}}
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
	lf := &lintFailed{errors: n}
	for _, f := range kept.Findings {
		if f.Level == lint.Error {
			lf.problems = append(lf.problems, findingLine(f))
		}
	}
	return lf
}

func findingLine(f lint.Finding) string {
	return fmt.Sprintf("%s:%d:%d: %s[%s]: %s", f.File, f.Line, f.Column, f.Level, f.Rule, f.Message)
}

type jsonFinding struct {
	Rule    string `json:"rule"`
	Level   string `json:"level"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
	Help    string `json:"help"`
}

type jsonIgnored struct {
	Rule   string `json:"rule"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// lintReport prints what pgmig lint found: one JSON document, or the
// findings the way a compiler prints them and a summary line.
func (p *printer) lintReport(res lint.Result, migrations int) {
	if p.json {
		doc := struct {
			Findings []jsonFinding `json:"findings"`
			Ignored  []jsonIgnored `json:"ignored"`
			Errors   int           `json:"errors"`
			Warnings int           `json:"warnings"`
		}{Findings: []jsonFinding{}, Ignored: []jsonIgnored{}, Errors: res.Errors(), Warnings: res.Warnings()}
		for _, f := range res.Findings {
			doc.Findings = append(doc.Findings, jsonFinding{f.Rule, string(f.Level), f.File, f.Line, f.Column, f.Message, f.Help})
		}
		for _, ig := range res.Ignored {
			doc.Ignored = append(doc.Ignored, jsonIgnored{ig.Rule, ig.File, ig.Line, ig.Reason})
		}
		p.writeJSON(doc)
		return
	}
	if p.quiet {
		// Errors only, still with their help.
		var errs lint.Result
		for _, f := range res.Findings {
			if f.Level == lint.Error {
				errs.Findings = append(errs.Findings, f)
			}
		}
		p.lintFindings(p.stdout, errs)
		return
	}
	p.lintFindings(p.stdout, res)
	summary := fmt.Sprintf("lint: %s checked: %s, %s, %d ignored",
		plural(migrations, "migration"), plural(res.Errors(), "error"), plural(res.Warnings(), "warning"), len(res.Ignored))
	paint := p.paint(color.FgGreen, color.Bold)
	if res.Errors() > 0 {
		paint = p.paint(color.FgRed, color.Bold)
	}
	fmt.Fprintln(p.stdout, paint(summary))
}

// lintFindings prints each finding with its help, then each ignored one
// with its reason.
func (p *printer) lintFindings(w io.Writer, res lint.Result) {
	bold, blue := p.paint(color.Bold), p.paint(color.FgBlue, color.Bold)
	for _, f := range res.Findings {
		level := p.paint(color.FgYellow, color.Bold)(string(f.Level))
		if f.Level == lint.Error {
			level = p.paint(color.FgRed, color.Bold)(string(f.Level))
		}
		fmt.Fprintf(w, "%s %s%s %s\n", bold(fmt.Sprintf("%s:%d:%d:", f.File, f.Line, f.Column)), level, bold("["+f.Rule+"]:"), f.Message)
		fmt.Fprintf(w, "  %s %s\n", blue("help:"), f.Help)
	}
	for _, ig := range res.Ignored {
		reason := ig.Reason
		if reason == "" {
			reason = "(no reason given)"
		}
		fmt.Fprintf(w, "%s:%d: ignored[%s]: %s\n", ig.File, ig.Line, ig.Rule, reason)
	}
}
