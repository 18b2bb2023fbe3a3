package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
)

// PgDumpEnv names a pg_dump for the tests to use, for a server newer than
// the pg_dump on PATH.
const PgDumpEnv = "PGMIG_TEST_PG_DUMP"

var pgDump struct {
	once sync.Once
	path string
	err  error
}

// PgDump returns the path of a pg_dump that can dump the test server: one
// of the server's major version, or failing that the oldest later one
// (pg_dump refuses a server newer than itself, and its output changes
// between majors). It looks at $PGMIG_TEST_PG_DUMP, pg_dump on PATH and
// Debian's /usr/lib/postgresql/MAJOR/bin/pg_dump. ok is false when none
// fits: the throwaway servers of other majors (../shared/pg/pg-start)
// come without one.
func PgDump(t testing.TB) (path string, ok bool) {
	t.Helper()
	server := ServerVersion(t) / 10000
	pgDump.once.Do(func() {
		var cands []string
		if p := os.Getenv(PgDumpEnv); p != "" {
			cands = append(cands, p)
		}
		if p, err := exec.LookPath("pg_dump"); err == nil {
			cands = append(cands, p)
		}
		debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
		cands = append(cands, debian...)
		best, bestMajor := "", 0
		for _, c := range cands {
			major, err := pgDumpMajor(c)
			if err != nil {
				if c == os.Getenv(PgDumpEnv) {
					pgDump.err = fmt.Errorf("%s=%s: %w", PgDumpEnv, c, err)
					return
				}
				continue
			}
			if major >= server && (best == "" || major < bestMajor) {
				best, bestMajor = c, major
			}
		}
		pgDump.path = best
	})
	if pgDump.err != nil {
		t.Fatalf("pgtest: %v", pgDump.err)
	}
	return pgDump.path, pgDump.path != ""
}

// RequirePgDump returns PgDump's path, or skips t saying why there is
// none.
func RequirePgDump(t testing.TB, why string) string {
	t.Helper()
	p, ok := PgDump(t)
	if !ok {
		v := ServerVersion(t)
		t.Skipf("%s needs pg_dump %d or later (set %s to one); the test server is %d.%d and none was found", why, v/10000, PgDumpEnv, v/10000, v%10000)
	}
	return p
}

var pgDumpVersion = regexp.MustCompile(`^pg_dump \(PostgreSQL\) (\d+)`)

// pgDumpMajor runs path --version: "pg_dump (PostgreSQL) 15.20 (Debian
// 15.20-0+deb12u1)" is 15.
func pgDumpMajor(path string) (int, error) {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("%s --version: %w", path, err)
	}
	m := pgDumpVersion.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("%s --version printed %q, not pg_dump's version", path, out)
	}
	return strconv.Atoi(string(m[1]))
}
