//go:build unix

package stress

import (
	"testing"

	"github.com/pgmig/pgmig/internal/cluster"
)

// TestStressServerRestartPG13 runs TestStressServerRestart's trials against
// PostgreSQL 13, the oldest major pgmig supports, on a server of its own
// (port PGMIG_STRESS_PG13_PORT, default 25113): 13 has no
// pg_stat_activity.query_id, older lock and shutdown code, and its own
// crash recovery. PGMIG_STRESS_PG13_TRIALS sets the count (default 3,
// times PGMIG_STRESS_SCALE; one of each mode).
func TestStressServerRestartPG13(t *testing.T) {
	t.Parallel()
	restartTrials(t, cluster.Start(t, 13, envCount(t, "PGMIG_STRESS_PG13_PORT", 25113)), "server-restart-pg13", envCount(t, "PGMIG_STRESS_PG13_TRIALS", 3)*scale(t))
}
