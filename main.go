// Command pgmig applies PostgreSQL schema migrations. See README.md.
package main

import (
	"context"
	"os"

	"github.com/pgmig/pgmig/internal/cli"
)

// Set at release with -ldflags "-X main.version=… -X main.commit=… -X main.date=…";
// empty, the version comes from the Go toolchain's build info.
var (
	version = ""
	commit  = ""
	date    = ""
)

func main() {
	// The first SIGINT or SIGTERM cancels the run with the signal as the
	// cause (the migration in flight is rolled back, the lock released,
	// exit 130 or 143); a second one kills the process outright, and a run
	// still stopping after cli.StopGrace is left behind.
	ctx, stop := cli.SignalContext(context.Background(), os.Stderr)
	code := cli.Build{Version: version, Commit: commit, Date: date}.Run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
