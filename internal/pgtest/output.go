package pgtest

import (
	"regexp"
	"strconv"
)

// appliedLine matches the line of pgmig's text output for one applied
// migration ("applied   003 add_index (12ms)") and captures its version.
var appliedLine = regexp.MustCompile(`(?m)^applied\s+(\d+) \S+ \(`)

// Applied returns the versions that out, pgmig's text output, says were
// applied: what tests racing two runs compare.
func Applied(out string) map[int]bool {
	set := map[int]bool{}
	for _, m := range appliedLine.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.Atoi(m[1])
		set[v] = true
	}
	return set
}
