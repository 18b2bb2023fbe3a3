// Command prof profiles pgmig's engine on one database: it runs Status, or
// Up with nothing pending, -n times on one pool and writes a CPU profile,
// so that `go tool pprof` shows where the time of `pgmig status` goes
// beside the server's.
//
//	prof -cpuprofile status.pprof -n 20 status DATABASE_URL DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

func main() {
	cpu := flag.String("cpuprofile", "", "write a CPU profile here")
	n := flag.Int("n", 10, "repetitions")
	flag.Parse()
	what, url, dir := flag.Arg(0), flag.Arg(1), flag.Arg(2)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		fail(err)
	}
	defer pool.Close()
	r, err := runner.New(pool, source.Dir(dir), runner.Options{})
	if err != nil {
		fail(err)
	}
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			fail(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}
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

func fail(err error) {
	fmt.Fprintln(os.Stderr, "prof:", err)
	os.Exit(1)
}
