// Command pgmig applies PostgreSQL schema migrations. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Build{Version: version, Commit: commit, Date: date}.Run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
