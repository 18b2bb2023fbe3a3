package cli

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fatih/color"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/pgmig/pgmig/fleet"
	"github.com/pgmig/pgmig/source"
)

// targetResult is one target's outcome as printed.
type targetResult struct {
	Target     string          `json:"target"`
	Outcome    fleet.Outcome   `json:"outcome"`
	Code       int             `json:"code"`
	Canary     bool            `json:"canary,omitempty"`
	LockBusy   int             `json:"lock_busy,omitempty"`
	DurationMS float64         `json:"duration_ms"`
	Applied    []jsonMigration `json:"applied,omitempty"`
	Current    *source.Version `json:"current"`
	Migrations []jsonMigration `json:"migrations,omitempty"`
	Valid      *bool           `json:"valid,omitempty"`
	Error      *errorDoc       `json:"error,omitempty"`
	// applied is the APPLIED column: what this run applied (up), or what
	// the database has applied (status, validate); pending counts the
	// pending migrations, for status and validate.
	applied, pending int
}

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
			cur = fmtV(0, *r.Current)
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
		t.Append([]string{r.Target, outcome, fmt.Sprint(r.applied), fmt.Sprint(r.pending), cur, dur, msg})
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

// liveLine keeps one progress line up to date on a terminal.
type liveLine struct {
	p       *printer
	mu      sync.Mutex
	drawn   bool
	enabled bool
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

func (p *printer) progressLine() *liveLine {
	return &liveLine{p: p, enabled: !p.json && !p.quiet && p.heartbeat}
}
