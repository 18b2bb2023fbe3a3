package cli

import (
	"fmt"
	"path/filepath"
	"testing"
)

func TestUpSingleTransaction(t *testing.T) {
	t.Parallel()
	db, src := newDB(t), t.TempDir()
	for i := 1; i <= 3; i++ {
		writeFile(t, filepath.Join(src, fmt.Sprintf("%03d_t%d.sql", i, i)), fmt.Sprintf("-- pgmig:up\nCREATE TABLE t%d (id int);\n", i))
	}
	// A failing last migration takes the whole run with it.
	writeFile(t, filepath.Join(src, "004_bad.sql"), "-- pgmig:up\nSELECT nope;\n")
	r := inproc(t, on(db, src, "up", "--single-transaction")...)
	wantCode(t, r, 1)
	wantContains(t, "stderr", r.stderr, "004_bad.sql:2:8")
	c := connect(t, db)
	wantRelations(t, c, false, "t1", "t2", "t3")

	writeFile(t, filepath.Join(src, "004_bad.sql"), "-- pgmig:up\nSELECT 1;\n")
	r = inproc(t, on(db, src, "up", "--single-transaction")...)
	wantCode(t, r, 0)
	wantVersions(t, c, 1, 2, 3, 4)

	// A no-transaction section cannot join: a usage error, nothing run.
	writeFile(t, filepath.Join(src, "005_idx.sql"), "-- pgmig:no-transaction\nCREATE INDEX CONCURRENTLY t1_id ON t1 (id);\n")
	r = inproc(t, on(db, src, "up", "--single-transaction", "--format", "json")...)
	wantCode(t, r, 2)
	wantJSONError(t, r, 2)
	wantVersions(t, c, 1, 2, 3, 4)
}
