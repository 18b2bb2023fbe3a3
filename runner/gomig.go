package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/source"
)

// Migrations written in Go, as goose's Provider runs them: a program
// registers functions (Options.GoMigrations) beside its SQL files. A goose
// NNN_name.go file read by a source built with source.Options.GoMigrations
// takes the functions registered for its version; a registration with no
// file is a migration of its own, ordered among the others by version.

// GoMigration is a migration written in Go.
type GoMigration struct {
	// Version orders the migration among the others. A goose NNN_name.go
	// file of the same version takes these functions.
	Version int64
	// Name is the migration's name. With a .go file it may be empty, and
	// must otherwise be the file's name; without one it is required.
	Name string
	// Up applies the migration; it is required. Down rolls it back; nil
	// means the migration cannot be rolled back.
	Up, Down *GoFunc
}

// GoFunc is one direction of a GoMigration: exactly one of RunTx and RunDB.
type GoFunc struct {
	// RunTx runs inside the transaction that also writes the history row:
	// the function's changes and the row commit together or not at all.
	// It must neither commit nor roll back tx. Options.DDLLockTimeout
	// applies to it as to a transactional section.
	RunTx func(ctx context.Context, tx pgx.Tx) error
	// RunDB runs outside a transaction, on the runner's pool, as a
	// no-transaction section does: the history row is written failed
	// before it starts and marked successful once it returns nil, so a
	// run that fails or dies in it leaves a failed row for repair. The
	// pool's connections are not set up as the runner's own session is
	// (Options.Schema's search_path, for one, is not set on them).
	RunDB func(ctx context.Context, db *pgxpool.Pool) error
}

// goChecksum is the checksum of a Go migration that has no .go file: the
// hex SHA-256 of "go:" and its name. (One with a file has the file's
// checksum, the SHA-256 of its bytes with CRLF turned into LF.) The code
// of a function cannot be summed: a changed function goes unnoticed.
func goChecksum(name string) string {
	sum := sha256.Sum256([]byte("go:" + name))
	return hex.EncodeToString(sum[:])
}

// checkGoMigrations validates the registrations, as New does.
func checkGoMigrations(gms []GoMigration) (map[int64]*GoMigration, error) {
	if len(gms) == 0 {
		return nil, nil
	}
	byVersion := make(map[int64]*GoMigration, len(gms))
	for i := range gms {
		g := &gms[i]
		if g.Version <= 0 {
			return nil, optionNamed("Options.GoMigrations", "Go migration %q: version %d must be positive", g.Name, g.Version)
		}
		if _, dup := byVersion[g.Version]; dup {
			return nil, optionNamed("Options.GoMigrations", "Go migration %d registered twice", g.Version)
		}
		if g.Up == nil {
			return nil, optionNamed("Options.GoMigrations", "Go migration %d %s has no up function", g.Version, g.Name)
		}
		for dir, f := range map[Direction]*GoFunc{Up: g.Up, Down: g.Down} {
			if f != nil && (f.RunTx == nil) == (f.RunDB == nil) {
				return nil, optionNamed("Options.GoMigrations", "Go migration %d %s: its %s function must set exactly one of RunTx and RunDB", g.Version, g.Name, dir)
			}
		}
		byVersion[g.Version] = g
	}
	return byVersion, nil
}

// withGo merges the registered Go migrations into the source's: a .go
// file's migration takes its registration's sections (empty SQL, the
// transaction mode of its functions), and a registration without a file
// is added in version order. A .go file without a registration is left as
// the source read it, with no down; goPending refuses to run it.
func (r *Runner) withGo(ms []source.Migration) ([]source.Migration, error) {
	if len(r.goMigs) == 0 {
		return ms, nil
	}
	seen := make(map[int64]bool, len(r.goMigs))
	for i := range ms {
		m := &ms[i]
		g, ok := r.goMigs[m.Version]
		if !ok || m.Repeatable || m.Version == 0 {
			continue
		}
		seen[m.Version] = true
		if !m.Go {
			return nil, optionNamed("Options.GoMigrations", "Go migration %d %s: %s already has version %d", g.Version, g.Name, m.Up.File, m.Version)
		}
		if g.Name != "" && g.Name != m.Name {
			return nil, optionNamed("Options.GoMigrations", "Go migration %d is registered as %q but its file %s names it %q", g.Version, g.Name, m.Up.File, m.Name)
		}
		m.Up.NoTransaction = g.Up.RunDB != nil
		if g.Down != nil {
			m.Down = &source.Section{File: m.Up.File, Line: 1, NoTransaction: g.Down.RunDB != nil}
		}
	}
	for _, g := range r.goMigs {
		if seen[g.Version] {
			continue
		}
		if g.Name == "" {
			return nil, optionNamed("Options.GoMigrations", "Go migration %d has no name and no .go file to take one from", g.Version)
		}
		m := source.Migration{Version: g.Version, Ver: source.IntVersion(g.Version), Name: g.Name, Go: true, Checksum: goChecksum(g.Name),
			Up: source.Section{NoTransaction: g.Up.RunDB != nil}}
		if g.Down != nil {
			m.Down = &source.Section{NoTransaction: g.Down.RunDB != nil}
		}
		ms = append(ms, m)
	}
	// Repeatable migrations stay last, in their order; versions sort as
	// the source orders them, dotted ones included.
	slices.SortStableFunc(ms, func(a, b source.Migration) int {
		if a.Repeatable || b.Repeatable {
			switch {
			case a.Repeatable == b.Repeatable:
				return 0
			case a.Repeatable:
				return 1
			}
			return -1
		}
		return verOf(a).Compare(verOf(b))
	})
	return ms, nil
}

// verOf is m's version as the source spells it, or its integer version
// for a Source that leaves Ver unset; zero for a repeatable migration.
func verOf(m source.Migration) source.Version {
	if m.Repeatable {
		return source.Version{}
	}
	return orInt(m.Version, m.Ver)
}

// UnregisteredGoError reports a pending goose migration written in Go
// (a .go file) for which the program registered no functions
// (Options.GoMigrations): applying the migrations around it would leave
// its changes out.
type UnregisteredGoError struct {
	Version int64
	Name    string
	File    string
}

func (e *UnregisteredGoError) Error() string {
	return fmt.Sprintf("migration %d %s: %s is written in Go and no Go migration of version %d is registered with the runner, so it cannot run",
		e.Version, e.Name, e.File, e.Version)
}

func (e *UnregisteredGoError) Is(target error) bool { return target == ErrValidation }

// goPending refuses, before anything runs, the pending Go migrations that
// have no registered functions, and any Go migration at all where the
// run sends its migrations as SQL only (what names the mode).
func (r *Runner) goPending(todo []*source.Migration, what string) error {
	var errs []error
	for _, m := range todo {
		if !m.Go {
			continue
		}
		if _, ok := r.goMigs[m.Version]; !ok {
			errs = append(errs, &UnregisteredGoError{Version: m.Version, Name: m.Name, File: m.Up.File})
			continue
		}
		if what != "" {
			errs = append(errs, invalidOption("migration %d %s is written in Go, which %s cannot run: it sends the migrations as SQL", m.Version, m.Name, what))
		}
	}
	return errors.Join(errs...)
}

// goStep runs one direction of a registered Go migration and records it.
func (r *Runner) goStep(ctx context.Context, s *session, m *source.Migration, dir Direction) error {
	g := r.goMigs[m.Version]
	var fn *GoFunc
	if g != nil {
		fn = g.Up
		if dir == Down {
			fn = g.Down
		}
	}
	file := m.Up.File
	if fn == nil {
		// Refused before the run by goPending and rollbackTargets.
		return &MigrationError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: file, Err: errors.New("no Go function registered for this direction")}
	}
	if fn.RunDB != nil {
		return r.goDB(ctx, s, m, dir, fn.RunDB)
	}
	return r.goTx(ctx, s, m, dir, fn.RunTx)
}

// goTx runs fn in a transaction with the step's history change, checks the
// lock and resets the session before COMMIT, as tryTransaction does for SQL.
func (r *Runner) goTx(ctx context.Context, s *session, m *source.Migration, dir Direction, fn func(context.Context, pgx.Tx) error) error {
	fail := func(err error) error {
		rollback(ctx, s)
		return &MigrationError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: m.Up.File, Err: err}
	}
	tx, err := s.conn.Begin(ctx)
	if err != nil {
		return &MigrationError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: m.Up.File, Err: fmt.Errorf("begin: %w", err)}
	}
	if t := r.opts.DDLLockTimeout; t > 0 {
		if _, err := execSimple(ctx, s.conn, fmt.Sprintf("SET LOCAL lock_timeout = '%dms'", t.Milliseconds()), nil); err != nil {
			return fail(err)
		}
	}
	stop := r.watch(ctx, s, m, dir, 0, 0)
	fctx, cancel := untilLost(ctx, s)
	err = fn(fctx, tx)
	cancel()
	stop()
	if err != nil {
		return fail(err)
	}
	switch s.conn.PgConn().TxStatus() {
	case 'I':
		// Whatever it did is committed, without its history row.
		return &MigrationError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: m.Up.File,
			Err: errors.New("the Go function ended the transaction pgmig opened for it; its changes may be kept without a history row: check the database")}
	case 'E':
		return fail(errors.New("the Go function returned no error but left its transaction failed (an error it did not return?)"))
	}
	record := s.tr.insertSQL(verOf(*m), m.Name, m.Checksum, sinceStatement)
	if dir == Down {
		record = s.tr.deleteSQL(verOf(*m))
	}
	// The reset ends every migration, so the next one starts from the
	// session pgmig opened, whatever the function set.
	var row pgconn.CommandTag
	n, err := execSimple(ctx, s.conn, record+";\n"+s.reset, func(i int, t pgconn.CommandTag) {
		if i == 0 {
			row = t
		}
	})
	if err != nil {
		return fail(fmt.Errorf("record in history: %w", err))
	}
	if n == 0 {
		return fail(errors.New("record in history: no result for the history row"))
	}
	// Under a lease the row is written only while the lock is held.
	if err := s.tr.one(row, nil, "its history row"); err != nil {
		return fail(err)
	}
	if err := s.checkHeld(ctx); err != nil {
		return fail(err)
	}
	if err := commit(ctx, s); err != nil {
		return &MigrationError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: m.Up.File, Err: fmt.Errorf("at COMMIT: %w", err)}
	}
	return nil
}

// goDB runs fn on the pool outside a transaction, recorded as
// runStatements records a no-transaction section: a failed row first,
// marked successful (or, rolling back, removed) once fn returns nil.
func (r *Runner) goDB(ctx context.Context, s *session, m *source.Migration, dir Direction, fn func(context.Context, *pgxpool.Pool) error) error {
	merr := func(err error) error {
		return &MigrationError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: m.Up.File, NoTransaction: true, Err: err}
	}
	if err := s.tr.markStarted(ctx, s.conn, dir, verOf(*m), m.Name, m.Checksum); err != nil {
		return fmt.Errorf("%s %s %s: record start: %w", dir.verb(), verOf(*m), m.Name, err)
	}
	if err := s.checkHeld(ctx); err != nil {
		return merr(err)
	}
	start := time.Now()
	fctx, cancel := untilLost(ctx, s)
	err := fn(fctx, r.pool)
	cancel()
	if err != nil {
		e := merr(err)
		if uerr := s.tr.markFailed(context.WithoutCancel(ctx), s.conn, verOf(*m), "Go function failed: "+errorText(err), false); uerr != nil {
			return errors.Join(e, fmt.Errorf("record failure: %w", uerr))
		}
		return e
	}
	if err := s.tr.markDone(ctx, s.conn, dir, verOf(*m), time.Since(start)); err != nil {
		return fmt.Errorf("%s %s %s: record finish: %w", dir.verb(), verOf(*m), m.Name, err)
	}
	return nil
}

// untilLost returns ctx, also cancelled (cause ErrLockLost) when the run's
// lock is lost: a Go function's work is not bound to the work connection,
// whose statement in flight the loss cancels, so it is told through its
// context.
func untilLost(ctx context.Context, s *session) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancelCause(ctx)
	if s.held == nil {
		return c, func() { cancel(nil) }
	}
	go func() {
		select {
		case <-s.held.Lost():
			cancel(ErrLockLost)
		case <-c.Done():
		}
	}()
	return c, func() { cancel(nil) }
}
