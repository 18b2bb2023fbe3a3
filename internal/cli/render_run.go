package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fatih/color"

	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// event prints a line per migration as it finishes, and says why a run waits.
func (p *printer) event(e runner.Event) {
	if e.Kind == runner.StepFinished {
		p.done = append(p.done, e.Step)
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
		fmt.Fprintf(p.stdout, "%s %s %s (%s)\n", paint(fmt.Sprintf("%-11s", verb)), fmtVer(e.Step.Version, e.Step.Ver, e.Step.Repeatable), e.Step.Name, fmtDuration(e.Step.Duration))
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
	case runner.Reconnecting:
		f := e.Failover
		in := ""
		if f.InFlight != nil {
			in = fmt.Sprintf(" during %s %s", fmtV(f.InFlight.Version, f.InFlight.Ver), f.InFlight.Name)
		}
		fmt.Fprintf(p.stderr, "%s the server went away%s (%s); waiting for a primary, then taking the lock again and re-reading the history\n",
			p.paint(color.FgYellow)("reconnecting"), in, firstLine(f.Err.Error()))
	case runner.Reconnected:
		f := e.Failover
		fmt.Fprintf(p.stderr, "%s after %s\n", p.paint(color.FgYellow)("reconnected"), fmtDuration(f.Waited))
		for _, st := range f.Lost {
			fmt.Fprintf(p.stderr, "migration %s %s was committed on the old server but is not in the new primary's history; applying it again\n", fmtV(st.Version, st.Ver), st.Name)
		}
	}
}

type jsonMigration struct {
	Version    *source.Version `json:"version"` // null for a repeatable migration
	Repeatable bool            `json:"repeatable,omitempty"`
	Name       string          `json:"name"`
	State      string          `json:"state"`
	AppliedAt  *string         `json:"applied_at"`
	DurationMS *float64        `json:"duration_ms"`
	Checksum   string          `json:"checksum"`
	File       string          `json:"file,omitempty"`
	Error      string          `json:"error,omitempty"`
}

func stepJSON(s runner.Step, state string, dryRun bool) jsonMigration {
	j := jsonMigration{Version: jsonVersion(s.Version, s.Ver, s.Repeatable), Repeatable: s.Repeatable, Name: s.Name, State: state, Checksum: s.Checksum, File: s.File}
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
			Current    *source.Version `json:"current"`
			DryRun     bool            `json:"dry_run,omitempty"`
			DurationMS float64         `json:"duration_ms"`
		}{Applied: []jsonMigration{}, RolledBack: []jsonMigration{}, Current: jsonCurrent(rep.Current, rep.CurrentVer), DryRun: rep.DryRun, DurationMS: ms(total)}
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
	if cur := jsonCurrent(rep.Current, rep.CurrentVer); cur != nil {
		now = "now at version " + fmtV(0, *cur)
	}
	bold := p.paint(color.Bold)
	switch {
	case rep.DryRun:
		for _, s := range rep.Applied {
			fmt.Fprintf(p.stdout, "would apply       %s %s%s\n", fmtVer(s.Version, s.Ver, s.Repeatable), s.Name, noTx(s))
		}
		for _, s := range rep.RolledBack {
			fmt.Fprintf(p.stdout, "would roll back   %s %s%s\n", fmtV(s.Version, s.Ver), s.Name, noTx(s))
		}
		n := len(rep.Applied) + len(rep.RolledBack)
		now = "would leave no version applied"
		if pl := jsonCurrent(rep.Planned, rep.PlannedVer); pl != nil {
			now = "would be at version " + fmtV(0, *pl)
		}
		fmt.Fprintf(p.stdout, "%s\n", bold(fmt.Sprintf("dry run: %s, nothing changed; %s", plural(n, "migration"), now)))
	case len(rep.Baselined) > 0:
		for _, s := range rep.Baselined {
			fmt.Fprintf(p.stdout, "%s %s %s\n", p.paint(color.FgGreen)("baselined  "), fmtV(s.Version, s.Ver), s.Name)
		}
		fmt.Fprintf(p.stdout, "%s\n", bold(fmt.Sprintf("baselined %s in %s; %s", plural(len(rep.Baselined), "migration"), fmtDuration(total), now)))
	case len(rep.Applied) > 0 && len(rep.RolledBack) > 0:
		fmt.Fprintf(p.stdout, "%s\n", bold(fmt.Sprintf("redid %s in %s; %s", fmtV(rep.Applied[0].Version, rep.Applied[0].Ver), fmtDuration(total), now)))
	case len(rep.Applied) > 0:
		fmt.Fprintf(p.stdout, "%s\n", bold(fmt.Sprintf("applied %s in %s; %s", plural(len(rep.Applied), "migration"), fmtDuration(total), now)))
	case len(rep.RolledBack) > 0:
		fmt.Fprintf(p.stdout, "%s\n", bold(fmt.Sprintf("rolled back %s in %s; %s", plural(len(rep.RolledBack), "migration"), fmtDuration(total), now)))
	default:
		fmt.Fprintf(p.stdout, "%s\n", bold(fmt.Sprintf("nothing to do (%s); %s", fmtDuration(total), strings.TrimPrefix(now, "now "))))
	}
}

type jsonStatus struct {
	Current    *source.Version `json:"current"`
	Migrations []jsonMigration `json:"migrations"`
}

func statusJSON(st runner.Status) jsonStatus {
	doc := jsonStatus{Current: jsonCurrent(st.Current, st.CurrentVer), Migrations: []jsonMigration{}}
	for _, m := range st.Migrations {
		j := jsonMigration{Version: jsonVersion(m.Version, m.Ver, m.Repeatable), Repeatable: m.Repeatable, Name: m.Name, State: string(m.State), Checksum: m.Checksum, File: m.File, Error: m.Error}
		if m.AppliedAt != nil {
			j.AppliedAt = rfc3339(*m.AppliedAt)
			d := ms(m.Duration)
			j.DurationMS = &d
		}
		doc.Migrations = append(doc.Migrations, j)
	}
	return doc
}

// writeStatusJSON writes doc exactly as writeJSON does, one migration at a
// time: at 10,000 migrations the document is ~2.8 MB, and encoding it whole
// before indenting it spent ~40 ms of CPU growing and copying buffers, as
// much as status reading its 10,000 files.
func (p *printer) writeStatusJSON(doc jsonStatus) {
	if len(doc.Migrations) == 0 {
		p.writeJSON(doc)
		return
	}
	// The head is writeJSON's document without its last key: the target
	// and "current", indented the same way.
	head, _ := json.Marshal(struct {
		Current *source.Version `json:"current"`
	}{doc.Current})
	var hb bytes.Buffer
	json.Indent(&hb, withTarget(head, p.target), "", "  ")
	out := make([]byte, 0, 64<<10)
	out = append(out, bytes.TrimSuffix(hb.Bytes(), []byte("\n}"))...)
	out = append(out, `,
  "migrations": [`...)
	for i, m := range doc.Migrations {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, "\n    "...)
		out = appendMigrationJSON(out, m)
		if len(out) > 60<<10 {
			p.stdout.Write(out)
			out = out[:0]
		}
	}
	out = append(out, "\n  ]\n}\n"...)
	p.stdout.Write(out)
}

func (p *printer) status(st runner.Status) {
	if p.json {
		p.writeStatusJSON(statusJSON(st))
		return
	}
	t := table{header: []string{"VERSION", "NAME", "STATE", "APPLIED AT", "DURATION"}}
	counts := map[runner.State]int{}
	states := map[runner.State]string{} // painted once each, not once a row
	for _, m := range st.Migrations {
		counts[m.State]++
		at, dur := "", ""
		if m.AppliedAt != nil {
			at = m.AppliedAt.Local().Format("2006-01-02 15:04:05")
			dur = fmtDuration(m.Duration)
		}
		state, ok := states[m.State]
		if !ok {
			state = p.state(m.State)
			states[m.State] = state
		}
		t.append(fmtVer(m.Version, m.Ver, m.Repeatable), m.Name, state, at, dur)
	}
	if !p.quiet {
		// Quiet leaves the answer, not the table: the summary line below.
		t.render(p.stdout)
	}
	cur := "none"
	if c := jsonCurrent(st.Current, st.CurrentVer); c != nil {
		cur = fmtV(0, *c)
	}
	var parts []string
	for _, s := range []runner.State{runner.Applied, runner.Pending, runner.Outdated, runner.Changed, runner.Missing, runner.Failed} {
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
			fmt.Fprintf(p.stdout, "%s %s %s: %s\n", p.paint(color.FgRed)("failed"), fmtVer(m.Version, m.Ver, m.Repeatable), m.Name, m.Error)
		}
	}
}

func (p *printer) state(s runner.State) string {
	switch s {
	case runner.Applied:
		return p.paint(color.FgGreen)(string(s))
	case runner.Pending, runner.Outdated:
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
			Version *source.Version `json:"version"`
			Name    string          `json:"name"`
			Action  string          `json:"action"`
			Old     string          `json:"old,omitempty"`
			New     string          `json:"new,omitempty"`
		}
		doc := struct {
			Changes []change `json:"changes"`
		}{Changes: []change{}}
		for _, c := range changes {
			doc.Changes = append(doc.Changes, change{jsonVersion(c.Version, c.Ver, c.Version == 0 && c.Ver.IsZero()), c.Name, string(c.Action), c.Old, c.New})
		}
		p.writeJSON(doc)
		return
	}
	if p.quiet {
		return
	}
	for _, c := range changes {
		v := fmtVer(c.Version, c.Ver, c.Version == 0 && c.Ver.IsZero()) + " " + c.Name
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

// created says which files create wrote: the first (the up file of a
// pair) under "created", all of them under "files".
func (p *printer) created(paths []string) {
	if p.json {
		p.writeJSON(struct {
			Created string   `json:"created"`
			Files   []string `json:"files"`
		}{paths[0], paths})
		return
	}
	if !p.quiet {
		for _, path := range paths {
			fmt.Fprintf(p.stdout, "created %s\n", path)
		}
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

// noMigrations says where up looked when it found no migration at all: a
// wrong --source would otherwise pass as "nothing to do".
func (p *printer) noMigrations(where string) {
	if p.quiet {
		return
	}
	fmt.Fprintf(p.stderr, "%s no migrations in %s (the --source); nothing to apply\n", p.paint(color.FgYellow, color.Bold)("warning:"), where)
}

func (p *printer) version(v, c, d string) {
	if p.json {
		p.writeJSON(map[string]string{"version": v, "commit": c, "date": d})
		return
	}
	fmt.Fprintf(p.stdout, "pgmig %s (commit %s, built %s)\n", v, c, d)
}

// retrying says why a step waits and who it waits for. It goes to stderr in
// the default output: the person deploying needs to know which session to
// look at.
func (p *printer) retrying(e runner.Event) {
	if p.json || p.quiet {
		return
	}
	yellow := p.paint(color.FgYellow, color.Bold)
	fmt.Fprintf(p.stderr, "%s %s %s hit its lock timeout (retry %d of %d in %s)\n",
		yellow("lock timeout:"), fmtVer(e.Step.Version, e.Step.Ver, e.Step.Repeatable), e.Step.Name, e.Retry.Attempt, e.Retry.Max, fmtDuration(e.Retry.Wait))
	if len(e.Retry.Blockers) == 0 {
		fmt.Fprintln(p.stderr, "  the blocking session let go before it could be identified")
	}
	for _, b := range e.Retry.Blockers {
		fmt.Fprintf(p.stderr, "  blocked by pid %d (user %q, application_name %q, %s, in transaction for %s): %s\n",
			b.PID, b.User, b.ApplicationName, b.State, fmtDuration(b.InTransaction), oneLine(b.Query))
	}
}

// progress prints a heartbeat for a long statement, on a terminal only.
func (p *printer) progress(e runner.Event) {
	if p.json || p.quiet || !p.heartbeat {
		return
	}
	pr := e.Progress
	var b strings.Builder
	fmt.Fprintf(&b, "… %s %s running for %s", fmtVer(e.Step.Version, e.Step.Ver, e.Step.Repeatable), e.Step.Name, fmtDuration(pr.Elapsed))
	if pr.Statement > 0 {
		fmt.Fprintf(&b, ", statement %d", pr.Statement)
	}
	if pr.Phase != "" {
		fmt.Fprintf(&b, ", %s %s: %s", pr.Index, onRel(pr.Relation), pr.Phase)
		if pr.Blocks > 0 {
			fmt.Fprintf(&b, " %.0f%%", 100*float64(pr.BlocksDone)/float64(pr.Blocks))
		} else if pr.Tuples > 0 {
			fmt.Fprintf(&b, " %.0f%%", 100*float64(pr.TuplesDone)/float64(pr.Tuples))
		}
	}
	if len(pr.Blockers) > 0 {
		pids := make([]string, len(pr.Blockers))
		for i, bl := range pr.Blockers {
			pids[i] = fmt.Sprint(bl.PID)
		}
		fmt.Fprintf(&b, ", waiting for a lock held by pid %s", strings.Join(pids, ", "))
	} else if pr.WaitEvent != "" {
		fmt.Fprintf(&b, ", waiting on %s", pr.WaitEvent)
	}
	fmt.Fprintln(p.stderr, b.String())
}

type jsonLock struct {
	Relation string `json:"relation"`
	Kind     string `json:"kind"`
	Mode     string `json:"mode"`
	Blocking bool   `json:"blocking"`
}

type jsonRehearsal struct {
	Version    *source.Version `json:"version"`
	Name       string          `json:"name"`
	DurationMS *float64        `json:"duration_ms"`
	Skipped    *string         `json:"skipped"` // why not rehearsed; null when it was
	Locks      []jsonLock      `json:"locks"`
}

// rehearsal prints what each rehearsed migration did.
func (p *printer) rehearsal(rep runner.Report, total time.Duration) {
	if p.json {
		doc := struct {
			Rehearsed []jsonRehearsal `json:"rehearsed"`
			Current   *source.Version `json:"current"`
			DryRun    bool            `json:"dry_run"`
		}{Rehearsed: []jsonRehearsal{}, Current: jsonCurrent(rep.Current, rep.CurrentVer), DryRun: true}
		for _, r := range rep.Rehearsed {
			// A repeatable migration's version has always read 0 here.
			j := jsonRehearsal{Version: jsonVersion(r.Step.Version, r.Step.Ver, false), Name: r.Step.Name, Locks: []jsonLock{}}
			if r.Skipped != "" {
				j.Skipped = &r.Skipped
			} else {
				d := ms(r.Step.Duration)
				j.DurationMS = &d
			}
			for _, l := range r.Locks {
				j.Locks = append(j.Locks, jsonLock(l))
			}
			doc.Rehearsed = append(doc.Rehearsed, j)
		}
		p.writeJSON(doc)
		return
	}
	if p.quiet {
		return
	}
	red := p.paint(color.FgRed, color.Bold)
	blocking := 0
	for _, r := range rep.Rehearsed {
		if r.Skipped != "" {
			fmt.Fprintf(p.stdout, "%s %s: not rehearsed: %s\n", fmtVer(r.Step.Version, r.Step.Ver, r.Step.Repeatable), r.Step.Name, r.Skipped)
			continue
		}
		fmt.Fprintf(p.stdout, "%s %s (%s)\n", fmtVer(r.Step.Version, r.Step.Ver, r.Step.Repeatable), r.Step.Name, fmtDuration(r.Step.Duration))
		for _, l := range r.Locks {
			flag := ""
			if l.Blocking {
				flag = "  " + red("blocks every read and write of a table with rows")
				blocking++
			}
			fmt.Fprintf(p.stdout, "    %-22s %s %s%s\n", l.Mode, l.Kind, l.Relation, flag)
		}
	}
	fmt.Fprintf(p.stdout, "rehearsed %s in %s and rolled back; nothing changed", plural(len(rep.Rehearsed), "migration"), fmtDuration(total))
	if blocking > 0 {
		fmt.Fprintf(p.stdout, "; %s", red(plural(blocking, "blocking lock")))
	}
	fmt.Fprintln(p.stdout)
}
