package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/internal/connstr"
	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/schema"
	"github.com/pgmig/pgmig/source"
)

func (a *cliApp) verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "check on a scratch database that every down section restores the schema its up found",
		UsageText: "pgmig verify [--dev-url URL]\n\n" +
			"Creates pgmig_verify_<random> on the server of --database-url (the role needs CREATEDB),\n" +
			"applies each migration, rolls it back and applies it again, comparing schema snapshots,\n" +
			"and drops the database whatever happens. With --dev-url it uses that database instead,\n" +
			"which must be empty, and leaves it empty.\n\n" +
			"Examples:\n   pgmig verify --source migrations\n   pgmig verify --dev-url postgres://localhost/app_dev --format json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dev-url", Usage: "an empty database (`URL`) to verify in, instead of creating a scratch one", EnvVars: []string{"PGMIG_DEV_URL"}},
		},
		Action: a.verify,
	}
}

// schemaDifference is a step after which the schema is not what it should be.
type schemaDifference struct {
	Version int64
	Name    string
	// Step is "down" (rolling back did not restore the schema before the
	// up) or "up" (applying again after the down gave another schema than
	// the first time).
	Step    string
	Objects []string
	Diff    string
}

func (d *schemaDifference) Error() string {
	if d.Step == "down" {
		return fmt.Sprintf("rolling back %s %s does not restore the schema before it", fmtVersion(d.Version), d.Name)
	}
	return fmt.Sprintf("applying %s %s again after its down gives another schema than the first time", fmtVersion(d.Version), d.Name)
}

// verify applies, rolls back and applies again each migration in turn on
// a scratch database, comparing schema snapshots after each step.
//
// It goes migration by migration (up, down, up) rather than all ups, then
// all downs, then all ups: the states compared are the same when the
// migrations are right, and this way the first bad migration found is the
// oldest one, and everything before it is known good.
func (a *cliApp) verify(c *cli.Context) error {
	ctx := c.Context
	ms, err := a.readSource(c)
	if err != nil {
		return err
	}
	table := c.String("table")
	exclude, tableSchema, err := trackingTable(table)
	if err != nil {
		return err
	}

	var target *pgdb.DB
	if dev := c.String("dev-url"); dev != "" {
		target, err = a.dial(ctx, c, dev, "--dev-url")
		if err != nil {
			return err
		}
		defer target.Close()
		restore, err := a.borrowDevDB(c, target, exclude, tableSchema)
		if err != nil {
			return err
		}
		defer restore(ms)
	} else {
		sc, err := a.createScratch(c, "pgmig_verify_")
		if err != nil {
			return err
		}
		defer sc.drop(ctx)
		target = sc.db
		if tableSchema != "" {
			// The runner creates the tracking table's schema with the table,
			// at the first up: make it now, so that it is in the snapshot
			// taken before that up as well.
			if _, err := target.Pool().Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{tableSchema}.Sanitize()); err != nil {
				return fmt.Errorf("verify: create schema %s: %w", tableSchema, err)
			}
		}
	}

	r, err := a.scratchRunner(c, target, ms)
	if err != nil {
		return err
	}
	start := time.Now()
	verified, err := a.verifyCycle(ctx, r, target, ms, exclude)
	var diff *schemaDifference
	var mig *runner.MigrationError
	var missing *runner.MissingDownError
	switch {
	case ctx.Err() != nil:
		// Cancelled (Ctrl-C): not a verdict on the migrations.
		return err
	case err == nil:
		a.out.verified(verified, nil, nil, time.Since(start))
		return nil
	case errors.As(err, &diff):
		a.out.verified(verified, diff, nil, time.Since(start))
		return reported(invalid(err))
	case errors.As(err, &mig), errors.As(err, &missing):
		// The migrations themselves fail on an empty database: a verdict
		// on them, exit 3.
		if a.out.json {
			a.out.verified(verified, nil, err, time.Since(start))
			return reported(invalid(err))
		}
		return invalid(err)
	default:
		// Connection lost, cancelled, lock not acquired, ...: not a verdict.
		return err
	}
}

// verifyCycle runs up, down, up for each migration in version order and
// returns those verified before the first problem.
func (a *cliApp) verifyCycle(ctx context.Context, r *runner.Runner, db *pgdb.DB, ms []source.Migration, exclude string) ([]verifiedMigration, error) {
	verified := []verifiedMigration{}
	take := func(label string) (*schema.Snapshot, error) {
		s, err := schema.Take(ctx, db.Pool(), schema.Options{Exclude: []string{exclude}})
		if err != nil {
			return nil, err
		}
		s.Label = label
		return s, nil
	}
	before, err := take("")
	if err != nil {
		return verified, err
	}
	for _, m := range ms {
		v, name := fmtVersion(m.Version), m.Name
		before.Label = "before " + v + " " + name
		if _, err := r.Up(ctx, runner.UpOptions{Steps: 1}); err != nil {
			return verified, err
		}
		after, err := take("after " + v + " " + name)
		if err != nil {
			return verified, err
		}
		if m.Down == nil {
			return verified, fmt.Errorf("cannot verify %s %s: %w", v, name, &runner.MissingDownError{Version: m.Version, Name: m.Name, File: m.Up.File})
		}
		if _, err := r.Rollback(ctx, runner.RollbackOptions{Steps: 1}); err != nil {
			return verified, err
		}
		back, err := take("after rolling back " + v + " " + name)
		if err != nil {
			return verified, err
		}
		if d, objects := schema.Diff(before, back); len(objects) > 0 {
			return verified, &schemaDifference{Version: m.Version, Name: m.Name, Step: "down", Objects: objects, Diff: d}
		}
		if _, err := r.Up(ctx, runner.UpOptions{Steps: 1}); err != nil {
			return verified, err
		}
		again, err := take("after applying " + v + " " + name + " again")
		if err != nil {
			return verified, err
		}
		if d, objects := schema.Diff(after, again); len(objects) > 0 {
			return verified, &schemaDifference{Version: m.Version, Name: m.Name, Step: "up", Objects: objects, Diff: d}
		}
		verified = append(verified, verifiedMigration{m.Version, m.Name})
		a.out.verifiedStep(m.Version, m.Name)
		before = after
	}
	return verified, nil
}

// trackingTable returns the tracking table's name as to_regclass reads it,
// and its schema when it names one other than public.
func trackingTable(table string) (regclass, schemaName string, err error) {
	if table == "" {
		table = runner.DefaultTable
	}
	parts, err := runner.ParseTable(table)
	if err != nil {
		return "", "", usagef("--table %q: %v", table, err)
	}
	if len(parts) == 2 && parts[0] != "public" {
		schemaName = parts[0]
	}
	return pgx.Identifier(parts).Sanitize(), schemaName, nil
}

// scratchRunner builds a runner for a scratch, dev or (drift) live
// database with the command line's settings. Its events are not printed as
// up and rollback print them: only waits, retries and failures are.
func (a *cliApp) scratchRunner(c *cli.Context, db *pgdb.DB, ms []source.Migration) (*runner.Runner, error) {
	return a.newRunner(c, db, ms, runnerUse{compare: true, onEvent: func(e runner.Event) {
		if e.Kind != runner.StepFinished && e.Kind != runner.StepProgress {
			a.out.event(e)
		}
	}})
}

// scratch is a database pgmig created for itself, to drop afterwards.
type scratch struct {
	name   string
	admin  *pgdb.DB // connected to --database-url, which creates and drops it
	db     *pgdb.DB // connected to the scratch database
	logger func(msg string, args ...any)
}

// drop closes the scratch database's connections and drops it, even when
// ctx was cancelled (Ctrl-C): WITH (FORCE) ends any session still in it.
func (sc *scratch) drop(ctx context.Context) {
	if sc.db != nil {
		sc.db.Close()
		sc.db = nil
	}
	if sc.admin == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := sc.admin.Pool().Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{sc.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		sc.logger("could not drop the scratch database; drop it by hand", "name", sc.name, "err", err)
	} else {
		sc.logger("dropped scratch database", "name", sc.name)
	}
	sc.admin.Close()
	sc.admin = nil
}

// createScratch creates a database named prefix + random hex on the
// server of --database-url, and connects to it. The caller defers drop
// at once, even when createScratch fails: it cleans up whatever was made.
func (a *cliApp) createScratch(c *cli.Context, prefix string) (*scratch, error) {
	ctx := c.Context
	admin, err := a.connect(c)
	if err != nil {
		return nil, err
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	sc := &scratch{name: prefix + hex.EncodeToString(rnd[:]), admin: admin, logger: a.logger.Info}
	ident := pgx.Identifier{sc.name}.Sanitize()
	if _, err := admin.Pool().Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		var user string
		var pe *pgconn.PgError
		refused := errors.As(err, &pe) && pe.Code == "42501"
		if refused {
			admin.Pool().QueryRow(context.WithoutCancel(ctx), "SELECT current_user").Scan(&user)
		}
		// The database may exist all the same, if ctx ended as the server
		// created it.
		sc.drop(ctx)
		if refused {
			return nil, fmt.Errorf("create scratch database %s: %w\n"+
				"the role %q may not create databases: grant it with ALTER ROLE %s CREATEDB, "+
				"or pass --dev-url with an empty database pgmig may use", sc.name, err, user, quoteIdent(user))
		}
		return nil, fmt.Errorf("create scratch database %s: %w", sc.name, err)
	}
	a.logger.Info("created scratch database", "name", sc.name)
	dbURL, err := withDatabase(c.String("database-url"), sc.name)
	if err == nil {
		sc.db, err = a.dial(ctx, c, dbURL, "--database-url")
	}
	if err != nil {
		sc.drop(ctx)
		return nil, fmt.Errorf("connect to scratch database %s: %w", sc.name, err)
	}
	return sc, nil
}

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// quoteIdent quotes name for SQL only when it needs quotes, for messages
// people copy.
func quoteIdent(name string) string {
	if plainIdent.MatchString(name) {
		return name
	}
	return pgx.Identifier{name}.Sanitize()
}

// withDatabase returns connString naming database name instead of its
// own, in either form; an empty string is the libpq defaults.
func withDatabase(connString, name string) (string, error) {
	s, err := connstr.With(connString, map[string]string{"dbname": name})
	if err != nil {
		return "", usage(fmt.Errorf("--database-url: %s", pgdb.Redact(connString)))
	}
	return s, nil
}

// borrowDevDB checks that the --dev-url database is empty (it is never
// changed otherwise) and returns a function that empties it again at the
// end: everything rolled back, the tracking table and its schema dropped if
// verify created them.
func (a *cliApp) borrowDevDB(c *cli.Context, db *pgdb.DB, exclude, tableSchema string) (func([]source.Migration), error) {
	ctx := c.Context
	snap, err := schema.Take(ctx, db.Pool(), schema.Options{Exclude: []string{exclude}})
	if err != nil {
		return nil, fmt.Errorf("--dev-url: %w", err)
	}
	var tableExisted, schemaExisted, hasRows bool
	err = db.Pool().QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL, $2 = '' OR EXISTS (SELECT FROM pg_namespace WHERE nspname = $2)`,
		exclude, tableSchema).Scan(&tableExisted, &schemaExisted)
	if err != nil {
		return nil, fmt.Errorf("--dev-url: %w", err)
	}
	if tableExisted {
		if err := db.Pool().QueryRow(ctx, "SELECT EXISTS (SELECT FROM "+exclude+")").Scan(&hasRows); err != nil {
			return nil, fmt.Errorf("--dev-url: read %s: %w", exclude, err)
		}
	}
	if !snap.Empty() || hasRows {
		what := "migrations recorded in " + exclude
		if !snap.Empty() {
			what = firstUserObject(snap)
		}
		return nil, usagef("--dev-url: the database is not empty (it holds %s); verify uses only an empty database, so that it never destroys data", what)
	}
	if tableSchema != "" && !schemaExisted {
		if _, err := db.Pool().Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{tableSchema}.Sanitize()); err != nil {
			return nil, fmt.Errorf("--dev-url: create schema %s: %w", tableSchema, err)
		}
	}
	return func(ms []source.Migration) {
		ctx := context.WithoutCancel(ctx)
		r, err := a.newRunner(c, db, ms, runnerUse{compare: true})
		if err == nil {
			_, err = r.Rollback(ctx, runner.RollbackOptions{All: true})
		}
		if err == nil && !tableExisted {
			_, err = db.Pool().Exec(ctx, "DROP TABLE IF EXISTS "+exclude)
		}
		if err == nil && tableSchema != "" && !schemaExisted {
			_, err = db.Pool().Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{tableSchema}.Sanitize())
		}
		if err != nil {
			fmt.Fprintf(a.stderr, "warning: could not empty the --dev-url database again: %v\n", err)
			return
		}
		if now, err := schema.Take(ctx, db.Pool(), schema.Options{Exclude: []string{exclude}}); err == nil {
			if _, objects := schema.Diff(snap, now); len(objects) > 0 {
				fmt.Fprintf(a.stderr, "warning: the --dev-url database was empty and still holds after rolling everything back: %s\n", strings.Join(objects, ", "))
			}
		}
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
