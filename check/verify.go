package check

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/schema"
	"github.com/pgmig/pgmig/source"
)

// VerifyOptions tune Verify and VerifyIn. The zero value works.
type VerifyOptions struct {
	// Runner is the settings of the runner that applies and rolls back the
	// migrations: tracking table (empty means runner.DefaultTable), lock
	// and DDL timeouts, retries, OnEvent. Its Logger also gets the scratch
	// database's lifecycle.
	Runner runner.Options
	// OnVerified, when set, is called as each migration passes, in version
	// order, for progress.
	OnVerified func(Verified)
}

// Verified is a migration whose down restored the schema its up found,
// and whose up, applied again, gave the same schema as the first time.
type Verified struct {
	Version int64          // 0 for a dotted version
	Ver     source.Version // the version as the file spells it
	Name    string
}

// VerifyReport is what Verify found, also when it returns an error.
type VerifyReport struct {
	// Database is the scratch database verify worked in (already dropped
	// when Verify returns), or the one given to VerifyIn.
	Database string
	// Verified lists the migrations verified before the first problem:
	// all of them when the error is nil.
	Verified []Verified
	Duration time.Duration
	// Leftover names what a VerifyIn database still holds after
	// everything was rolled back (a faulty down); empty when it was left as
	// it was found.
	Leftover []string
	// Cleanup is the failure to drop the scratch database, or to empty a
	// VerifyIn database again. The verdict stands; the database needs
	// attention by hand.
	Cleanup error
}

// DifferenceError is a migration after whose down, or second up, the
// schema is not what it should be. It matches runner.ErrValidation: the
// migrations are at fault.
type DifferenceError struct {
	Version int64          // 0 for a dotted version
	Ver     source.Version // the version as the file spells it; may be unset (then Version)
	Name    string
	// Step is "down" (rolling back did not restore the schema before the
	// up) or "up" (applying again after the down gave another schema than
	// the first time).
	Step string
	// Objects are the keys of the objects that differ ("index
	// public.idx_users_last_login"), and Diff the unified diff of the two
	// snapshots.
	Objects []string
	Diff    string
}

func (e *DifferenceError) Error() string {
	if e.Step == "down" {
		return fmt.Sprintf("rolling back %s does not restore the schema before it", label(e.Version, e.Ver, e.Name))
	}
	return fmt.Sprintf("applying %s again after its down gives another schema than the first time", label(e.Version, e.Ver, e.Name))
}

func (e *DifferenceError) Is(target error) bool { return target == runner.ErrValidation }

// NotEmptyError is VerifyIn refusing a database that holds something:
// verify destroys what it builds, so it works only where nothing was. It
// matches runner.ErrInvalidOption: the database is the caller's choice.
type NotEmptyError struct {
	// Holds names one object found, or the tracking table with rows.
	Holds string
}

func (e *NotEmptyError) Error() string {
	return fmt.Sprintf("the database is not empty (it holds %s); verify uses only an empty database, so that it never destroys data", e.Holds)
}

func (e *NotEmptyError) Is(target error) bool { return target == runner.ErrInvalidOption }

// Verify checks that every down section undoes its up, on a scratch
// database named pgmig_verify_<random> that it creates on server's server
// and drops whatever happens (an error, a cancelled ctx).
//
// For each migration in version order it applies it, rolls it back and
// applies it again, comparing schema snapshots: after the down the schema
// must be the one before the up, and after the second up the one after the
// first. It goes migration by migration rather than all ups, all downs, all
// ups: the states compared are the same when the migrations are right, and
// this way the first bad migration found is the oldest, with everything
// before it known good.
//
// It stops at the first problem and returns it: a *DifferenceError, the
// runner's *runner.MigrationError when an up or down fails (unwrapping to
// the *pgconn.PgError), a *runner.MissingDownError for a migration with no
// down section (nothing after it could be verified). Other errors (no
// connection, a *PrivilegeError, ctx cancelled) are no verdict on the
// migrations. The report is filled in either case.
func Verify(ctx context.Context, server *pgxpool.Pool, src source.Source, opts VerifyOptions) (VerifyReport, error) {
	return verify(ctx, server, src, opts, func(ms []source.Migration, tt tracking, rep *VerifyReport) (*pgxpool.Pool, func(), error) {
		sc, err := NewScratch(ctx, server, "pgmig_verify_", opts.Runner.Logger)
		if err != nil {
			return nil, nil, err
		}
		rep.Database = sc.Name
		drop := func() { rep.Cleanup = sc.Drop() }
		if tt.schema != "" {
			// The runner creates the tracking table's schema with the table,
			// at the first up: make it now, so that it is in the snapshot
			// taken before that up as well.
			if _, err := sc.Pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{tt.schema}.Sanitize()); err != nil {
				drop()
				return nil, nil, fmt.Errorf("verify: create schema %s: %w", tt.schema, err)
			}
		}
		return sc.Pool, drop, nil
	})
}

// VerifyIn is Verify in dev, a database the caller provides instead of a
// scratch one, for a role without CREATEDB. dev must be empty (no object
// but extensions and the public schema, no rows in the tracking table):
// anything else is refused with a *NotEmptyError before anything changes.
// At the end everything is rolled back and the tracking table (and its
// schema) dropped if VerifyIn created them, leaving dev as it was;
// VerifyReport.Leftover names what a faulty down left behind.
func VerifyIn(ctx context.Context, dev *pgxpool.Pool, src source.Source, opts VerifyOptions) (VerifyReport, error) {
	return verify(ctx, dev, src, opts, func(ms []source.Migration, tt tracking, rep *VerifyReport) (*pgxpool.Pool, func(), error) {
		if err := dev.QueryRow(ctx, "SELECT current_database()").Scan(&rep.Database); err != nil {
			return nil, nil, fmt.Errorf("verify: %w", err)
		}
		restore, err := borrow(ctx, dev, ms, tt, opts.Runner)
		if err != nil {
			return nil, nil, err
		}
		return dev, func() { rep.Leftover, rep.Cleanup = restore() }, nil
	})
}

// verify reads the migrations and the tracking table's name (on pool,
// before anything is made), has setup give it the database to work in and
// the function that cleans it up afterwards, and runs the cycle there.
func verify(ctx context.Context, pool *pgxpool.Pool, src source.Source, opts VerifyOptions,
	setup func([]source.Migration, tracking, *VerifyReport) (*pgxpool.Pool, func(), error)) (rep VerifyReport, err error) {
	start := time.Now()
	defer func() { rep.Duration = time.Since(start) }()
	rep.Verified = []Verified{}
	ms, tt, err := readInputs(ctx, pool, src, opts.Runner.Table)
	if err != nil {
		return rep, err
	}
	// New checks the options without touching the database: refuse bad
	// ones before anything is created or borrowed.
	if _, err := runner.New(pool, static(ms), opts.Runner); err != nil {
		return rep, err
	}
	db, cleanup, err := setup(ms, tt, &rep)
	if err != nil {
		return rep, err
	}
	defer cleanup()
	return rep, stopped(ctx, verifyCycle(ctx, db, ms, tt, opts, &rep))
}

// stopped makes an error that happened because ctx ended match ctx's
// error: a statement cancelled mid-migration comes back as the server's
// "canceling statement" (57014) inside a *runner.MigrationError, which is
// no verdict on the migration.
func stopped(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil || errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("verify stopped: %w: %w", ctx.Err(), err)
}

// verifyCycle runs up, down, up for each migration in version order,
// adding those verified to rep.
func verifyCycle(ctx context.Context, pool *pgxpool.Pool, ms []source.Migration, tt tracking, opts VerifyOptions, rep *VerifyReport) error {
	r, err := runner.New(pool, static(ms), opts.Runner)
	if err != nil {
		return err
	}
	take := func(label string) (*schema.Snapshot, error) {
		s, err := schema.Take(ctx, pool, schema.Options{Exclude: []string{tt.ident}})
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		s.Label = label
		return s, nil
	}
	before, err := take("")
	if err != nil {
		return err
	}
	for _, m := range ms {
		l := label(m.Version, m.Ver, m.Name)
		before.Label = "before " + l
		if _, err := r.Up(ctx, runner.UpOptions{Steps: 1}); err != nil {
			return err
		}
		after, err := take("after " + l)
		if err != nil {
			return err
		}
		if m.Down == nil {
			return fmt.Errorf("cannot verify %s: %w", l, &runner.MissingDownError{Version: m.Version, Ver: m.Ver, Name: m.Name, File: m.Up.File})
		}
		if _, err := r.Rollback(ctx, runner.RollbackOptions{Steps: 1}); err != nil {
			return err
		}
		back, err := take("after rolling back " + l)
		if err != nil {
			return err
		}
		if d, objects := schema.Diff(before, back); len(objects) > 0 {
			return &DifferenceError{Version: m.Version, Ver: m.Ver, Name: m.Name, Step: "down", Objects: objects, Diff: d}
		}
		if _, err := r.Up(ctx, runner.UpOptions{Steps: 1}); err != nil {
			return err
		}
		again, err := take("after applying " + l + " again")
		if err != nil {
			return err
		}
		if d, objects := schema.Diff(after, again); len(objects) > 0 {
			return &DifferenceError{Version: m.Version, Ver: m.Ver, Name: m.Name, Step: "up", Objects: objects, Diff: d}
		}
		v := Verified{Version: m.Version, Ver: m.Ver, Name: m.Name}
		rep.Verified = append(rep.Verified, v)
		if opts.OnVerified != nil {
			opts.OnVerified(v)
		}
		before = after
	}
	return nil
}

// borrow checks that dev is empty (it is never changed otherwise) and
// returns the function that empties it again: everything rolled back, the
// tracking table and its schema dropped if verify created them. That
// function runs on a context of its own, so a cancelled run still cleans
// up; it returns what dev still holds, and its own failure.
func borrow(ctx context.Context, dev *pgxpool.Pool, ms []source.Migration, tt tracking, ropts runner.Options) (func() ([]string, error), error) {
	snap, err := schema.Take(ctx, dev, schema.Options{Exclude: []string{tt.ident}})
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	var tableExisted, schemaExisted, hasRows bool
	err = dev.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL, $2 = '' OR EXISTS (SELECT FROM pg_namespace WHERE nspname = $2)`,
		tt.ident, tt.schema).Scan(&tableExisted, &schemaExisted)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if tableExisted {
		if err := dev.QueryRow(ctx, "SELECT EXISTS (SELECT FROM "+tt.ident+")").Scan(&hasRows); err != nil {
			return nil, fmt.Errorf("verify: read %s: %w", tt.ident, err)
		}
	}
	if !snap.Empty() {
		return nil, &NotEmptyError{Holds: firstUserObject(snap)}
	}
	if hasRows {
		return nil, &NotEmptyError{Holds: "migrations recorded in " + tt.ident}
	}
	if tt.schema != "" && !schemaExisted {
		if _, err := dev.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{tt.schema}.Sanitize()); err != nil {
			return nil, fmt.Errorf("verify: create schema %s: %w", tt.schema, err)
		}
	}
	return func() ([]string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), DropTimeout)
		defer cancel()
		// Only the table and the logger: the rollback is housekeeping, not
		// progress the caller asked to hear about.
		r, err := runner.New(dev, static(ms), runner.Options{Table: ropts.Table, Logger: ropts.Logger})
		if err == nil {
			_, err = r.Rollback(ctx, runner.RollbackOptions{All: true})
		}
		if err == nil && !tableExisted {
			_, err = dev.Exec(ctx, "DROP TABLE IF EXISTS "+tt.ident)
		}
		if err == nil && tt.schema != "" && !schemaExisted {
			_, err = dev.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{tt.schema}.Sanitize())
		}
		if err != nil {
			return nil, fmt.Errorf("empty the database again: %w", err)
		}
		now, err := schema.Take(ctx, dev, schema.Options{Exclude: []string{tt.ident}})
		if err != nil {
			return nil, fmt.Errorf("empty the database again: %w", err)
		}
		_, objects := schema.Diff(snap, now)
		return objects, nil
	}, nil
}

// firstUserObject names an object of a snapshot that is not Empty.
func firstUserObject(s *schema.Snapshot) string {
	for _, o := range s.Objects {
		if o.Kind != "extension" && (o.Kind != "schema" || o.Name != "public") {
			return o.Key()
		}
	}
	return ""
}

// IsVerdict reports whether err, from Verify or VerifyIn, is a verdict on
// the migrations (a *DifferenceError, a failing up or down, a missing down
// section) rather than a failure to make the check (no connection, no
// CREATEDB, a cancelled context): a CLI exits 3 for the first, 1 for the
// second.
func IsVerdict(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var d *DifferenceError
	var m *runner.MigrationError
	var md *runner.MissingDownError
	return errors.As(err, &d) || errors.As(err, &m) || errors.As(err, &md)
}
