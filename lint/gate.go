package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pgmig/pgmig/source"
)

// String formats the finding the way a compiler reports one:
// "002_email.sql:6:1: error[index-not-concurrent]: CREATE INDEX …".
func (f Finding) String() string {
	return fmt.Sprintf("%s:%d:%d: %s[%s]: %s", f.File, f.Line, f.Column, f.Level, f.Rule, f.Message)
}

// GateOptions choose what Gate judges. The zero value judges every
// finding.
type GateOptions struct {
	// Versions, when not nil, limits the gate to the findings of these
	// migrations. A deploy passes the ones it has pending: an applied
	// migration's findings can no longer be acted on, and must not block
	// every later deploy. An empty, non-nil slice judges nothing.
	Versions []int64
	// Vers, when not nil, limits the gate by versions of any form as
	// Versions does, Flyway's dotted ones included (whose int64 is 0 for
	// them all): a finding with a Ver is judged when Vers holds that
	// version; one without (a repeatable migration's, version 0) when
	// Versions holds its int64.
	Vers []source.Version
}

// judges tells whether the gate judges the findings of the migration of
// version n (v as its file spells it).
func (o GateOptions) judges(n int64, v source.Version) bool {
	if o.Vers == nil || v.IsZero() {
		return slices.Contains(o.Versions, n)
	}
	return slices.ContainsFunc(o.Vers, func(w source.Version) bool { return w.Compare(v) == 0 })
}

// GateError is the gate refusing. Problems are the error-level findings
// among those judged, in file and line order; a caller renders each as it
// likes (Finding.String, or an object per finding in JSON).
type GateError struct {
	Problems []Finding
}

func (e *GateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lint found %d error", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	for _, f := range e.Problems {
		b.WriteString("\n")
		b.WriteString(f.String())
	}
	return b.String()
}

// Gate judges res as a deploy does: it fails, with a *GateError listing
// them, when any judged finding is error-level (a parse error included).
// Warnings never fail the gate: they are risks a reviewer may accept, the
// same rule by which a lint of the files passes with warnings.
//
// It returns the judged part of res (the findings and ignores of the
// migrations in opts.Versions, or all of res), for the caller to show
// warnings and silenced findings alongside.
func Gate(res Result, opts GateOptions) (Result, error) {
	judged := res
	if opts.Versions != nil || opts.Vers != nil {
		judged = Result{}
		for _, f := range res.Findings {
			if opts.judges(f.Version, f.Ver) {
				judged.Findings = append(judged.Findings, f)
			}
		}
		for _, ig := range res.Ignored {
			if opts.judges(ig.Version, ig.Ver) {
				judged.Ignored = append(judged.Ignored, ig)
			}
		}
	}
	var problems []Finding
	for _, f := range judged.Findings {
		if f.Level == Error {
			problems = append(problems, f)
		}
	}
	if len(problems) > 0 {
		return judged, &GateError{Problems: problems}
	}
	return judged, nil
}
