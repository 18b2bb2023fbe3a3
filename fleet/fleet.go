package fleet

import (
	"context"
	"sync"
	"time"
)

// Target is one database, or one schema of a database, to run against.
type Target struct {
	// Name identifies the target in reports: a URL with its password
	// redacted, or a schema name. Never a secret.
	Name string
	// ConnString connects to the target's database. It may hold a password
	// and must not be printed. For a schema target it is the database's
	// connection string as given: the schema is not written into it.
	ConnString string
	// Schema, when set, is the schema the command works in: its search_path
	// and the home of its tracking table. Whoever runs the target applies
	// it to the runner it makes.
	Schema string
}

// Outcome is how a target ended.
type Outcome string

const (
	OK      Outcome = "ok"
	Failed  Outcome = "failed"
	Skipped Outcome = "skipped" // not started: a canary failed, --fail-fast, or the run was cancelled
)

// Result is one target's outcome.
type Result[T any] struct {
	Target   Target
	Outcome  Outcome
	Value    T
	Err      error
	Duration time.Duration
	Canary   bool
}

// Progress counts targets as the run goes.
type Progress struct {
	Total, Done, Failed, Running int
	Elapsed                      time.Duration
}

// Options tunes Run. The zero value runs the targets one at a time, all of
// them.
type Options struct {
	// Parallel is how many targets run at once. Zero or less means 1.
	Parallel int
	// Canary runs the first Canary targets alone and first, one at a time;
	// if any fails, the rest are skipped.
	Canary int
	// FailFast stops starting targets after the first failure.
	FailFast bool
	// OnProgress, when set, is called whenever a target starts or ends.
	// Calls never overlap.
	OnProgress func(Progress)
}

// Run calls fn for every target and returns the results in the targets'
// order. fn is called from several goroutines when Parallel > 1.
func Run[T any](ctx context.Context, targets []Target, opts Options, fn func(context.Context, Target) (T, error)) []Result[T] {
	results := make([]Result[T], len(targets))
	for i, t := range targets {
		results[i] = Result[T]{Target: t, Outcome: Skipped}
	}
	start := time.Now()
	var mu sync.Mutex
	prog := Progress{Total: len(targets)}
	stop := false // no more targets start
	report := func() {
		if opts.OnProgress != nil {
			p := prog
			p.Elapsed = time.Since(start)
			opts.OnProgress(p)
		}
	}
	// begin reserves target i; it reports whether it may run.
	begin := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if stop || ctx.Err() != nil {
			return false
		}
		prog.Running++
		report()
		return true
	}
	runOne := func(i int, canary bool) bool {
		if !begin() {
			return false
		}
		t0 := time.Now()
		v, err := fn(ctx, targets[i])
		res := Result[T]{Target: targets[i], Value: v, Err: err, Duration: time.Since(t0), Canary: canary, Outcome: OK}
		if err != nil {
			res.Outcome = Failed
		}
		mu.Lock()
		defer mu.Unlock()
		results[i] = res
		prog.Running--
		prog.Done++
		if err != nil {
			prog.Failed++
			if opts.FailFast || canary {
				stop = true
			}
		}
		report()
		return err == nil
	}

	canaries := min(max(opts.Canary, 0), len(targets))
	for i := 0; i < canaries; i++ {
		if !runOne(i, true) {
			return results
		}
	}
	parallel := max(opts.Parallel, 1)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(parallel, len(targets)-canaries); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				runOne(i, false)
			}
		}()
	}
	for i := canaries; i < len(targets); i++ {
		mu.Lock()
		halted := stop || ctx.Err() != nil
		mu.Unlock()
		if halted {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}
