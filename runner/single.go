package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/source"
)

// singleTxRefused refuses UpOptions.SingleTransaction for a run that
// would apply a no-transaction section: it cannot run inside the one
// transaction.
func singleTxRefused(m *source.Migration) error {
	return optionError("{UpOptions.SingleTransaction}: migration %s %s (%s) runs without a transaction, so it cannot join one; apply it on its own first",
		verOf(*m), m.Name, m.Up.File)
}

// segment is where one migration's section sits in the combined query.
type segment struct {
	m          *source.Migration
	base       int // characters before the section
	chars      int // characters of the section
	statements int // non-empty statements of the section, plus ours
	ours       int // our statements after the section: history row, session reset, mark
}

// runAll applies every migration in todo inside one transaction, sent as
// one simple-protocol query. Each history row records the server's time
// since the previous migration ended, kept in a transaction-local setting.
func (r *Runner) runAll(ctx context.Context, s *session, todo []*source.Migration) ([]Step, error) {
	if err := checkLockTable(ctx, s.conn, todo); err != nil {
		return nil, err
	}
	var q strings.Builder
	q.WriteString("BEGIN;\n")
	segs := make([]segment, 0, len(todo))
	chars := utf8.RuneCountInString(q.String())
	resets := 0
	for _, st := range source.Split(s.reset) {
		if !st.Empty() {
			resets++
		}
	}
	for _, m := range todo {
		if err := transactionControl(m, m.Up); err != nil {
			return nil, err
		}
		n := 0
		for st := range source.SplitSeq(m.Up.SQL) {
			if !st.Empty() {
				n++
			}
		}
		record := s.tr.insertSQL(verOf(*m), m.Name, m.Checksum, sinceMark)
		if m.Repeatable {
			record = s.tr.upsertRepeatableSQL(m.Name, m.Checksum, sinceMark)
		}
		seg := segment{m: m, base: chars, chars: utf8.RuneCountInString(m.Up.SQL), statements: n + 2 + resets, ours: 2 + resets}
		// Each migration starts from the session pgmig opened: the reset
		// comes before the mark, a transaction-local setting it would clear.
		tail := "\n;\n" + record + ";\n" + s.reset + markSQL + ";\n"
		q.WriteString(m.Up.SQL)
		q.WriteString(tail)
		chars += seg.chars + utf8.RuneCountInString(tail)
		segs = append(segs, seg)
	}

	for _, m := range todo {
		r.emit(Event{Kind: StepStarted, Step: planned(m, Up)})
	}
	// Each history row is written only under the lock (its guard): it is
	// the first of its segment's statements of ours. Only those rows'
	// command tags are kept, not one per statement of the batch.
	rows := make(map[int]pgconn.CommandTag, len(segs))
	at := 1 // past BEGIN
	for _, sg := range segs {
		at += sg.statements
		rows[at-sg.ours] = pgconn.CommandTag{}
	}
	start := time.Now()
	done, err := execSimple(ctx, s.conn, q.String(), func(i int, t pgconn.CommandTag) {
		if _, ok := rows[i]; ok {
			rows[i] = t
		}
	})
	if err != nil {
		rollback(ctx, s)
		if lt := lockTableFull(ctx, s.conn, todo, err); lt != err {
			return nil, lt
		}
		return nil, locateInBatch(segs, err, done-1)
	}
	// COMMIT on its own, as in tryTransaction: never sent by a dead client.
	err = s.checkHeld(ctx)
	at = 1
	for _, sg := range segs {
		at += sg.statements
		switch row := at - sg.ours; {
		case err != nil:
		case row >= done:
			err = fmt.Errorf("single transaction: %d results for the statements sent; cannot tell whether the history row of %s %s was written", done, verOf(*sg.m), sg.m.Name)
		case rows[row].RowsAffected() != 1:
			err = s.tr.errGuarded(fmt.Sprintf("the history row of %s %s", verOf(*sg.m), sg.m.Name))
		}
	}
	if err != nil {
		rollback(ctx, s)
		last := segs[len(segs)-1].m
		return nil, &MigrationError{Version: last.Version, Ver: verOf(*last), Name: last.Name, Direction: Up, Err: err}
	}
	if err := commit(ctx, s); err != nil {
		last := segs[len(segs)-1].m
		return nil, &MigrationError{Version: last.Version, Ver: verOf(*last), Name: last.Name, Direction: Up, Err: fmt.Errorf("at COMMIT of the single transaction: %w", err)}
	}
	elapsed := time.Since(start)

	// The server timed each migration; read the times back in one query.
	byVersion, err := s.tr.durations(ctx, s.conn, versionsOf(todo))
	if err != nil {
		return nil, err
	}
	steps := make([]Step, len(todo))
	for i, m := range todo {
		st := planned(m, Up)
		rec := byVersion[verOf(*m).Canonical()]
		st.Duration, st.AppliedAt = rec.Duration, rec.AppliedAt
		steps[i] = st
		r.emit(Event{Kind: StepFinished, Step: st})
	}
	r.log.Info("single transaction done", "migrations", len(todo), "duration", elapsed)
	return steps, nil
}

// locateInBatch finds the migration whose section failed: by the error's
// position when the server gives one, else by counting the statements that
// completed (done excludes our BEGIN).
func locateInBatch(segs []segment, err error, done int) error {
	if len(segs) == 0 {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Position > 0 {
		pos := int(pe.Position)
		for _, sg := range segs {
			if pos > sg.base && pos <= sg.base+sg.chars+1 {
				return locate(sg.m, Up, sg.m.Up, err, sent{base: sg.base, index: -1})
			}
		}
	}
	for _, sg := range segs {
		if done < sg.statements {
			if done >= sg.statements-sg.ours {
				// Our history insert, reset or mark failed, not the section.
				return &MigrationError{Version: sg.m.Version, Ver: verOf(*sg.m), Name: sg.m.Name, Direction: Up, Err: err}
			}
			return locate(sg.m, Up, sg.m.Up, err, sent{base: sg.base, index: done})
		}
		done -= sg.statements
	}
	last := segs[len(segs)-1].m
	return &MigrationError{Version: last.Version, Ver: verOf(*last), Name: last.Name, Direction: Up, Err: err}
}

// versionsOf lists the versions of ms that a history row is found by,
// leaving out the repeatable migrations.
func versionsOf(ms []*source.Migration) []source.Version {
	vs := make([]source.Version, 0, len(ms))
	for _, m := range ms {
		if !m.Repeatable {
			vs = append(vs, verOf(*m))
		}
	}
	return vs
}
