package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fatih/color"
	"github.com/jackc/pgx/v5"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/fleet"
	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/runner"
)

// targetFlags choose many databases, or many schemas, for up, status and
// validate.
func targetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "targets", Usage: "run against each database URL of `FILE`, one per line (# comments)", EnvVars: []string{"PGMIG_TARGETS"}},
		&cli.StringFlag{Name: "schemas-query", Usage: "run against each schema the `SQL` returns (each with its own tracking table, search_path set to it)", EnvVars: []string{"PGMIG_SCHEMAS_QUERY"}},
		&cli.IntFlag{Name: "parallel", Value: 1, Usage: "run `N` targets at once", EnvVars: []string{"PGMIG_PARALLEL"}},
		&cli.IntFlag{Name: "canary", Usage: "run the first `K` targets alone and first; stop if any fails", EnvVars: []string{"PGMIG_CANARY"}},
		&cli.BoolFlag{Name: "fail-fast", Usage: "start no more targets after one fails", EnvVars: []string{"PGMIG_FAIL_FAST"}},
	}
}

// repeatedURLs takes every --database-url/-d out of args when it is given
// more than once (several targets), leaving a single one to the flag.
func repeatedURLs(args []string) (rest, urls []string) {
	var at []int
	for i := 1; i < len(args); i++ {
		if args[i] == "--" {
			break
		}
		name, inline := splitFlag(args[i])
		if !strings.HasPrefix(args[i], "-") || name != "database-url" && name != "d" {
			continue
		}
		at = append(at, i)
		if inline {
			urls = append(urls, args[i][strings.IndexByte(args[i], '=')+1:])
		} else if i+1 < len(args) {
			urls = append(urls, args[i+1])
			i++
		}
	}
	if len(at) < 2 {
		return args, nil
	}
	skip := map[int]bool{}
	for _, i := range at {
		skip[i] = true
		if !strings.Contains(args[i], "=") {
			skip[i+1] = true
		}
	}
	for i, a := range args {
		if !skip[i] {
			rest = append(rest, a)
		}
	}
	return rest, urls
}

// fleetTargets resolves the target flags; ok is false when the command
// runs against one database as usual.
func (a *cliApp) fleetTargets(c *cli.Context) (targets []fleet.Target, ok bool, err error) {
	file, query := c.String("targets"), c.String("schemas-query")
	n := 0
	for _, set := range []bool{file != "", query != "", len(a.urls) > 1} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		if c.Int("parallel") != 1 || c.Int("canary") != 0 || c.Bool("fail-fast") {
			return nil, false, usagef("--parallel, --canary and --fail-fast need several targets: --targets FILE, --schemas-query SQL or repeated --database-url")
		}
		return nil, false, nil
	case n > 1:
		return nil, false, usagef("choose one of --targets, --schemas-query and repeated --database-url")
	case c.Int("parallel") < 1:
		return nil, false, usagef("--parallel %d: want 1 or more", c.Int("parallel"))
	case c.Int("canary") < 0:
		return nil, false, usagef("--canary %d: want 0 or more", c.Int("canary"))
	}
	switch {
	case file != "":
		urls, err := readTargets(file)
		if err != nil {
			return nil, false, err
		}
		for _, u := range urls {
			targets = append(targets, fleet.Target{Name: pgdb.Redact(u), ConnString: u})
		}
	case len(a.urls) > 1:
		for _, u := range a.urls {
			targets = append(targets, fleet.Target{Name: pgdb.Redact(u), ConnString: u})
		}
	default:
		schemas, err := a.schemas(c, query)
		if err != nil {
			return nil, false, err
		}
		base := c.String("database-url")
		for _, s := range schemas {
			targets = append(targets, fleet.Target{Name: s, ConnString: base, Schema: s})
		}
	}
	if len(targets) == 0 {
		return nil, false, usagef("no targets: the list is empty")
	}
	return targets, true, nil
}

// readTargets reads a targets file: one connection string per line, blank
// lines and # comments ignored.
func readTargets(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &usageError{fmt.Errorf("--targets: %w", err)}
	}
	defer f.Close()
	var urls []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		urls = append(urls, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--targets %s: %w", path, err)
	}
	return urls, nil
}

// schemas runs --schemas-query on the database named by --database-url.
func (a *cliApp) schemas(c *cli.Context, query string) ([]string, error) {
	db, err := a.connectTo(c, c.String("database-url"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Pool().Query(c.Context, query)
	if err != nil {
		return nil, fmt.Errorf("--schemas-query: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("--schemas-query: want one text column of schema names: %w", err)
	}
	return names, nil
}

// targetResult is one target's outcome as printed.
type targetResult struct {
	Target     string          `json:"target"`
	Outcome    fleet.Outcome   `json:"outcome"`
	Code       int             `json:"code"`
	Canary     bool            `json:"canary,omitempty"`
	DurationMS float64         `json:"duration_ms"`
	Applied    []jsonMigration `json:"applied,omitempty"`
	Current    *int64          `json:"current"`
	Migrations []jsonMigration `json:"migrations,omitempty"`
	Valid      *bool           `json:"valid,omitempty"`
	Error      *errorDoc       `json:"error,omitempty"`
	// pending counts pending migrations, for status and validate.
	pending int
}

// runFleet runs op against every target and prints one result each. The
// exit code is the worst target's.
func (a *cliApp) runFleet(c *cli.Context, targets []fleet.Target, op func(context.Context, *runner.Runner) (runner.Report, runner.Status, error)) error {
	ropts, err := a.remoteOptions(c)
	if err != nil {
		return err
	}
	src, err := openSource(c.Context, c.String("source"), ropts)
	if err != nil {
		return err
	}
	migs, err := src.Migrations(c.Context)
	if err != nil {
		return err
	}
	live := a.out.progressLine()
	results := fleet.Run(c.Context, targets, fleet.Options{
		Parallel: c.Int("parallel"), Canary: c.Int("canary"), FailFast: c.Bool("fail-fast"),
		OnProgress: live.update,
	}, func(ctx context.Context, t fleet.Target) (targetResult, error) {
		res := targetResult{Target: t.Name}
		db, err := a.connectTo(c, t.ConnString)
		if err != nil {
			return res, err
		}
		defer db.Close()
		opts := a.runnerOptions(c, c.String("table"), nil)
		opts.Schema = t.Schema // search_path and tracking table
		r, err := runner.New(db.Pool(), &loaded{ms: migs}, opts)
		if err != nil {
			return res, err
		}
		rep, st, err := op(ctx, r)
		for _, s := range rep.Applied {
			res.Applied = append(res.Applied, stepJSON(s, "applied", rep.DryRun))
		}
		res.Current = rep.Current
		if st.Migrations != nil {
			res.Current = st.Current
			res.Migrations = statusJSON(st).Migrations
			for _, m := range st.Migrations {
				if m.State == runner.Pending {
					res.pending++
				}
			}
		}
		return res, err
	})
	live.done()

	worst := 0
	out := make([]targetResult, len(results))
	for i, r := range results {
		res := r.Value
		res.Target, res.Outcome, res.Canary, res.DurationMS = r.Target.Name, r.Outcome, r.Canary, ms(r.Duration)
		if r.Err != nil {
			res.Code = exitCode(&actionError{r.Err})
			d := newErrorDoc(r.Err, res.Code)
			res.Error = &d
			worst = max(worst, res.Code)
		}
		if c.Command.Name == "validate" && r.Outcome == fleet.OK {
			ok := true
			res.Valid = &ok
		}
		out[i] = res
	}
	a.out.targets(out)
	if worst > 0 {
		return &reportedError{err: &codeError{code: worst, err: fmt.Errorf("%d of %d targets failed", countFailed(results), len(results))}}
	}
	if skipped := countOutcome(results, fleet.Skipped); skipped > 0 {
		return &reportedError{err: &codeError{code: 1, err: fmt.Errorf("%d targets not run", skipped)}}
	}
	return nil
}

func countFailed(rs []fleet.Result[targetResult]) int { return countOutcome(rs, fleet.Failed) }

func countOutcome(rs []fleet.Result[targetResult], o fleet.Outcome) int {
	n := 0
	for _, r := range rs {
		if r.Outcome == o {
			n++
		}
	}
	return n
}

// codeError carries an exit code decided by the command itself, such as
// the worst of several targets'.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

// targets prints a result per target: a table, or a JSON array.
func (p *printer) targets(rs []targetResult) {
	if p.json {
		p.writeJSON(rs)
		return
	}
	if p.quiet && !anyFailed(rs) {
		return
	}
	t := tablewriter.NewTable(p.stdout, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAutoWrap(tw.WrapNone))
	t.Header("TARGET", "RESULT", "APPLIED", "PENDING", "VERSION", "TIME", "ERROR")
	counts := map[fleet.Outcome]int{}
	for _, r := range rs {
		counts[r.Outcome]++
		cur := "none"
		if r.Current != nil {
			cur = fmtVersion(*r.Current)
		}
		outcome := string(r.Outcome)
		switch r.Outcome {
		case fleet.OK:
			outcome = p.paint(color.FgGreen)(outcome)
		case fleet.Failed:
			outcome = p.paint(color.FgRed, color.Bold)(fmt.Sprintf("%s (%d)", outcome, r.Code))
		}
		if r.Canary {
			outcome += " canary"
		}
		msg := ""
		if r.Error != nil {
			msg = firstLine(r.Error.Message)
			if n := []rune(msg); len(n) > 60 {
				msg = string(n[:59]) + "…"
			}
		}
		dur := ""
		if r.Outcome != fleet.Skipped {
			dur = fmtDuration(time.Duration(r.DurationMS * float64(time.Millisecond)))
		}
		t.Append([]string{r.Target, outcome, fmt.Sprint(len(r.Applied)), fmt.Sprint(r.pending), cur, dur, msg})
	}
	t.Render()
	// The table cuts errors short; here they are whole.
	for _, r := range rs {
		if r.Error != nil {
			for _, line := range strings.Split(r.Error.Message, "\n") {
				fmt.Fprintf(p.stderr, "%s %s: %s\n", p.paint(color.FgRed, color.Bold)("error:"), r.Target, line)
			}
		}
	}
	var parts []string
	for _, o := range []fleet.Outcome{fleet.OK, fleet.Failed, fleet.Skipped} {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], o))
		}
	}
	fmt.Fprintf(p.stdout, "%s: %s\n", plural(len(rs), "target"), strings.Join(parts, ", "))
}

func anyFailed(rs []targetResult) bool {
	for _, r := range rs {
		if r.Outcome != fleet.OK {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// liveLine keeps one progress line up to date on a terminal.
type liveLine struct {
	p       *printer
	mu      sync.Mutex
	drawn   bool
	enabled bool
}

func (p *printer) progressLine() *liveLine {
	return &liveLine{p: p, enabled: !p.json && !p.quiet && p.heartbeat}
}

func (l *liveLine) update(pr fleet.Progress) {
	if !l.enabled {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.p.stderr, "\r\033[Ktargets: %d/%d done, %d failed, %d running, %s", pr.Done, pr.Total, pr.Failed, pr.Running, fmtDuration(pr.Elapsed))
	l.drawn = true
}

func (l *liveLine) done() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.drawn {
		fmt.Fprintln(l.p.stderr)
	}
}
