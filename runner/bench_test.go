package runner_test

import (
	"context"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// BenchmarkUpTrivial applies 200 `SELECT 1` migrations to a fresh
// database an iteration: what is left beside the server's work is the
// runner's own cost a migration (bench/compare-trivial.sh times the whole
// command against psql). Each database is made outside the timer.
func BenchmarkUpTrivial(b *testing.B) {
	const n = 200
	files := fstest.MapFS{}
	for i := 1; i <= n; i++ {
		files[fmt.Sprintf("%05d_m.sql", i)] = &fstest.MapFile{Data: []byte("-- pgmig:up\nSELECT 1;\n\n-- pgmig:down\nSELECT 1;\n")}
	}
	src := source.FromFS(files)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		pool, err := pgxpool.New(ctx, pgtest.NewDB(b))
		if err != nil {
			b.Fatal(err)
		}
		r, err := runner.New(pool, src, runner.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rep, err := r.Up(ctx, runner.UpOptions{})
		b.StopTimer()
		if err != nil || len(rep.Applied) != n {
			b.Fatalf("up: %d applied, %v", len(rep.Applied), err)
		}
		pool.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/migration")
}
