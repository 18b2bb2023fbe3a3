package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/fatih/color"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-isatty"
	"github.com/mattn/go-runewidth"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/pgmig/pgmig/lock"
	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/runner"
)

// printer renders results: text for people (stdout for results, stderr for
// messages), or exactly one JSON document on stdout.
type printer struct {
	stdout, stderr io.Writer
	json, color    bool
	quiet          bool
	// heartbeat: stderr is a terminal, so long statements get progress lines.
	heartbeat bool
	// failed is the step of the last StepFailed event: whether it ran
	// outside a transaction decides what a failure report says was kept.
	failed *runner.Step
}

func newPrinter(stdout, stderr io.Writer, asJSON, colour, quiet bool) *printer {
	return &printer{stdout: stdout, stderr: stderr, json: asJSON, color: colour, quiet: quiet}
}

// flush sends buffered results on now, for lines that report progress.
func (p *printer) flush() {
	if f, ok := p.stdout.(interface{ Flush() error }); ok {
		f.Flush()
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func isLockTimeout(err error) bool {
	var te *lock.TimeoutError
	return errors.As(err, &te)
}

func (p *printer) paint(attrs ...color.Attribute) func(a ...any) string {
	c := color.New(attrs...)
	if p.color {
		c.EnableColor()
	} else {
		c.DisableColor()
	}
	return c.SprintFunc()
}

func fmtVersion(v int64) string { return fmt.Sprintf("%03d", v) }

func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < time.Minute:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return d.Round(100 * time.Millisecond).String()
	}
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*10) / 10
}

func (p *printer) writeJSON(v any) {
	enc := json.NewEncoder(p.stdout)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// event prints a line per migration as it finishes, and says why a run waits.
func (p *printer) event(e runner.Event) {
	if e.Kind == runner.StepFailed {
		step := e.Step
		p.failed = &step
	}
	if p.json || p.quiet {
		return
	}
	switch e.Kind {
	case runner.StepFinished:
		verb, paint := "applied", p.paint(color.FgGreen)
		if e.Step.Direction == runner.Down {
			verb, paint = "rolled back", p.paint(color.FgYellow)
		}
		fmt.Fprintf(p.stdout, "%s %s %s (%s)\n", paint(fmt.Sprintf("%-11s", verb)), fmtVersion(e.Step.Version), e.Step.Name, fmtDuration(e.Step.Duration))
		p.flush()
	case runner.StepRetrying:
		p.retrying(e)
	case runner.StepProgress:
		p.progress(e)
	case runner.LockWaiting:
		who := "another session"
		if e.Holder.PID != 0 {
			who = e.Holder.String()
		}
		fmt.Fprintf(p.stderr, "waiting for the migration lock held by %s…\n", who)
	}
}

type jsonMigration struct {
	Version    int64    `json:"version"`
	Name       string   `json:"name"`
	State      string   `json:"state"`
	AppliedAt  *string  `json:"applied_at"`
	DurationMS *float64 `json:"duration_ms"`
	Checksum   string   `json:"checksum"`
	File       string   `json:"file,omitempty"`
	Error      string   `json:"error,omitempty"`
}

func rfc3339(t time.Time) *string {
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

func stepJSON(s runner.Step, state string, dryRun bool) jsonMigration {
	j := jsonMigration{Version: s.Version, Name: s.Name, State: state, Checksum: s.Checksum, File: s.File}
	if !dryRun {
		d := ms(s.Duration)
		j.DurationMS = &d
		if s.Direction == runner.Up {
			j.AppliedAt = rfc3339(s.AppliedAt)
		}
	}
	return j
}

// report prints what up, rollback, redo or baseline did.
func (p *printer) report(rep runner.Report, total time.Duration) {
	if p.json {
		doc := struct {
			Applied    []jsonMigration `json:"applied"`
			RolledBack []jsonMigration `json:"rolled_back"`
			Baselined  []jsonMigration `json:"baselined,omitempty"`
			Current    *int64          `json:"current"`
			DryRun     bool            `json:"dry_run,omitempty"`
			DurationMS float64         `json:"duration_ms"`
		}{Applied: []jsonMigration{}, RolledBack: []jsonMigration{}, Current: rep.Current, DryRun: rep.DryRun, DurationMS: ms(total)}
		// A step's state is its state after the command: a dry run
		// changes nothing, so what it would apply is still pending.
		upState, downState := "applied", "pending"
		if rep.DryRun {
			upState, downState = "pending", "applied"
		}
		for _, s := range rep.Applied {
			doc.Applied = append(doc.Applied, stepJSON(s, upState, rep.DryRun))
		}
		for _, s := range rep.RolledBack {
			doc.RolledBack = append(doc.RolledBack, stepJSON(s, downState, rep.DryRun))
		}
		for _, s := range rep.Baselined {
			j := stepJSON(s, "applied", true)
			doc.Baselined = append(doc.Baselined, j)
		}
		p.writeJSON(doc)
		return
	}
	if p.quiet {
		return
	}
	now := "no version applied"
	if rep.Current != nil {
		now = "now at version " + fmtVersion(*rep.Current)
	}
	bold := p.paint(color.Bold)
	switch {
	case rep.DryRun:
		for _, s := range rep.Applied {
			fmt.Fprintf(p.stdout, "would apply       %s %s%s\n", fmtVersion(s.Version), s.Name, noTx(s))
		}
		for _, s := range rep.RolledBack {
			fmt.Fprintf(p.stdout, "would roll back   %s %s%s\n", fmtVersion(s.Version), s.Name, noTx(s))
		}
		n := len(rep.Applied) + len(rep.RolledBack)
		now = "would leave no version applied"
		if rep.Planned != nil {
			now = "would be at version " + fmtVersion(*rep.Planned)
		}
		fmt.Fprintf(p.stdout, "%s\n", bold(fmt.Sprintf("dry run: %s, nothing changed; %s", plural(n, "migration"), now)))
	case len(rep.Baselined) > 0:
		for _, s := range rep.Baselined {
			fmt.Fprintf(p.stdout, "%s %s %s\n", p.paint(color.FgGreen)("baselined  "), fmtVersion(s.Version), s.Name)
		}
		fmt.Fprintf(p.stdout, "%s\n", bold(fmt.Sprintf("baselined %s in %s; %s", plural(len(rep.Baselined), "migration"), fmtDuration(total), now)))
	case len(rep.Applied) > 0 && len(rep.RolledBack) > 0:
		fmt.Fprintf(p.stdout, "%s\n", bold(fmt.Sprintf("redid %s in %s; %s", fmtVersion(rep.Applied[0].Version), fmtDuration(total), now)))
	case len(rep.Applied) > 0:
		fmt.Fprintf(p.stdout, "%s\n", bold(fmt.Sprintf("applied %s in %s; %s", plural(len(rep.Applied), "migration"), fmtDuration(total), now)))
	case len(rep.RolledBack) > 0:
		fmt.Fprintf(p.stdout, "%s\n", bold(fmt.Sprintf("rolled back %s in %s; %s", plural(len(rep.RolledBack), "migration"), fmtDuration(total), now)))
	default:
		fmt.Fprintf(p.stdout, "%s\n", bold(fmt.Sprintf("nothing to do (%s); %s", fmtDuration(total), strings.TrimPrefix(now, "now "))))
	}
}

func noTx(s runner.Step) string {
	if s.NoTransaction {
		return " (no transaction)"
	}
	return ""
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

type jsonStatus struct {
	Current    *int64          `json:"current"`
	Migrations []jsonMigration `json:"migrations"`
}

func statusJSON(st runner.Status) jsonStatus {
	doc := jsonStatus{Current: st.Current, Migrations: []jsonMigration{}}
	for _, m := range st.Migrations {
		j := jsonMigration{Version: m.Version, Name: m.Name, State: string(m.State), Checksum: m.Checksum, File: m.File, Error: m.Error}
		if m.AppliedAt != nil {
			j.AppliedAt = rfc3339(*m.AppliedAt)
			d := ms(m.Duration)
			j.DurationMS = &d
		}
		doc.Migrations = append(doc.Migrations, j)
	}
	return doc
}

func (p *printer) status(st runner.Status) {
	if p.json {
		p.writeJSON(statusJSON(st))
		return
	}
	t := tablewriter.NewTable(p.stdout,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
	)
	t.Header("VERSION", "NAME", "STATE", "APPLIED AT", "DURATION")
	counts := map[runner.State]int{}
	for _, m := range st.Migrations {
		counts[m.State]++
		at, dur := "", ""
		if m.AppliedAt != nil {
			at = m.AppliedAt.Local().Format("2006-01-02 15:04:05")
			dur = fmtDuration(m.Duration)
		}
		t.Append([]string{fmtVersion(m.Version), m.Name, p.state(m.State), at, dur})
	}
	t.Render()
	cur := "none"
	if st.Current != nil {
		cur = fmtVersion(*st.Current)
	}
	var parts []string
	for _, s := range []runner.State{runner.Applied, runner.Pending, runner.Changed, runner.Missing, runner.Failed} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no migrations")
	}
	fmt.Fprintf(p.stdout, "current version: %s (%s)\n", cur, strings.Join(parts, ", "))
	for _, m := range st.Migrations {
		if m.State == runner.Failed && m.Error != "" {
			fmt.Fprintf(p.stdout, "%s %s %s: %s\n", p.paint(color.FgRed)("failed"), fmtVersion(m.Version), m.Name, m.Error)
		}
	}
}

func (p *printer) state(s runner.State) string {
	switch s {
	case runner.Applied:
		return p.paint(color.FgGreen)(string(s))
	case runner.Pending:
		return p.paint(color.FgCyan)(string(s))
	default:
		return p.paint(color.FgRed, color.Bold)(string(s))
	}
}

func (p *printer) validated(st runner.Status) {
	pending := 0
	for _, m := range st.Migrations {
		if m.State == runner.Pending {
			pending++
		}
	}
	if p.json {
		p.writeJSON(struct {
			Valid bool `json:"valid"`
			jsonStatus
		}{true, statusJSON(st)})
		return
	}
	if p.quiet {
		return
	}
	fmt.Fprintf(p.stdout, "%s %s checked, %d pending; files and history agree\n", p.paint(color.FgGreen)("valid:"), plural(len(st.Migrations), "migration"), pending)
}

func (p *printer) repaired(changes []runner.RepairChange) {
	if p.json {
		type change struct {
			Version int64  `json:"version"`
			Name    string `json:"name"`
			Action  string `json:"action"`
			Old     string `json:"old,omitempty"`
			New     string `json:"new,omitempty"`
		}
		doc := struct {
			Changes []change `json:"changes"`
		}{Changes: []change{}}
		for _, c := range changes {
			doc.Changes = append(doc.Changes, change{c.Version, c.Name, string(c.Action), c.Old, c.New})
		}
		p.writeJSON(doc)
		return
	}
	if p.quiet {
		return
	}
	for _, c := range changes {
		v := fmtVersion(c.Version) + " " + c.Name
		switch c.Action {
		case runner.RemovedFailed:
			fmt.Fprintf(p.stdout, "removed failed row %s (it said: %s)\n", v, c.Old)
		case runner.UpdatedChecksum:
			fmt.Fprintf(p.stdout, "updated checksum   %s: %s → %s\n", v, c.Old, c.New)
		case runner.UpdatedName:
			fmt.Fprintf(p.stdout, "updated name       %s: %s → %s\n", v, c.Old, c.New)
		}
	}
	if len(changes) == 0 {
		fmt.Fprintln(p.stdout, "nothing to repair: the history matches the files")
	} else {
		fmt.Fprintf(p.stdout, "repaired: %s\n", plural(len(changes), "change"))
	}
}

func (p *printer) created(path string) {
	if p.json {
		p.writeJSON(map[string]string{"created": path})
		return
	}
	if !p.quiet {
		fmt.Fprintf(p.stdout, "created %s\n", path)
	}
}

func (p *printer) health(h pgdb.Health) {
	if p.json {
		p.writeJSON(h)
		return
	}
	if h.Healthy {
		if !p.quiet {
			fmt.Fprintf(p.stdout, "%s PostgreSQL %s, round trip %s\n", p.paint(color.FgGreen)("healthy:"), h.ServerVersion, fmtDuration(h.Latency))
		}
		return
	}
	fmt.Fprintf(p.stderr, "%s %s\n", p.paint(color.FgRed, color.Bold)("unhealthy:"), h.Error)
}

func (p *printer) version(v, c, d string) {
	if p.json {
		p.writeJSON(map[string]string{"version": v, "commit": c, "date": d})
		return
	}
	fmt.Fprintf(p.stdout, "pgmig %s (commit %s, built %s)\n", v, c, d)
}

// errorDoc is the JSON form of a failure, with the fields that apply.
type errorDoc struct {
	Message   string   `json:"message"`
	Code      int      `json:"code"`
	SQLState  string   `json:"sqlstate,omitempty"`
	File      string   `json:"file,omitempty"`
	Line      int      `json:"line,omitempty"`
	Column    int      `json:"column,omitempty"`
	Statement int      `json:"statement,omitempty"`
	Version   int64    `json:"version,omitempty"`
	Direction string   `json:"direction,omitempty"`
	Detail    string   `json:"detail,omitempty"`
	Hint      string   `json:"hint,omitempty"`
	Where     string   `json:"where,omitempty"`
	Problems  []string `json:"problems,omitempty"`
}

func newErrorDoc(err error, code int) errorDoc {
	var me *runner.MigrationError
	var pe *pgconn.PgError
	d := errorDoc{Message: err.Error(), Code: code}
	if errors.As(err, &pe) {
		d.SQLState, d.Detail, d.Hint, d.Where = pe.Code, pe.Detail, pe.Hint, pe.Where
	}
	var md *runner.MissingDownError
	var cm *runner.ChecksumMismatchError
	switch {
	case errors.As(err, &me):
		d.File, d.Line, d.Column, d.Statement, d.Version = me.File, me.Line, me.Column, me.Statement, me.Version
		d.Direction = string(me.Direction)
	case errors.As(err, &md):
		d.File, d.Version = md.File, md.Version
	case errors.As(err, &cm):
		d.File, d.Version = cm.File, cm.Version
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) > 1 {
		d.Problems = lines
	}
	return d
}

// error reports a failed command: text on stderr, or the JSON error
// document on stdout.
func (p *printer) error(err error, code int) {
	var re *reportedError
	if errors.As(err, &re) {
		return
	}
	var me *runner.MigrationError
	var pe *pgconn.PgError
	errors.As(err, &me)
	errors.As(err, &pe)
	if p.json {
		p.writeJSON(struct {
			Error errorDoc `json:"error"`
		}{newErrorDoc(err, code)})
		return
	}
	red := p.paint(color.FgRed, color.Bold)
	if me == nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(p.stderr, "%s %s\n", red("error:"), line)
		}
		if code == 2 {
			fmt.Fprintln(p.stderr, "run `pgmig --help` for usage")
		}
		return
	}
	p.migrationError(me, pe)
}

// migrationError shows a failed statement the way a compiler shows a
// syntax error: the file, line and column, the line itself with a caret
// under the column, then the server's DETAIL and HINT.
func (p *printer) migrationError(me *runner.MigrationError, pe *pgconn.PgError) {
	red, blue := p.paint(color.FgRed, color.Bold), p.paint(color.FgBlue, color.Bold)
	msg := me.Err.Error()
	if pe != nil {
		msg = fmt.Sprintf("%s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	fmt.Fprintf(p.stderr, "%s %s %s %s: %s\n", red("error:"), verbOf(me.Direction), fmtVersion(me.Version), me.Name, msg)
	if me.File != "" {
		loc := me.File
		if me.Line > 0 {
			loc += fmt.Sprintf(":%d", me.Line)
			if me.Column > 0 {
				loc += fmt.Sprintf(":%d", me.Column)
			}
		}
		if me.Statement > 0 {
			loc += fmt.Sprintf(" (statement %d)", me.Statement)
		}
		fmt.Fprintf(p.stderr, "  %s %s\n", blue("-->"), loc)
	}
	if me.Line > 0 {
		num := fmt.Sprint(me.Line)
		pad := strings.Repeat(" ", len(num))
		fmt.Fprintf(p.stderr, "%s %s\n", pad, blue("|"))
		fmt.Fprintf(p.stderr, "%s %s %s\n", blue(num), blue("|"), me.SourceLine)
		if me.Column > 0 {
			fmt.Fprintf(p.stderr, "%s %s %s%s\n", pad, blue("|"), caretPad(me.SourceLine, me.Column), red("^"))
		}
	}
	if pe != nil {
		for _, kv := range [][2]string{{"detail", pe.Detail}, {"hint", pe.Hint}, {"context", pe.Where}} {
			if kv[1] != "" {
				fmt.Fprintf(p.stderr, "  %s %s: %s\n", blue("="), kv[0], kv[1])
			}
		}
	}
	switch {
	case me.NoTransaction:
		// Statements before the failed one ran outside a transaction:
		// they stay, and the history has a failed row until repair.
		fmt.Fprintln(p.stderr, "  this section ran without a transaction: the statements before the failed one were kept;\n"+
			"  fix the database by hand, then run `pgmig repair` (pgmig refuses to go on until then)")
	case me.Direction == runner.Up:
		fmt.Fprintln(p.stderr, "  nothing of this migration was kept; earlier migrations of this run stay applied")
	default:
		fmt.Fprintln(p.stderr, "  nothing of this rollback was kept; the migration is still applied")
	}
}

func verbOf(d runner.Direction) string {
	if d == runner.Down {
		return "rolling back"
	}
	return "applying"
}

// caretPad returns the blank space that puts a caret under the col'th
// character (1-based) of line, keeping tabs so the terminal aligns them
// alike, and counting wide characters twice.
func caretPad(line string, col int) string {
	var b strings.Builder
	i := 1
	for _, r := range line {
		if i >= col {
			break
		}
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteString(strings.Repeat(" ", runewidth.RuneWidth(r)))
		}
		i++
	}
	return b.String()
}
