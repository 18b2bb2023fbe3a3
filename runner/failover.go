package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/lock"
	"github.com/pgmig/pgmig/pgdb"
)

// maxReconnects bounds how often one Up takes up again after losing its
// server, so that a cluster flapping between primaries cannot keep a run
// going for ever; each outage is bounded by Options.ReconnectTimeout.
const maxReconnects = 5

// Failover describes a run that lost its server and took up again, in
// Reconnecting and Reconnected events.
type Failover struct {
	Attempt int   // 1 for the run's first reconnection
	Err     error // what broke the run
	// InFlight is the step that was running when the server went, if any.
	InFlight *Step
	// Waited (Reconnected only) is the time from the loss until a server
	// accepted a read-write connection again.
	Waited time.Duration
	// Lost (Reconnected only) lists the steps this run had applied that
	// the history read after reconnecting does not hold: committed on a
	// server whose last transactions never reached the one that took over.
	// Nothing of them is on the new primary; they are pending again, and
	// this run applies them again.
	Lost []Step
}

// ReconnectError reports an Up that lost its server and found no server
// accepting a read-write connection again within Options.ReconnectTimeout,
// or lost it more often than a run allows. Err is the last error seen.
type ReconnectError struct {
	Attempts int
	Waited   time.Duration
	Cause    error // what broke the run
	Err      error
}

func (e *ReconnectError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("connection to the server lost %d times in one run; giving up: %v", e.Attempts, e.Cause)
	}
	return fmt.Sprintf("connection to the server lost (%v); no server accepted a read-write connection within %s: %v",
		e.Cause, e.Waited.Round(time.Millisecond), e.Err)
}

// Unwrap gives both errors, so that errors.Is finds the cause and, for a
// run cancelled while it waited, context.Canceled.
func (e *ReconnectError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Cause}
	}
	return []error{e.Cause, e.Err}
}

// resume carries what earlier attempts of one Up did into the next one.
type resume struct {
	r       *Runner
	steps   int    // the caller's UpOptions.Steps
	again   bool   // an attempt after a reconnection
	applied []Step // applied by earlier attempts, in order
	event   Failover
}

// Up validates, then applies pending migrations in version order, each in
// its own transaction together with its history row, stopping at the first
// failure. Nothing pending is an empty Report, not an error.
//
// With Options.ReconnectTimeout set, an Up whose server goes away (the
// connection breaks, the server shuts down, or a statement finds it read
// only, as after a failover) waits for a server to accept a read-write
// connection again, takes the lock again, re-reads the history and goes
// on: every step is decided by the history under the new lock, so no
// migration is applied twice. A transactional migration committed on a
// primary that died before its standby received it is simply pending on
// the promoted standby, and is applied again there. A no-transaction
// migration interrupted part-way left a failed row, if it reached the new
// primary, and the run stops with a *DirtyError as any run would; if its
// row never reached the new primary, nothing of it did either (a standby
// replays a prefix of the primary's WAL, and the row is committed before
// the first statement runs), so it is pending and runs from the start.
func (r *Runner) Up(ctx context.Context, opts UpOptions) (Report, error) {
	if r.opts.ReconnectTimeout <= 0 || opts.DryRun {
		return r.up(ctx, opts, nil)
	}
	res := &resume{r: r, steps: opts.Steps}
	// Which server this run began on: a connection or lock lost while the
	// same server goes on (a backend terminated, the lease taken over
	// after it expired) is no failover, and the run stops as it would
	// without reconnecting; only another server (a promoted standby) or a
	// restart, which has another start time, is reconnected to.
	began, _ := r.serverStart(ctx)
	for attempt := 1; ; attempt++ {
		rep, err := r.up(ctx, opts, res)
		if attempt > 1 {
			rep.Applied = append(res.applied, rep.Applied...)
		}
		if err == nil || ctx.Err() != nil || !serverLost(err) {
			return rep, err
		}
		if attempt > maxReconnects {
			return rep, &ReconnectError{Attempts: attempt, Cause: err}
		}
		if !began.IsZero() && r.sameServer(ctx, began) {
			return rep, err
		}
		res.again, res.applied = true, rep.Applied
		res.event = Failover{Attempt: attempt, Err: err, InFlight: inFlight(err)}
		r.log.Warn("connection to the server lost, reconnecting", "attempt", attempt, "err", err)
		r.emit(Event{Kind: Reconnecting, Failover: res.event})
		start := time.Now()
		if werr := r.awaitPrimary(ctx); werr != nil {
			return rep, &ReconnectError{Attempts: attempt, Waited: time.Since(start), Cause: err, Err: werr}
		}
		res.event.Waited = time.Since(start)

	}
}

// sameServer reports whether the server that began the run still answers,
// started when it did: then no failover or restart happened, and what
// broke the run (a terminated backend, a lease taken over) is its error.
func (r *Runner) sameServer(ctx context.Context, began time.Time) bool {
	r.pool.Reset()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	now, err := r.serverStart(ctx)
	return err == nil && now.Equal(began)
}

// serverStart returns when the server the pool reaches started: another
// time after a reconnection means another server (a promoted standby) or
// a restart.
func (r *Runner) serverStart(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := r.pool.QueryRow(ctx, "SELECT pg_postmaster_start_time()", pgx.QueryExecModeSimpleProtocol).Scan(&t)
	return t, err
}

// replan runs in the next attempt, under the new lock, once the history is
// read: it finds which of the earlier attempts' steps that history lost,
// reports the reconnection, and takes the steps that survived off a
// UpOptions.Steps budget. It returns false when that budget is spent.
func (res *resume) replan(p *plan, opts *UpOptions) bool {
	applied := map[string]bool{}
	for _, e := range p.entries {
		if e.applied() {
			applied[e.ver().Canonical()] = true
		}
	}
	kept := res.applied[:0:0]
	ev := res.event
	for _, st := range res.applied {
		if applied[st.Ver.Canonical()] {
			kept = append(kept, st)
		} else {
			ev.Lost = append(ev.Lost, st)
		}
	}
	if f := ev.InFlight; f != nil && f.Direction == Up && !f.Repeatable && !f.NoTransaction && applied[f.Ver.Canonical()] && !slices.ContainsFunc(kept, func(st Step) bool { return st.Ver.Compare(f.Ver) == 0 }) {
		// The step in flight committed, its result lost with the
		// connection (a COMMIT sent ahead of the next step's query, or on
		// its own): the history under the new lock says it is applied.
		kept = append(kept, *f)
	}
	res.applied = kept
	for _, st := range ev.Lost {
		res.r.log.Warn("applied migration lost in the failover, applying it again", "version", stepVersion(st), "name", st.Name)
	}
	res.r.log.Info("reconnected", "attempt", ev.Attempt, "waited", ev.Waited, "lost", len(ev.Lost))
	res.r.emit(Event{Kind: Reconnected, Failover: ev})
	if res.steps > 0 {
		opts.Steps = res.steps - len(kept)
		return opts.Steps > 0
	}
	return true
}

// inFlight names the step a failed attempt was running, from its error.
func inFlight(err error) *Step {
	var me *MigrationError
	if !errors.As(err, &me) {
		return nil
	}
	return &Step{Version: me.Version, Ver: me.Ver, Name: me.Name, Direction: me.Direction, File: me.File, NoTransaction: me.NoTransaction}
}

// awaitPrimary drops every pooled connection (one may still reach the old
// primary, if it lives on behind a partition) and waits until a new one is
// made, which the connection string's target_session_attrs sends to a
// read-write server, bounded by Options.ReconnectTimeout.
func (r *Runner) awaitPrimary(ctx context.Context) error {
	r.pool.Reset()
	return pgdb.WaitReady(ctx, r.pool, r.opts.ReconnectTimeout)
}

// serverLost reports whether err broke a run because its server went
// away or stopped taking writes, rather than because of what the run
// did: the connection broke or was closed, the server is shutting down,
// restarting or starting up (57P01, 57P02, 57P03, class 08), a statement
// found the server read only (25006: a standby, or a demoted primary), or
// the lock went with its session. A lock not acquired in time, a
// cancelled context and every error of a migration's own SQL are not.
func serverLost(err error) bool {
	var te *lock.TimeoutError
	if errors.As(err, &te) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, lock.ErrLost) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "25006", "57P01", "57P02", "57P03":
			return true
		}
		return len(pe.Code) == 5 && pe.Code[:2] == "08" && pe.Code != "08P01"
	}
	return pgdb.Retryable(err)
}
