//go:build unix

package stress

import (
	"os"
	"strconv"
	"testing"
)

// TestStressServerRestartPG13 runs TestStressServerRestart's trials against
// PostgreSQL 13, the oldest major pgmig supports, on a server of its own
// (port PGMIG_STRESS_PG13_PORT, default 25113): 13 has no
// pg_stat_activity.query_id, older lock and shutdown code, and its own
// crash recovery. PGMIG_STRESS_PG13_TRIALS sets the count (default 3,
// times PGMIG_STRESS_SCALE; one of each mode).
func TestStressServerRestartPG13(t *testing.T) {
	t.Parallel()
	port := 25113
	if s := os.Getenv("PGMIG_STRESS_PG13_PORT"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("PGMIG_STRESS_PG13_PORT=%q: %v", s, err)
		}
		port = n
	}
	restartTrials(t, startServerAt(t, 13, port), "server-restart-pg13", envCount(t, "PGMIG_STRESS_PG13_TRIALS", 3)*scale(t))
}
