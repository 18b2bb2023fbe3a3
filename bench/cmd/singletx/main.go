// Command singletx applies a directory's pending migrations in one
// transaction through pgmig's engine (runner.UpOptions.SingleTransaction),
// for the --single-transaction row while the CLI has no such flag.
//
//	singletx DATABASE_URL DIR
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

func main() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer pool.Close()
	r, err := runner.New(pool, source.Dir(os.Args[2]), runner.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	rep, err := r.Up(ctx, runner.UpOptions{SingleTransaction: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(len(rep.Applied))
}
