package fleet

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pgmig/pgmig/internal/wait"
	"github.com/pgmig/pgmig/lock"
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
	// Locked: with Options.SkipLocked, another run held the target's lock
	// for longer than Options.LockWait; Err is that run's *lock.TimeoutError.
	Locked Outcome = "locked"
)

// Result is one target's outcome.
type Result[T any] struct {
	Target   Target
	Outcome  Outcome
	Value    T
	Err      error
	Duration time.Duration
	Canary   bool
	// LockBusy counts the tries (Options.SkipLocked) that found the
	// target's lock held by another run. A target with LockBusy > 0 and
	// Outcome OK was most likely migrated by that run: this one found it
	// free later, and whatever was left to do.
	LockBusy int
}

// Progress counts targets as the run goes.
type Progress struct {
	Total, Done, Failed, Running int
	// Waiting counts the targets put aside because another run holds their
	// lock (Options.SkipLocked), to be tried again.
	Waiting int
	Elapsed time.Duration
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

	// SkipLocked lets several processes drain one targets list together,
	// with the databases' own locks as the only coordination. fn must try
	// the target's lock once rather than wait for it (for a runner:
	// runner.Options.LockTimeout < 0) and return the *lock.TimeoutError it
	// gets when another run holds it; such a target is put aside, the next
	// one runs, and it is tried again later, with a backoff. Once free it
	// runs like any other: after another run finished it, it has nothing
	// left to do. A canary found locked is waited for before anything else
	// starts.
	SkipLocked bool
	// LockWait bounds how long, with SkipLocked, a target may stay locked
	// by other runs from the first try that found it so; after that it is
	// reported Locked. Zero means lock.DefaultTimeout (5 minutes).
	LockWait time.Duration
}

// Busy backoff: the first retry of a locked target comes after
// busyInitial, each later one after twice the wait before, up to busyMax.
const (
	busyInitial = 100 * time.Millisecond
	busyMax     = 2 * time.Second
)

// Run calls fn for every target and returns the results in the targets'
// order. fn is called from several goroutines when Parallel > 1.
func Run[T any](ctx context.Context, targets []Target, opts Options, fn func(context.Context, Target) (T, error)) []Result[T] {
	results := make([]Result[T], len(targets))
	for i, t := range targets {
		results[i] = Result[T]{Target: t, Outcome: Skipped}
	}
	lockWait := opts.LockWait
	if lockWait <= 0 {
		lockWait = lock.DefaultTimeout
	}
	start := time.Now()
	var mu sync.Mutex
	prog := Progress{Total: len(targets)}
	stop := false // no more targets start
	// busy: targets put aside, with when each was first found locked and
	// when it is due again.
	type aside struct {
		since, due time.Time
		wait       time.Duration
	}
	busy := map[int]*aside{}
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
	// runOne runs target i. It returns whether the target succeeded, and,
	// when the target was found locked and put aside, the wait before it is
	// due again (then ok is false and the target is not done).
	runOne := func(i int, canary bool) (ok bool, again time.Duration) {
		if !begin() {
			return false, 0
		}
		t0 := time.Now()
		v, err := fn(ctx, targets[i])
		res := Result[T]{Target: targets[i], Value: v, Err: err, Duration: time.Since(t0), Canary: canary, Outcome: OK, LockBusy: results[i].LockBusy}
		var te *lock.TimeoutError
		locked := opts.SkipLocked && errors.As(err, &te) && ctx.Err() == nil
		mu.Lock()
		defer mu.Unlock()
		prog.Running--
		if locked {
			res.LockBusy++
			a := busy[i]
			if a == nil {
				a = &aside{since: t0, wait: busyInitial}
				busy[i] = a
				prog.Waiting++
			} else {
				a.wait = min(2*a.wait, busyMax)
			}
			if time.Since(a.since) < lockWait {
				results[i].LockBusy = res.LockBusy
				a.due = time.Now().Add(a.wait)
				report()
				return false, a.wait
			}
			res.Outcome = Locked
		}
		if busy[i] != nil {
			delete(busy, i)
			prog.Waiting--
		}
		if err != nil && !locked {
			res.Outcome = Failed
		}
		results[i] = res
		prog.Done++
		if res.Outcome == Failed {
			prog.Failed++
			if opts.FailFast || canary {
				stop = true
			}
		}
		report()
		return res.Outcome == OK, 0
	}

	canaries := min(max(opts.Canary, 0), len(targets))
	for i := 0; i < canaries; i++ {
		for {
			ok, again := runOne(i, true)
			if again == 0 {
				if !ok {
					return results
				}
				break
			}
			// A canary decides whether the rest runs: wait for it.
			if wait.Sleep(ctx, again) != nil {
				return results
			}
		}
	}

	// next hands a worker the next target: the first not yet started, else
	// the put-aside target due first. pause > 0 says to come back then; ok
	// false that nothing is left for this worker.
	pending := canaries
	next := func() (i int, pause time.Duration, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		if stop || ctx.Err() != nil {
			return 0, 0, false
		}
		if pending < len(targets) {
			pending++
			return pending - 1, 0, true
		}
		first := -1
		for j, a := range busy {
			if a.due.IsZero() {
				continue // being tried right now by another worker
			}
			if first < 0 || a.due.Before(busy[first].due) {
				first = j
			}
		}
		if first < 0 {
			if len(busy) > 0 {
				// Every put-aside target is being tried: one may be put
				// aside again, so look again shortly.
				return 0, busyInitial, true
			}
			return 0, 0, false
		}
		if w := time.Until(busy[first].due); w > 0 {
			return 0, w, true
		}
		busy[first].due = time.Time{}
		return first, 0, true
	}
	parallel := max(opts.Parallel, 1)
	var wg sync.WaitGroup
	for w := 0; w < min(parallel, len(targets)-canaries); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i, pause, ok := next()
				switch {
				case !ok:
					return
				case pause > 0:
					if wait.Sleep(ctx, pause) != nil {
						return
					}
				default:
					runOne(i, false)
				}
			}
		}()
	}
	wg.Wait()
	return results
}
