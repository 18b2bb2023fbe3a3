package lint

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgmig/pgmig/source"
)

func TestGate(t *testing.T) {
	ms := load(t, map[string]string{
		"001_users.sql": up("-- pgmig:lock-timeout 5s\nCREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text);\n"),
		"002_email.sql": up("-- pgmig:lock-timeout 5s\nCREATE INDEX users_email ON users (email);\n"),
		"003_drop.sql": up("-- pgmig:lock-timeout 5s\n-- pgmig:lint-ignore drop-column unused since v3\nALTER TABLE users DROP COLUMN email;\n" +
			"ALTER TABLE users RENAME TO members;\n"),
	})
	res := Lint(ms, Options{})
	tests := []struct {
		name     string
		versions []int64
		problems []string // rule of each problem
		judged   int      // findings judged
		ignored  int
	}{
		{"every migration", nil, []string{RuleIndexNotConcurrent}, 2, 1},
		{"the error's migration pending", []int64{2, 3}, []string{RuleIndexNotConcurrent}, 2, 1},
		{"warnings only pending", []int64{3}, nil, 1, 1},
		{"a clean migration pending", []int64{1}, nil, 0, 0},
		{"nothing pending", []int64{}, nil, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			judged, err := Gate(res, GateOptions{Versions: tc.versions})
			if len(judged.Findings) != tc.judged || len(judged.Ignored) != tc.ignored {
				t.Errorf("judged %d findings, %d ignored; want %d, %d:\n%s", len(judged.Findings), len(judged.Ignored), tc.judged, tc.ignored, format(judged.Findings))
			}
			var ge *GateError
			if tc.problems == nil {
				if err != nil {
					t.Fatalf("gate refused: %v", err)
				}
				return
			}
			if !errors.As(err, &ge) || len(ge.Problems) != len(tc.problems) {
				t.Fatalf("got %v, want problems %q", err, tc.problems)
			}
			for i, p := range ge.Problems {
				if p.Rule != tc.problems[i] || p.Level != Error || p.File != "002_email.sql" || p.Line != 3 || p.Column != 1 {
					t.Errorf("problem %d: %+v", i, p)
				}
			}
			want := "lint found 1 error\n002_email.sql:3:1: error[index-not-concurrent]: "
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("message %q, want it to begin %q", err, want)
			}
		})
	}
}

func TestGateCountsParseErrors(t *testing.T) {
	res := Lint(load(t, map[string]string{"001_bad.sql": up("CREATE TABEL t (id int);\n")}), Options{})
	_, err := Gate(res, GateOptions{})
	var ge *GateError
	if !errors.As(err, &ge) || len(ge.Problems) != 1 || ge.Problems[0].Rule != RuleParseError {
		t.Errorf("got %v, want the parse error as the one problem", err)
	}
}

// TestGateByDottedVersion: Flyway's dotted versions all have int64 0, so
// the gate tells pending migrations apart by their version of any form.
func TestGateByDottedVersion(t *testing.T) {
	ms, err := source.FromFSWith(fstest.MapFS{
		"V1__users.sql":   {Data: []byte("-- pgmig:lock-timeout 5s\nCREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text);\n")},
		"V1.1__email.sql": {Data: []byte("-- pgmig:lock-timeout 5s\nCREATE INDEX users_email ON users (email);\n")},
		"V1.2__name.sql":  {Data: []byte("-- pgmig:lock-timeout 5s\nALTER TABLE users ADD COLUMN name text;\n")},
	}, source.Options{FlywayVersions: true}).Migrations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res := Lint(ms, Options{})
	v := func(s string) source.Version {
		ver, err := source.ParseVersion(s)
		if err != nil {
			t.Fatal(err)
		}
		return ver
	}
	if _, err := Gate(res, GateOptions{Vers: []source.Version{v("1.2")}}); err != nil {
		t.Errorf("1.2 pending: %v, want the applied 1.1's index not judged", err)
	}
	var ge *GateError
	if _, err := Gate(res, GateOptions{Vers: []source.Version{v("1.01"), v("1.2")}}); !errors.As(err, &ge) || ge.Problems[0].Ver.String() != "1.1" {
		t.Errorf("1.1 pending: %v, want its index refused", err)
	}
}
