// Command prof profiles pgmig's engine on one database: it runs Status, or
// Up with nothing pending, -n times on one pool and writes a CPU profile,
// so that `go tool pprof` shows where the time of `pgmig status` goes
// beside the server's. "cli" runs the whole command line in-process
// instead (cli.Run, output to io.Discard): flags, connecting, rendering.
//
//	prof -cpuprofile status.pprof -n 20 status DATABASE_URL DIR
//	prof -cpuprofile cli.pprof -n 20 cli status --format json -d DATABASE_URL -s DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/internal/cli"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

func main() {
	cpu := flag.String("cpuprofile", "", "write a CPU profile here")
	n := flag.Int("n", 10, "repetitions")
	flag.Parse()
	what, url, dir := flag.Arg(0), flag.Arg(1), flag.Arg(2)
	ctx := context.Background()
	if what == "cli" {
		runCLI(ctx, *cpu, *n, flag.Args()[1:])
		return
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		fail(err)
	}
	defer pool.Close()
	r, err := runner.New(pool, source.Dir(dir), runner.Options{})
	if err != nil {
		fail(err)
	}
	defer profile(*cpu)()
	start := time.Now()
	for i := 0; i < *n; i++ {
		switch what {
		case "status":
			_, err = r.Status(ctx)
		case "up":
			_, err = r.Up(ctx, runner.UpOptions{})
		case "source":
			_, err = source.Dir(dir).Migrations(ctx)
		default:
			err = fmt.Errorf("want status, up or source, not %q", what)
		}
		if err != nil {
			fail(err)
		}
	}
	fmt.Printf("%s: %.2f ms per call (%d calls)\n", what, float64(time.Since(start))/1e6/float64(*n), *n)
}

// runCLI runs pgmig's command line args n times in this process.
func runCLI(ctx context.Context, cpu string, n int, args []string) {
	defer profile(cpu)()
	start := time.Now()
	for i := 0; i < n; i++ {
		if code := (cli.Build{}).Run(ctx, append([]string{"pgmig"}, args...), io.Discard, io.Discard); code != 0 {
			fail(fmt.Errorf("pgmig %v: exit %d", args, code))
		}
	}
	fmt.Printf("cli %v: %.2f ms per call (%d calls)\n", args, float64(time.Since(start))/1e6/float64(n), n)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "prof:", err)
	os.Exit(1)
}

// profile starts a CPU profile into path, if set, and returns what stops it.
func profile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fail(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fail(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
