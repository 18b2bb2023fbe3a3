package source

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
)

// TestLintIgnoreDirective checks that "-- pgmig:lint-ignore" is accepted
// anywhere inside a section (it governs the statement after it, not the
// section) and refused where it could govern nothing.
func TestLintIgnoreDirective(t *testing.T) {
	tests := []struct {
		name    string
		content string
		wantErr string // substring of the error; empty: no error
	}{
		{"before the first statement", "-- pgmig:up\n-- pgmig:lint-ignore drop-table gone since 2024\nDROP TABLE a;\n", ""},
		{"between statements", "-- pgmig:up\nSELECT 1;\n-- pgmig:lint-ignore drop-table,drop-column obsolete\nDROP TABLE a;\n-- pgmig:down\nSELECT 1;\n-- pgmig:lint-ignore rename-table\nALTER TABLE b RENAME TO a;\n", ""},
		{"file without markers", "SELECT 1;\n-- pgmig:lint-ignore drop-table\nDROP TABLE a;\n", ""},
		{"no rule", "-- pgmig:up\nSELECT 1;\n-- pgmig:lint-ignore\nDROP TABLE a;\n", `003_x.sql:3: "-- pgmig:lint-ignore" wants the rules to silence`},
		{"empty rule in the list", "-- pgmig:up\n-- pgmig:lint-ignore drop-table, drop-column old\nDROP TABLE a;\n", `003_x.sql:2: "-- pgmig:lint-ignore drop-table,": an empty rule name`},
		{"in the header", "-- pgmig:lint-ignore drop-table\n-- pgmig:up\nDROP TABLE a;\n", `003_x.sql:1: "-- pgmig:lint-ignore drop-table" must be inside a section`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := FromFS(fstest.MapFS{"003_x.sql": {Data: []byte(tc.content)}}).Migrations(context.Background())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if !strings.Contains(ms[0].Up.SQL, "pgmig:lint-ignore") && !strings.Contains(tc.content, "pgmig:down\nSELECT 1;\n-- pgmig:lint") {
					t.Errorf("up SQL lost the directive line: %q", ms[0].Up.SQL)
				}
				if ms[0].Up.NoTransaction || ms[0].Up.LockTimeout != 0 {
					t.Errorf("lint-ignore changed the section's settings: %+v", ms[0].Up)
				}
				return
			}
			wantErr(t, err, tc.wantErr)
		})
	}
}
