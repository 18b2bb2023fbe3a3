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

// TestPartitionedNotNull: NOT NULL gained by a partitioned table's column
// goes through one pgmig_nn check on the parent, which PostgreSQL
// propagates to the partitions (a second one on a partition is an error:
// it exists already), and SET NOT NULL on the parent reaches them too; a
// partition gaining NOT NULL alone gets its own. Both round trips are
// equal: the down drops NOT NULL on the parent before a partition (a
// partition's column cannot drop it while its parent's has it).
func TestPartitionedNotNull(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, desired string
		want          map[string]int // substring: times it appears in the file
	}{
		{"the parent gains NOT NULL", partitioned + `ALTER TABLE ev ALTER COLUMN v SET NOT NULL;`,
			map[string]int{"ADD CONSTRAINT pgmig_nn_v": 1, "ALTER TABLE public.ev ALTER COLUMN v SET NOT NULL": 1, "ALTER TABLE public.ev1 ALTER COLUMN v SET NOT NULL": 0}},
		{"one partition gains NOT NULL", partitioned + `ALTER TABLE ev1 ALTER COLUMN v SET NOT NULL;`,
			map[string]int{"ALTER TABLE public.ev1 ADD CONSTRAINT pgmig_nn_v": 1, "ALTER TABLE public.ev ADD CONSTRAINT": 0, "ALTER TABLE public.ev1 ALTER COLUMN v SET NOT NULL": 1}},
		{"the parent and one partition that had it", partitioned + `ALTER TABLE ev2 ALTER COLUMN v SET NOT NULL;`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			current := partitioned
			desired := tc.desired
			if tc.want == nil {
				// ev2 has NOT NULL already; the parent gains it.
				current, desired = tc.desired, tc.desired+`ALTER TABLE ev ALTER COLUMN v SET NOT NULL;`
			}
			m, err := roundTrip(t, current, desired, diff.Options{})
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			file := m.File()
			up, _, _ := strings.Cut(file, "-- pgmig:down")
			for w, n := range tc.want {
				if got := strings.Count(up, w); got != n {
					t.Errorf("the up has %q %d times, want %d", w, got, n)
				}
			}
			if t.Failed() {
				t.Logf("file:\n%s", file)
			}
		})
	}
}
