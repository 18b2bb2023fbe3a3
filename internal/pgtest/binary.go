package pgtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// built is the pgmig binary of this test process, made by Binary once.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

// Binary returns the path of a pgmig binary built from this module, for
// tests that need a real process: exit codes, environment, signals,
// concurrency. It is built once per test process, static (CGO_ENABLED=0)
// as a release is; with PGMIG_TEST_RACE_BINARY set it is built with -race
// instead (which needs cgo). A package that calls Binary removes it at the
// end with
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.RunTests(m)) }
//
// The first call builds, which takes a minute or more on a loaded machine
// (every package's tests compile at once, and each test process builds
// its own binary), so a caller with a deadline for the command calls
// Binary before it starts the clock. Binary is safe for concurrent use.
func Binary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "pgmig-bin-")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "pgmig")
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		}
		args := []string{"build", "-o", built.path}
		env := append(os.Environ(), "CGO_ENABLED=0")
		if os.Getenv("PGMIG_TEST_RACE_BINARY") != "" {
			// Off by default: a race-built binary makes every process
			// slower, and the in-process tests already run the CLI under
			// -race.
			args, env = append(args, "-race"), os.Environ()
		}
		cmd := exec.Command(goBin, append(args, "github.com/pgmig/pgmig")...)
		cmd.Env = env
		built.out, built.err = cmd.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("pgtest: build pgmig: %v\n%s", built.err, built.out)
	}
	return built.path
}

// RunTests runs m, then removes the binary Binary built, if any, and
// returns m's exit code.
func RunTests(m *testing.M) int {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	return code
}

// Connect opens a connection of the test's own to connString, closed when
// the test ends.
func Connect(t testing.TB, connString string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := connect(ctx, t, connString)
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}
