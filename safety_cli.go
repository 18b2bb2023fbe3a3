package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fatih/color"
	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/runner"
)

// safetyFlags are the global flags for running DDL without an outage.
func safetyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "ddl-lock-timeout", Usage: "lock_timeout (`DURATION`) for each transactional section; a section that hits it is rolled back and retried", EnvVars: []string{"PGMIG_DDL_LOCK_TIMEOUT"}},
		&cli.IntFlag{Name: "ddl-retries", Value: 5, Usage: "retry a section that hit --ddl-lock-timeout up to `N` times, with exponential backoff", EnvVars: []string{"PGMIG_DDL_RETRIES"}},
	}
}

// heartbeatInterval is how often a long statement is reported on a terminal.
const heartbeatInterval = 5 * time.Second

// retrying says why a step waits and who it waits for. It goes to stderr in
// the default output: the person deploying needs to know which session to
// look at.
func (p *printer) retrying(e runner.Event) {
	if p.json || p.quiet {
		return
	}
	yellow := p.paint(color.FgYellow, color.Bold)
	fmt.Fprintf(p.stderr, "%s %s %s hit its lock timeout (retry %d of %d in %s)\n",
		yellow("lock timeout:"), fmtVersion(e.Step.Version), e.Step.Name, e.Retry.Attempt, e.Retry.Max, fmtDuration(e.Retry.Wait))
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
	fmt.Fprintf(&b, "… %s %s running for %s", fmtVersion(e.Step.Version), e.Step.Name, fmtDuration(pr.Elapsed))
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

func onRel(rel string) string {
	if rel == "" {
		return ""
	}
	return "on " + rel
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

type jsonLock struct {
	Relation string `json:"relation"`
	Kind     string `json:"kind"`
	Mode     string `json:"mode"`
	Blocking bool   `json:"blocking"`
}

type jsonRehearsal struct {
	Version    int64      `json:"version"`
	Name       string     `json:"name"`
	DurationMS *float64   `json:"duration_ms"`
	Skipped    string     `json:"skipped,omitempty"`
	Locks      []jsonLock `json:"locks"`
}

// rehearsal prints what each rehearsed migration did.
func (p *printer) rehearsal(rep runner.Report, total time.Duration) {
	if p.json {
		doc := struct {
			Rehearsed []jsonRehearsal `json:"rehearsed"`
			Current   *int64          `json:"current"`
			DryRun    bool            `json:"dry_run"`
		}{Rehearsed: []jsonRehearsal{}, Current: rep.Current, DryRun: true}
		for _, r := range rep.Rehearsed {
			j := jsonRehearsal{Version: r.Step.Version, Name: r.Step.Name, Skipped: r.Skipped, Locks: []jsonLock{}}
			if r.Skipped == "" {
				d := ms(r.Step.Duration)
				j.DurationMS = &d
			}
			for _, l := range r.Locks {
				j.Locks = append(j.Locks, jsonLock(l))
			}
			doc.Rehearsed = append(doc.Rehearsed, j)
		}
		enc := json.NewEncoder(p.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(doc)
		return
	}
	if p.quiet {
		return
	}
	red := p.paint(color.FgRed, color.Bold)
	blocking := 0
	for _, r := range rep.Rehearsed {
		if r.Skipped != "" {
			fmt.Fprintf(p.stdout, "%s %s: not rehearsed: %s\n", fmtVersion(r.Step.Version), r.Step.Name, r.Skipped)
			continue
		}
		fmt.Fprintf(p.stdout, "%s %s (%s)\n", fmtVersion(r.Step.Version), r.Step.Name, fmtDuration(r.Step.Duration))
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

// heartbeatInterval is how often the runner should sample a running step
// for this printer: on a terminal in text mode only.
func (p *printer) heartbeatInterval() time.Duration {
	if p.json || p.quiet || !p.heartbeat {
		return 0
	}
	return heartbeatInterval
}
