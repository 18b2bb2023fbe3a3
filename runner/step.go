package runner

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cenkalti/backoff/v4"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/internal/wait"
	"github.com/pgmig/pgmig/source"
)

// runStep applies (or rolls back) one migration and records it, reporting
// progress through events and the logger. A transactional step may return
// with its COMMIT owed (see owed): it is passed to finished, and reported,
// once committed, by the next step's query or by settle, which every run
// calls at its end. A step that fails reports its own error, or, when the
// COMMIT it carried for the step before failed, that step's.
func (r *Runner) runStep(ctx context.Context, s *session, m *source.Migration, dir Direction, finished func(Step)) error {
	sec := m.Up
	if dir == Down {
		sec = *m.Down
	}
	if m.Go || sec.NoTransaction || sentInPieces(sec) {
		// These commit as they go, or are sent in several queries: the
		// owed COMMIT goes first and alone (a round trip beside a MiB or
		// a COPY).
		if err := r.settle(ctx, s); err != nil {
			return err
		}
	}
	step := planned(m, dir)
	if s.owed == nil {
		r.emit(Event{Kind: StepStarted, Step: step})
	}
	// Else the step before still owes its COMMIT, which rides with this
	// step's query: this step is reported started once that COMMIT's
	// result is in (tryTransaction), after the step before is reported
	// finished. Reported first, an OnEvent that takes its time (or waits)
	// at StepStarted would hold the step before's transaction open, with
	// its locks.
	start := time.Now()
	var (
		err  error
		owes bool
	)
	switch {
	case m.Go:
		err = r.goStep(ctx, s, m, dir)
	case sec.NoTransaction:
		err = r.runStatements(ctx, s, m, sec, dir)
	default:
		owes, err = r.runTransaction(ctx, s, m, sec, dir)
	}
	step.Duration = time.Since(start)
	step.AppliedAt = time.Now()
	if cerr, ok := err.(*commitError); ok {
		// The step before this one did not commit; this one did not run
		// (or was rolled back with it).
		r.emit(Event{Kind: StepFailed, Step: cerr.ow.step, Err: cerr.err})
		return cerr.err
	}
	if err != nil {
		// The error is returned, not logged: the caller reports it once.
		r.emit(Event{Kind: StepFailed, Step: step, Err: err})
		return err
	}
	if owes {
		s.owed = &owed{m: m, dir: dir, step: step, finished: finished}
		return nil
	}
	r.finish(step, finished)
	return nil
}

// runTransaction runs a transactional section, retrying it when it hits
// its lock_timeout.
func (r *Runner) runTransaction(ctx context.Context, s *session, m *source.Migration, sec source.Section, dir Direction) (owes bool, _ error) {
	timeout := r.opts.DDLLockTimeout
	if sec.LockTimeout > 0 {
		timeout = sec.LockTimeout
	}
	retries := r.opts.DDLRetries
	if timeout <= 0 {
		// Without a lock_timeout there is no 55P03 to retry.
		retries = 0
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = r.opts.DDLRetryWait
	if b.InitialInterval <= 0 {
		b.InitialInterval = 500 * time.Millisecond
	}
	b.MaxInterval = 30 * time.Second
	b.MaxElapsedTime = 0
	b.Reset()
	for attempt := 1; ; attempt++ {
		blockers, owes, err := r.tryTransaction(ctx, s, m, sec, dir, timeout)
		var pe *pgconn.PgError
		var cerr *commitError
		if err == nil || attempt > retries || errors.As(err, &cerr) || !errors.As(err, &pe) || pe.Code != "55P03" {
			return owes, err
		}
		pause := b.NextBackOff()
		r.log.Warn("lock timeout, retrying", "version", logVersion(m), "name", m.Name, "direction", string(dir), "attempt", attempt, "wait", pause, "blockers", len(blockers))
		r.emit(Event{Kind: StepRetrying, Step: planned(m, dir), Retry: Retry{Attempt: attempt, Max: retries, Wait: pause, Blockers: blockers, Err: err}})
		if wait.Sleep(ctx, pause) != nil {
			return false, err
		}
	}
}

// tryTransaction sends BEGIN, the section and its history change as one
// simple-protocol query, then COMMIT. The COMMIT waits for the section's
// outcome on purpose: a server runs a query to its end even after its
// client died, and a COMMIT inside it would commit the work of a process
// killed half-way. Sent after the result, it never arrives from a dead
// client, whose transaction the server then rolls back. Where the session
// chains (session.chain) the COMMIT is owed rather than sent (owes is
// true), and a COMMIT owed by the step before rides at the head of this
// step's query: one round trip a migration. A failure anywhere rolls back
// the section and its history row together. It returns the sessions seen
// blocking it.
func (r *Runner) tryTransaction(ctx context.Context, s *session, m *source.Migration, sec source.Section, dir Direction, lockTimeout time.Duration) (_ []Blocker, owes bool, _ error) {
	record := s.tr.insertSQL(verOf(*m), m.Name, m.Checksum, sinceStatement)
	switch {
	case m.Repeatable:
		record = s.tr.upsertRepeatableSQL(m.Name, m.Checksum, sinceStatement)
	case dir == Down:
		record = s.tr.deleteSQL(verOf(*m))
	}
	alone := sentInPieces(sec)
	ow := s.owed
	s.owed = nil
	if ow != nil && ctx.Err() != nil {
		// Stopped between the steps: the owed step is not committed,
		// and this one does not start.
		rollback(ctx, s)
		return nil, false, &commitError{ow: ow, err: &MigrationError{Version: ow.m.Version, Name: ow.m.Name, Direction: ow.dir, File: ow.step.File, Err: fmt.Errorf("not committed: %w", context.Cause(ctx))}}
	}
	prefix := "BEGIN;\n"
	if lockTimeout > 0 {
		prefix += fmt.Sprintf("SET LOCAL lock_timeout = '%dms';\n", lockTimeout.Milliseconds())
	}
	// The lock check is sent on the lock's idle connection before the
	// query and its answer read after it (lock.Held.Probe), so a quick
	// migration pays neither a round trip nor a goroutine for it; one that
	// ran longer is checked again just before its COMMIT. The progress
	// sampler uses the same connection: then check afterwards. The check
	// finds a loss early; it is not what makes a commit after the loss
	// harmless: a lease's guard in the history write, and a session
	// lock's fence on this connection (lock.Lock.Fence), are.
	sampling := s.mon != nil && (r.opts.ProgressInterval > 0 || lockTimeout > 0)
	var early func() error
	if s.held != nil && !sampling {
		early = s.probeHeld(ctx)
	}
	stop := r.watch(ctx, s, m, dir, 0, lockTimeout)
	start := time.Now()
	// The first statements completed are our BEGIN and SET.
	ours := 1
	if lockTimeout > 0 {
		ours = 2
	}
	var (
		tags    []pgconn.CommandTag // the last statements': the history row's and the reset's
		done    int
		err     error
		located bool
		// the owed COMMIT's result, when ow is not settled by it
		owedDone int
		owedErr  error
	)
	switch {
	case len(sec.Copies) > 0:
		tags, err = execPieces(ctx, s, m, dir, sec, prefix, record, ours)
		located = true
	case len(sec.SQL) >= sendAlone:
		tags, err = execAlone(ctx, s, m, dir, sec, prefix, record, ours)
		located = true
	default:
		// The newline ends a trailing line comment; the ';' a last
		// statement left without one.
		q := prefix + sec.SQL + "\n;\n" + record + ";\n" + s.reset
		last := lastTags{n: 1 + s.resets()}
		if ow == nil {
			done, err = execSimple(ctx, s.conn, q, last.add)
		} else {
			done, err = execChained(ctx, s.conn, q, func(n int, err error) bool {
				owedDone, owedErr = n, err
				if n == 1 {
					// Reported now, while this step's section runs.
					r.finish(ow.step, ow.finished)
					ow = nil
					r.emit(Event{Kind: StepStarted, Step: planned(m, dir)})
				}
				return n == 1 || !isPgError(err)
			}, last.add)
		}
		tags = last.tags
	}
	ran := time.Since(start)
	blockers := stop()
	var held error
	if early != nil {
		held = early() // the lock's connection is free again from here
	}
	if ow != nil {
		if cerr := r.decide(ctx, s, ow, owedDone, owedErr); cerr != nil {
			// Whatever of this step ran is not kept.
			rollback(ctx, s)
			return nil, false, cerr
		}
		// Committed after all (its result lost with the connection).
		r.emit(Event{Kind: StepStarted, Step: planned(m, dir)})
	}
	if err == nil {
		if held == nil && (early == nil || ran > recheckAfter) {
			held = s.checkHeld(ctx)
		}
		// The history row is the last statement but the session reset.
		if at := len(tags) - 1 - s.resets(); held == nil && (at < 0 || tags[at].RowsAffected() != 1) {
			// The guard found the lock gone: the history row is not
			// there, so the migration must not commit either.
			held = s.tr.errGuarded("its history row")
		}
		if err := held; err != nil {
			rollback(ctx, s)
			return nil, false, &MigrationError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: sec.File, Err: err}
		}
		if s.chain && !alone {
			return nil, true, nil
		}
		err = commit(ctx, s)
		if err == nil {
			return nil, false, nil
		}
		// Everything ran; the COMMIT failed (a deferred constraint).
		return nil, false, &MigrationError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: sec.File, Err: fmt.Errorf("at COMMIT: %w", err)}
	}
	rollback(ctx, s)
	if located {
		return blockers, false, err
	}
	return blockers, false, locate(m, dir, sec, err, sent{base: utf8.RuneCountInString(prefix), index: done - ours})
}

// sentInPieces says whether a transactional section is sent in several
// queries (execPieces, execAlone) rather than in one with its BEGIN and
// history row: such a step neither carries an owed COMMIT nor owes one.
func sentInPieces(sec source.Section) bool {
	return len(sec.Copies) > 0 || len(sec.SQL) >= sendAlone
}

// sendAlone is the size from which a transactional section is sent as a
// query of its own (see execAlone).
const sendAlone = 1 << 20

// execAlone runs a large transactional section as a query of its own,
// after one of prefix (BEGIN and its settings) and before one of record,
// the history change, and the session reset, all in the one transaction.
// Joined into one query as tryTransaction does for the rest, the section
// would be held twice more: in the query and in pgconn's write buffer,
// which for a file of hundreds of MiB is most of a run's memory. The two
// round trips more are nothing beside the server's parsing of a MiB. On
// failure it returns the error located in the section's file; the caller
// rolls back. It returns the command tags of the last statements.
func execAlone(ctx context.Context, s *session, m *source.Migration, dir Direction, sec source.Section, prefix, record string, ours int) ([]pgconn.CommandTag, error) {
	if _, err := execSimple(ctx, s.conn, prefix, nil); err != nil {
		return nil, &MigrationError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: sec.File, Err: err}
	}
	// Alone, the section needs no "\n;" after it: the end of the query
	// ends a last line comment and a last statement.
	done, err := execSimple(ctx, s.conn, sec.SQL, nil)
	if err != nil {
		return nil, locate(m, dir, sec, err, sent{base: 0, index: done})
	}
	last := lastTags{n: 1 + s.resets()}
	if _, err := execSimple(ctx, s.conn, record+";\n"+s.reset, last.add); err != nil {
		return nil, &MigrationError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: sec.File, Err: err}
	}
	return last.tags, nil
}

// resets counts the statements of the session reset that follow each
// migration's history row.
func (s *session) resets() int {
	if s.nreset == 0 { // counted once: it was a split of the reset per migration
		for _, st := range source.Split(s.reset) {
			if !st.Empty() {
				s.nreset++
			}
		}
	}
	return s.nreset
}

// recheckAfter is how long a migration's query may run before the lock
// is checked again, rather than trusting the check made while it started.
const recheckAfter = 5 * time.Millisecond

// commit ends the step's transaction.
func commit(ctx context.Context, s *session) error {
	_, err := execSimple(ctx, s.conn, "COMMIT", nil)
	if err != nil {
		rollback(ctx, s)
	}
	return err
}

// rollback ends a failed transaction so the session can go on. A closed
// connection has nothing to end: the server rolled back when it went.
func rollback(ctx context.Context, s *session) {
	if !s.conn.IsClosed() {
		s.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	}
}

// watch samples the running step when progress is wanted or a lock
// timeout is set (then blockers must be seen while the step still waits).
func (r *Runner) watch(ctx context.Context, s *session, m *source.Migration, dir Direction, statement int, lockTimeout time.Duration) func() []Blocker {
	interval := r.opts.ProgressInterval
	if lockTimeout > 0 {
		lt := min(max(lockTimeout/3, 50*time.Millisecond), time.Second)
		if interval <= 0 || lt < interval {
			interval = lt
		}
	}
	if s.mon == nil || interval <= 0 {
		return func() []Blocker { return nil }
	}
	gate := progressGate{every: r.opts.ProgressInterval, sampling: interval}
	return s.mon.watch(ctx, interval, func(p Progress) {
		if !gate.due(p.Elapsed) {
			return
		}
		p.Statement = statement
		r.emit(Event{Kind: StepProgress, Step: planned(m, dir), Progress: p})
	})
}

// stopBefore ends a no-transaction section before its statement i+1 runs,
// the lock lost or the run cancelled. Before the first statement nothing
// ran, so the failed row that marked the start is taken back: a row left
// there would make every later run refuse until Runner.Repair, for a
// migration that never started. The renewal of a lease can find the loss
// just after the guarded write of that row went through (a renewal that
// timed out may still have been applied), which is when this happens.
func (r *Runner) stopBefore(ctx context.Context, s *session, m *source.Migration, sec source.Section, dir Direction, i int, err error) error {
	merr := &MigrationError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: sec.File, Statement: i + 1, NoTransaction: true, Err: err}
	if i > 0 {
		return merr
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), takeBackTimeout)
	defer cancel()
	terr := s.tr.takeBack(tctx, s.conn, dir, verOf(*m))
	var pe *pgconn.PgError
	if errors.As(terr, &pe) && pe.Code == "57014" {
		// The cancel a stopped run sends for its statement in flight
		// (Runner.locked) landed on this write instead: it is sent once,
		// so the write goes through the second time.
		terr = s.tr.takeBack(tctx, s.conn, dir, verOf(*m))
	}
	if errors.Is(terr, ErrLockLost) {
		// Nothing taken back: either the guard refused (the row stays)
		// or there was no failed row (the start was never written).
		if failed, ferr := s.tr.failedRow(tctx, s.conn, verOf(*m)); ferr == nil && !failed {
			terr = nil
		}
	}
	if terr != nil {
		merr.Err = errors.Join(err, fmt.Errorf("its failed row stays: %w", terr))
		return merr
	}
	merr.NoTransaction = false
	return merr
}

// takeBackTimeout bounds the write that takes back a section's start.
const takeBackTimeout = 5 * time.Second

// runStatements runs a no-transaction section one statement at a time. The
// history row is written first, marked failed, and only marked successful
// at the end: a run that dies half-way leaves a failed row, and Up refuses
// to go on until the database is checked and the row repaired (Runner.Repair).
func (r *Runner) runStatements(ctx context.Context, s *session, m *source.Migration, sec source.Section, dir Direction) error {
	var stmts []source.Statement
	for _, st := range sec.Statements() {
		if !st.Empty() {
			stmts = append(stmts, st)
		}
	}
	// Nothing is written for a section once the lock is known lost.
	if err := s.checkHeld(ctx); err != nil {
		return &MigrationError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: sec.File, Statement: 1, Err: err}
	}
	if err := s.tr.markStarted(ctx, s.conn, dir, verOf(*m), m.Name, m.Checksum); err != nil {
		if lerr := s.checkHeld(ctx); lerr != nil {
			// Refused by the guard, cancelled on the loss, or finished by
			// the server before the cancel came (the client, cancelled,
			// does not see it): what the write left is not known here,
			// so a failed row that is there is taken back.
			return r.stopBefore(ctx, s, m, sec, dir, 0, lerr)
		}
		return fmt.Errorf("%s %s %s: record start: %w", dir.verb(), verOf(*m), m.Name, err)
	}
	start := time.Now()
	for i, st := range stmts {
		if err := s.tr.markStatement(ctx, s.conn, verOf(*m), i+1); err != nil {
			if errors.Is(err, ErrLockLost) {
				// Not run: the statements before it stay, with the row
				// written under the lock that says so.
				return &MigrationError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: sec.File, Statement: i + 1, NoTransaction: true, Err: err}
			}
			return fmt.Errorf("%s %s %s: record progress: %w", dir.verb(), verOf(*m), m.Name, err)
		}
		err := s.checkHeld(ctx)
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return r.stopBefore(ctx, s, m, sec, dir, i, err)
		}
		stop := r.watch(ctx, s, m, dir, i+1, 0)
		c, isCopy := copyAt(sec, st)
		if isCopy {
			err = runCopy(ctx, s, sec, c)
		} else {
			_, err = execSimple(ctx, s.conn, st.Text, nil)
		}
		stop()
		if err != nil {
			merr := locate(m, dir, sec, err, sent{base: -1, stmt: st, index: i})
			if isCopy {
				merr = locateCopy(m, dir, sec, stmts, i, c, err)
			}
			merr.Statement = i + 1
			msg := fmt.Sprintf("statement %d failed: %s", i+1, errorText(err))
			if uerr := s.tr.markFailed(context.WithoutCancel(ctx), s.conn, verOf(*m), msg, true); uerr != nil {
				return errors.Join(merr, fmt.Errorf("record failure: %w", uerr))
			}
			return merr
		}
	}
	if dir == Up {
		if err := checkIndexes(ctx, s, m, sec); err != nil {
			msg := err.Error()
			var ie *InvalidIndexError
			if errors.As(err, &ie) {
				// The row records what the section left, not the
				// remedy: a DirtyError advises that when it is read,
				// named as its reader names it.
				msg = ie.left()
			}
			if uerr := s.tr.markFailed(context.WithoutCancel(ctx), s.conn, verOf(*m), msg, false); uerr != nil {
				return errors.Join(err, fmt.Errorf("record failure: %w", uerr))
			}
			return err
		}
	}
	if err := s.tr.markDone(ctx, s.conn, dir, verOf(*m), time.Since(start)); err != nil {
		return fmt.Errorf("%s %s %s: record finish: %w", dir.verb(), verOf(*m), m.Name, err)
	}
	// The next migration starts from the session pgmig opened.
	if _, err := execSimple(ctx, s.conn, s.reset, nil); err != nil {
		return fmt.Errorf("%s %s %s: reset the session: %w", dir.verb(), verOf(*m), m.Name, err)
	}
	return nil
}

// execSimple runs sql over the simple protocol and returns how many of its
// statements completed before the first error. Each completed statement's
// command tag goes to tag, when not nil, with its 0-based index. Results
// are read and dropped as they come: a section of millions of statements
// would otherwise keep millions of them (and the rows of its SELECTs).
func execSimple(ctx context.Context, conn *pgx.Conn, sql string, tag func(i int, t pgconn.CommandTag)) (int, error) {
	// A large query costs its size again in pgconn's write buffer while
	// it is sent. Collecting before gives that copy a heap free of the
	// garbage that reading and checking the files left (else the peak is
	// the garbage, the text and the copy); collecting after, once Exec has
	// dropped the copy, brings the heap's goal back from twice the text and
	// the copy to twice the text, which bounds the results' garbage.
	large := len(sql) >= sendAlone
	if large {
		runtime.GC()
	}
	mrr := conn.PgConn().Exec(ctx, sql)
	if large {
		runtime.GC()
	}
	done := 0
	for mrr.NextResult() {
		t, err := mrr.ResultReader().Close()
		if err != nil {
			mrr.Close() // read on to ReadyForQuery, so the connection stays usable
			return done, err
		}
		if tag != nil {
			tag(done, t)
		}
		done++
	}
	return done, mrr.Close()
}

func isPgError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe)
}

// lastTags keeps the command tags of the last n statements a query ran,
// given to execSimple as lastTags.add.
type lastTags struct {
	n    int
	tags []pgconn.CommandTag
}

func (l *lastTags) add(_ int, t pgconn.CommandTag) {
	if len(l.tags) == l.n {
		l.tags = append(l.tags[:0], l.tags[1:]...)
	}
	l.tags = append(l.tags, t)
}

func errorText(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message + " (SQLSTATE " + pe.Code + ")"
	}
	return err.Error()
}

// sent says how a failed query held the section, so that the server's
// error position (characters into the query) can be mapped into the file.
type sent struct {
	// base is the number of characters before the whole section in the
	// query; -1 when only one statement of it was sent.
	base int
	// from is the byte offset in the section of the text sent after those
	// base characters: 0 but for the pieces of a section sent around its
	// COPY … FROM STDIN statements.
	from int
	// stmt is the statement sent alone (a no-transaction section), when
	// base is -1.
	stmt source.Statement
	// index is the 0-based index, among the section's non-empty
	// statements, of the one that failed, when counting results told;
	// -1 when unknown.
	index int
}

// locate builds the MigrationError for err, finding the failure in the
// section's file: by the error's position when the server gives one,
// else at the first token of the failed statement.
func locate(m *source.Migration, dir Direction, sec source.Section, err error, at sent) *MigrationError {
	merr := &MigrationError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: sec.File, NoTransaction: sec.NoTransaction, Err: err}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return merr
	}
	// The section's statements are cut afresh on each pass rather than
	// held: a failure in a section of millions must not cost 32 bytes each.
	stmts := statements(sec)
	off := -1
	switch {
	case pe.Position <= 0:
	case at.base >= 0:
		rel := int(pe.Position) - at.base + utf8.RuneCountInString(sec.SQL[:at.from])
		if rel >= 1 && rel <= utf8.RuneCountInString(sec.SQL)+1 {
			off = source.Position(sec.SQL, rel)
		}
	default:
		off = at.stmt.Offset + source.Position(at.stmt.Text, int(pe.Position))
	}
	// No position from the server: find the failed statement, and within
	// it the name the message quotes, when that is unambiguous.
	var failed *source.Statement
	switch {
	case at.base < 0 && at.stmt.Text != "":
		failed = &at.stmt
	case at.index >= 0:
		for i, st := range stmts {
			if i == at.index {
				failed = &st
				break
			}
		}
	}
	if off < 0 && pe.Where != "" {
		off = bodyOffset(sec.SQL, stmts, failed, pe.Where)
	}
	if off < 0 && failed != nil && failed.Start >= 0 {
		off = failed.Start
		if rel := quotedNameOffset(failed.Text, pe.Message); rel >= 0 {
			off = failed.Offset + rel
		}
	}
	if off < 0 {
		return merr
	}
	for i, st := range stmts {
		if off >= st.Offset && off < st.Offset+len(st.Text) {
			merr.Statement = i + 1
			break
		}
	}
	merr.Line, merr.Column, merr.SourceLine = fileLine(sec, off)
	return merr
}

// statements yields the non-empty statements of sec with their 0-based
// index among them, the server's count of the statements it ran.
func statements(sec source.Section) iter.Seq2[int, source.Statement] {
	return func(yield func(int, source.Statement) bool) {
		i := 0
		for st := range sec.StatementsSeq() {
			if st.Empty() {
				continue
			}
			if !yield(i, st) {
				return
			}
			i++
		}
	}
}

// fileLine turns a byte offset in the section into the file's line, the
// column in characters, and that line's text.
func fileLine(sec source.Section, off int) (line, col int, text string) {
	if off < 0 {
		return 0, 0, ""
	}
	if off > len(sec.SQL) {
		off = len(sec.SQL)
	}
	l, c := source.LineCol(sec.SQL, off)
	start := strings.LastIndexByte(sec.SQL[:off], '\n') + 1
	end := strings.IndexByte(sec.SQL[start:], '\n')
	if end < 0 {
		end = len(sec.SQL) - start
	}
	return sec.Line + l - 1, c, sec.SQL[start : start+end]
}

var quotedRE = regexp.MustCompile(`"([^"]+)"`)

// quotedNameOffset finds where in stmt the server's message points when it
// gives no position, as for `column "user_idd" does not exist` raised by
// CREATE INDEX: the first name quoted in the message that occurs exactly
// once in the statement, as a whole word and in any case. It returns -1
// when no name is that clear: a guess that could be wrong is worse than
// the statement's start.
func quotedNameOffset(stmt, message string) int {
	lower := strings.ToLower(stmt)
	for _, m := range quotedRE.FindAllStringSubmatch(message, -1) {
		name := strings.ToLower(m[1])
		re, err := regexp.Compile(`(^|[^\pL\pN_$"])"?` + regexp.QuoteMeta(name) + `"?($|[^\pL\pN_$])`)
		if err != nil {
			continue
		}
		hits := re.FindAllStringSubmatchIndex(lower, 2)
		if len(hits) == 1 {
			// Past the character before the name (group 1) and an opening quote.
			at := hits[0][3]
			if at < len(lower) && lower[at] == '"' {
				at++
			}
			return at
		}
	}
	return -1
}
