package diff_test

import (
	"strings"
	"testing"

	"github.com/pgmig/pgmig/diff"
	"github.com/pgmig/pgmig/internal/pgtest"
)

const partitioned = `CREATE TABLE r (id int PRIMARY KEY);
CREATE TABLE ev (at int, v int, rid int) PARTITION BY RANGE (at);
CREATE TABLE ev1 PARTITION OF ev FOR VALUES FROM (0) TO (10);
CREATE TABLE ev2 PARTITION OF ev FOR VALUES FROM (10) TO (20);
`

// TestPartitionedConstraints: a foreign key added to an existing
// partitioned table is written NOT VALID and validated after only where
// the server takes it (PostgreSQL 18; before, ADD FOREIGN KEY … NOT VALID
// on a partitioned table is an error), a check NOT VALID everywhere; the
// round trip is equal on whichever server the tests run on.
func TestPartitionedConstraints(t *testing.T) {
	t.Parallel()
	m, err := roundTrip(t, partitioned, partitioned+`ALTER TABLE ev ADD CONSTRAINT ev_rid_fkey FOREIGN KEY (rid) REFERENCES r;
ALTER TABLE ev ADD CONSTRAINT ev_v_check CHECK (v > 0);`, diff.Options{})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	file := m.File()
	want := []string{"ADD CONSTRAINT ev_v_check CHECK ((v > 0)) NOT VALID", "VALIDATE CONSTRAINT ev_v_check"}
	var notWant []string
	if pgtest.ServerVersion(t) >= 180000 {
		want = append(want, "ADD CONSTRAINT ev_rid_fkey FOREIGN KEY (rid) REFERENCES public.r(id) NOT VALID", "VALIDATE CONSTRAINT ev_rid_fkey")
	} else {
		want = append(want, "ADD CONSTRAINT ev_rid_fkey FOREIGN KEY (rid) REFERENCES public.r(id);")
		notWant = append(notWant, "VALIDATE CONSTRAINT ev_rid_fkey")
	}
	for _, w := range want {
		if !strings.Contains(file, w) {
			t.Errorf("file lacks %q", w)
		}
	}
	for _, w := range notWant {
		if strings.Contains(file, w) {
			t.Errorf("file has %q", w)
		}
	}
	if t.Failed() {
		t.Logf("file:\n%s", file)
	}
}
