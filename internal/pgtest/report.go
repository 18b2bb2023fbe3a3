package pgtest

import (
	"fmt"
	"os"
	"testing"
)

// Report logs line, the summary of a long suite (internal/stress,
// internal/cluster), and appends it to the file PGMIG_STRESS_REPORT names,
// if any: CI collects the lines from every package run without -v.
func Report(t testing.TB, line string) {
	t.Helper()
	t.Log(line)
	path := os.Getenv("PGMIG_STRESS_REPORT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("PGMIG_STRESS_REPORT: %v", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, line); err != nil {
		t.Errorf("PGMIG_STRESS_REPORT: %v", err)
	}
}
