package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmig/pgmig/source"
)

// owed is a transactional step whose section and history row ran and
// whose lock check passed, but whose COMMIT is not sent yet: it goes at
// the head of the session's next query (COMMIT; BEGIN; <next section>…),
// which saves each migration a round trip. The COMMIT still waits for its
// own section's outcome and lock check, so a client killed while a
// section runs never commits it; the server rolls back the transaction of
// a connection that went. Until its COMMIT's result is back the step is
// neither reported nor passed to finished: what is reported applied is
// committed.
type owed struct {
	m        *source.Migration
	dir      Direction
	step     Step
	finished func(Step)
}

// commitError is the failure of an owed step's COMMIT, sent ahead of a
// later step: the error to report is the owed step's, not the later one's.
type commitError struct {
	ow  *owed
	err *MigrationError
}

func (e *commitError) Error() string { return e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// finish reports a committed step.
func (r *Runner) finish(step Step, finished func(Step)) {
	r.log.Info("migration done", "version", stepVersion(step), "name", step.Name, "direction", string(step.Direction), "duration", step.Duration)
	r.emit(Event{Kind: StepFinished, Step: step})
	if finished != nil {
		finished(step)
	}
}

// settle sends the owed COMMIT, if any, on its own: before a step that
// commits by itself (a no-transaction section, a Go migration, a section
// sent in pieces) and at the end of a run.
func (r *Runner) settle(ctx context.Context, s *session) error {
	ow := s.owed
	if ow == nil {
		return nil
	}
	s.owed = nil
	done, err := execSimple(ctx, s.conn, "COMMIT", nil)
	if cerr := r.decide(ctx, s, ow, done, err); cerr != nil {
		rollback(ctx, s)
		r.emit(Event{Kind: StepFailed, Step: ow.step, Err: cerr.err})
		return cerr.err
	}
	return nil
}

// decide settles an owed step from its COMMIT's result: done is 1 when
// the COMMIT completed, else err says why not. It reports the step when
// it committed; otherwise it returns the step's error, and the caller
// rolls back what the session has open.
func (r *Runner) decide(ctx context.Context, s *session, ow *owed, done int, err error) *commitError {
	if done >= 1 {
		r.finish(ow.step, ow.finished)
		return nil
	}
	fail := func(err error) *commitError {
		return &commitError{ow: ow, err: &MigrationError{Version: ow.m.Version, Name: ow.m.Name, Direction: ow.dir, File: ow.step.File, Err: err}}
	}
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Severity != "FATAL" && pe.Severity != "PANIC":
		// The server refused the COMMIT (a deferred constraint): the
		// transaction is rolled back.
		return fail(fmt.Errorf("at COMMIT: %w", err))
	case pgconn.SafeToRetry(err):
		// Nothing was sent (the run was cancelled first).
		return fail(fmt.Errorf("not committed: %w", err))
	}
	// Sent, and the connection went before the result came back: the
	// server may or may not have committed.
	committed, oerr := r.outcome(ctx, s, ow)
	switch {
	case oerr != nil:
		return fail(fmt.Errorf("COMMIT sent, but the connection went before its result (%w); whether it committed is unknown: %w", err, oerr))
	case committed:
		r.finish(ow.step, ow.finished)
		return nil
	}
	return fail(fmt.Errorf("not committed: the session ended before the COMMIT took effect (the history, read afterwards, does not hold it): %w", err))
}

// outcome finds whether an owed COMMIT whose result was lost with the
// work connection committed. It ends the work session's backend, if it is
// still there, and waits for it to go, so that nothing of it can commit
// afterwards; then the history, read on the lock's connection, holds the
// step's row (or, rolling back, no longer does) if and only if the
// COMMIT took effect, row and step being one transaction. Only a session
// lock has a connection of its own to ask on; under a lease nothing is
// owed (see session.chain).
func (r *Runner) outcome(ctx context.Context, s *session, ow *owed) (bool, error) {
	if s.mon == nil {
		return false, errors.New("no connection to look it up on")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	c := s.mon.conn
	pid := s.pid
	if pid == 0 {
		return false, errors.New("the work session's backend is not known")
	}
	if _, err := c.Exec(ctx, "SELECT pg_terminate_backend($1)", pgx.QueryExecModeSimpleProtocol, pid); err != nil {
		return false, fmt.Errorf("end the work session (pid %d): %w", pid, err)
	}
	for {
		var alive bool
		if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", pgx.QueryExecModeSimpleProtocol, pid).Scan(&alive); err != nil {
			return false, fmt.Errorf("wait for the work session (pid %d) to end: %w", pid, err)
		}
		if !alive {
			break
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("wait for the work session (pid %d) to end: %w", pid, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	recs, err := s.tr.read(ctx, c)
	if err != nil {
		return false, err
	}
	for _, rec := range recs {
		var ours bool
		switch {
		case ow.m.Repeatable:
			ours = rec.Repeatable && rec.Name == ow.m.Name && rec.Checksum == ow.m.Checksum && rec.Success
		default:
			ours = !rec.Repeatable && rec.Version == ow.m.Version && rec.Success
		}
		if ours {
			return ow.dir == Up, nil
		}
	}
	return ow.dir == Down, nil
}

// execChained sends the owed COMMIT and then sql as two simple queries in
// one write: one round trip for both. The server answers the COMMIT (and,
// with its ReadyForQuery, flushes the answer) before it even parses sql,
// so committed hears the COMMIT's outcome while sql still runs, and a
// syntax error in sql cannot touch the COMMIT, as it would inside one
// query, which the server parses whole before running any of it. sql runs
// in a transaction of its own, which its caller commits or rolls back.
//
// committed gets the COMMIT's completed count (0 or 1) and error; when it
// returns false (the COMMIT failed, so sql must not be kept), sql is
// cancelled, so that a long section stops rather than runs for nothing.
// It returns, as execSimple does, how many of sql's statements completed
// and the first error.
func execChained(ctx context.Context, conn *pgx.Conn, sql string, committed func(int, error) bool, tag func(i int, t pgconn.CommandTag)) (int, error) {
	pc := conn.PgConn()
	// Sent even when ctx ends meanwhile: a COMMIT left in the write buffer
	// would go out ahead of the next query, whatever that is.
	pc.Frontend().SendQuery(&pgproto3.Query{String: "COMMIT"})
	mrr := pc.Exec(context.WithoutCancel(ctx), sql)
	cdone := 0
	for mrr.NextResult() {
		if _, err := mrr.ResultReader().Close(); err == nil {
			cdone++
		}
	}
	cerr := mrr.Close()
	if !committed(cdone, cerr) && !pc.IsClosed() {
		// A cancel that reaches the backend between the two queries is
		// ignored (it cancels only a statement running), so it is sent
		// again until sql's results are in. At worst sql runs to its
		// end, and is rolled back.
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				_ = pc.CancelRequest(cctx)
				cancel()
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
	}
	if pc.IsClosed() {
		return 0, lostResult{fmt.Errorf("connection closed: %w", cerr)}
	}
	done := 0
	var first error
	for {
		msg, err := pc.ReceiveMessage(ctx)
		if err != nil {
			// sql's results are not all read: the connection cannot be
			// used again. Closing it ends the session, and the server
			// rolls sql's transaction back.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			conn.Close(cctx)
			cancel()
			if first != nil {
				return done, first // a FATAL error, which closed the connection
			}
			return done, lostResult{err}
		}
		switch msg := msg.(type) {
		case *pgproto3.CommandComplete:
			if tag != nil {
				tag(done, pgconn.NewCommandTag(string(msg.CommandTag)))
			}
			done++
		case *pgproto3.EmptyQueryResponse:
			if tag != nil {
				tag(done, pgconn.CommandTag{})
			}
			done++
		case *pgproto3.ErrorResponse:
			if first == nil {
				first = pgconn.ErrorResponseToPgError(msg)
			}
		case *pgproto3.CopyInResponse:
			// COPY … FROM STDIN is sent in pieces (execPieces), never here;
			// one the splitter did not see gets no data.
			pc.Frontend().Send(&pgproto3.CopyFail{Message: "pgmig: COPY FROM STDIN is not supported here"})
			if err := pc.Frontend().Flush(); err != nil {
				conn.Close(context.WithoutCancel(ctx))
				return done, lostResult{err}
			}
		case *pgproto3.ReadyForQuery:
			return done, first
		}
	}
}

// lostResult is the error of a query whose results stopped coming: it
// was sent, so it is never safe to retry, whatever the error it wraps
// says (pgconn's ReceiveMessage calls its errors safe to retry).
type lostResult struct{ err error }

func (e lostResult) Error() string     { return e.err.Error() }
func (e lostResult) Unwrap() error     { return e.err }
func (e lostResult) SafeToRetry() bool { return false }
