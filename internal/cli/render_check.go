package cli

import (
	"fmt"
	"io"

	"github.com/fatih/color"

	"github.com/pgmig/pgmig/check"
	"github.com/pgmig/pgmig/lint"
	"github.com/pgmig/pgmig/source"
)

// verifiedMigration is a migration verify found right, as JSON shows it.
type verifiedMigration struct {
	Version *source.Version `json:"version"`
	Name    string          `json:"name"`
}

// verifiedStep prints one verified migration as it finishes.
func (p *printer) verifiedStep(v check.Verified) {
	if p.json || p.quiet {
		return
	}
	fmt.Fprintf(p.stdout, "%s %s %s (up, down, up)\n", p.paint(color.FgGreen)("verified"), fmtV(v.Version, v.Ver), v.Name)
}

// verified prints verify's result: a summary line, or what differs, or
// the JSON document.
func (p *printer) verified(rep check.VerifyReport, diff *check.DifferenceError, failure error) {
	if p.json {
		type jsonDifference struct {
			Version *source.Version `json:"version"`
			Name    string          `json:"name"`
			Step    string          `json:"step"`
			Message string          `json:"message"`
			Objects []string        `json:"objects"`
			Diff    string          `json:"diff"`
		}
		doc := struct {
			Verified   []verifiedMigration `json:"verified"`
			OK         bool                `json:"ok"`
			Difference *jsonDifference     `json:"difference"`
			Error      *errorDoc           `json:"error,omitempty"`
			DurationMS float64             `json:"duration_ms"`
		}{Verified: []verifiedMigration{}, OK: diff == nil && failure == nil, DurationMS: ms(rep.Duration)}
		for _, v := range rep.Verified {
			doc.Verified = append(doc.Verified, verifiedMigration{jsonVersion(v.Version, v.Ver, false), v.Name})
		}
		if diff != nil {
			doc.Difference = &jsonDifference{jsonVersion(diff.Version, diff.Ver, false), diff.Name, diff.Step, diff.Error(), diff.Objects, diff.Diff}
		}
		if failure != nil {
			doc.Error = errorJSON(failure, 3)
		}
		p.writeJSON(doc)
		return
	}
	if diff != nil {
		red := p.paint(color.FgRed, color.Bold)
		fmt.Fprintf(p.stderr, "%s %s\n", red("error:"), diff.Error())
		for _, o := range diff.Objects {
			fmt.Fprintf(p.stderr, "  differs: %s\n", o)
		}
		p.printDiff(p.stderr, diff.Diff)
		return
	}
	if p.quiet {
		return
	}
	fmt.Fprintf(p.stdout, "%s\n", p.paint(color.Bold)(fmt.Sprintf("verified %s in %s: every down restores the schema its up found", plural(len(rep.Verified), "migration"), fmtDuration(rep.Duration))))
}

// drifted prints drift's result.
func (p *printer) drifted(rep check.DriftReport) {
	if p.json {
		doc := struct {
			Drift      bool            `json:"drift"`
			Objects    []string        `json:"objects"`
			Diff       string          `json:"diff"`
			Current    *source.Version `json:"current"`
			DurationMS float64         `json:"duration_ms"`
		}{rep.Drifted(), rep.Objects, rep.Diff, jsonCurrent(rep.Current, rep.CurrentVer), ms(rep.Duration)}
		if doc.Objects == nil {
			doc.Objects = []string{}
		}
		p.writeJSON(doc)
		return
	}
	upTo := "no migration applied"
	if cur := jsonCurrent(rep.Current, rep.CurrentVer); cur != nil {
		upTo = fmt.Sprintf("%s applied, up to %s", plural(rep.Applied, "migration"), fmtV(0, *cur))
	}
	if !rep.Drifted() {
		if !p.quiet {
			fmt.Fprintf(p.stdout, "%s the schema is what the migrations build (%s; %s)\n", p.paint(color.FgGreen)("no drift:"), upTo, fmtDuration(rep.Duration))
		}
		return
	}
	fmt.Fprintf(p.stdout, "%s %s differ from what the migrations build (%s):\n", p.paint(color.FgRed, color.Bold)("drift:"), plural(len(rep.Objects), "object"), upTo)
	for _, o := range rep.Objects {
		fmt.Fprintf(p.stdout, "  %s\n", o)
	}
	p.printDiff(p.stdout, rep.Diff)
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
