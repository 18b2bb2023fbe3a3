package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/pgmig/pgmig/runner"
)

// The status document written a migration at a time is byte for byte the
// one writeJSON writes, escaping and nulls included.
func TestWriteStatusJSONMatchesEncoder(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 3, 11, 0, 0, 123456000, time.UTC)
	cur := int64(3)
	docs := map[string]runner.Status{
		"empty": {},
		"several": {Current: &cur, Migrations: []runner.MigrationStatus{
			{Version: 1, Name: "a <b> & \"c\"", State: runner.Applied, AppliedAt: &at, Duration: 1500 * time.Microsecond, Checksum: "ab", File: "001_a.up.sql"},
			{Version: 3, Name: "ünï", State: runner.Changed, AppliedAt: &at, File: "003_u.sql", Error: "line\nbreak"},
			{Version: 4, Name: "p", State: runner.Pending, File: "004_p.sql"},
		}},
	}
	for name, st := range docs {
		for _, target := range []*jsonTarget{nil, {Host: "db<1>", Port: 5432, Database: "app", Table: "public.pgmig_migrations"}} {
			var want, got bytes.Buffer
			pw, pg := newPrinter(&want, nil, true, false, false), newPrinter(&got, nil, true, false, false)
			pw.target, pg.target = target, target
			pw.writeJSON(statusJSON(st))
			pg.writeStatusJSON(statusJSON(st))
			if got.String() != want.String() {
				t.Errorf("%s, target %v: writeStatusJSON wrote\n%s\nwant\n%s", name, target, got.String(), want.String())
			}
		}
	}
}
