package runner_test

import (
	"context"
	"fmt"
	"log"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// A service applies its migrations at start-up: silently, with the result
// returned as data.
func Example() {
	pool, done := pgtest.ExamplePool()
	defer done()
	ctx := context.Background()

	r, err := runner.New(pool, source.Builtin(), runner.Options{})
	if err != nil {
		log.Fatal(err)
	}
	rep, err := r.Up(ctx, runner.UpOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range rep.Applied {
		fmt.Println("applied", s.Version, s.Name)
	}
	fmt.Println("now at", *rep.Current)

	rep, _ = r.Up(ctx, runner.UpOptions{})
	fmt.Println("second run applied", len(rep.Applied))
	// Output:
	// applied 1 create_users
	// applied 2 create_user_security
	// applied 3 create_audit_log
	// applied 4 create_sessions
	// now at 4
	// second run applied 0
}

// Progress arrives through OnEvent; the runner itself prints nothing.
func ExampleOptions_onEvent() {
	pool, done := pgtest.ExamplePool()
	defer done()
	ctx := context.Background()

	files := fstest.MapFS{
		"001_widgets.sql": {Data: []byte("-- pgmig:up\nCREATE TABLE widgets (id bigint);\n-- pgmig:down\nDROP TABLE widgets;\n")},
	}
	r, err := runner.New(pool, source.FromFS(files), runner.Options{
		OnEvent: func(e runner.Event) {
			if e.Kind == runner.StepFinished {
				fmt.Println(e.Step.Direction, e.Step.Version, e.Step.Name)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	r.Up(ctx, runner.UpOptions{})
	r.Rollback(ctx, runner.RollbackOptions{})
	// Output:
	// up 1 widgets
	// down 1 widgets
}

// Failures are typed: a caller can branch on a checksum mismatch, or reach
// the server's SQLSTATE through a MigrationError.
func ExampleMigrationError() {
	pool, done := pgtest.ExamplePool()
	defer done()
	ctx := context.Background()

	files := fstest.MapFS{
		"001_bad.sql": {Data: []byte("-- pgmig:up\nCREATE TABLE t (id int);\nSELECT nope FROM t;\n")},
	}
	r, _ := runner.New(pool, source.FromFS(files), runner.Options{})
	_, err := r.Up(ctx, runner.UpOptions{})
	fmt.Println(err)
	// Output:
	// apply 1 bad: 001_bad.sql:3:8: ERROR: column "nope" does not exist (SQLSTATE 42703)
}

// Migrations written in Go run beside the SQL files, as goose's Provider
// runs them: a goose NNN_name.go file takes the functions registered for
// its version, and a registration without a file is a migration of its
// own. RunTx runs in the transaction that records the migration; RunDB
// runs on the pool outside one, for work that cannot run in a transaction.
func ExampleOptions_goMigrations() {
	pool, done := pgtest.ExamplePool()
	defer done()
	ctx := context.Background()

	files := fstest.MapFS{
		"001_users.sql": {Data: []byte("-- +goose Up\nCREATE TABLE users (id bigint, email text);\n-- +goose Down\nDROP TABLE users;\n")},
		// goose's own Go migration file, as a goose project has it.
		"002_seed_admin.go": {Data: []byte("package migrations\n\nimport \"github.com/pressly/goose/v3\"\n\nfunc init() { goose.AddMigrationContext(upSeedAdmin, downSeedAdmin) }\n")},
	}
	src := source.FromFSWith(files, source.Options{GoMigrations: true})
	r, err := runner.New(pool, src, runner.Options{GoMigrations: []runner.GoMigration{
		{Version: 2, // 002_seed_admin.go
			Up: &runner.GoFunc{RunTx: func(ctx context.Context, tx pgx.Tx) error {
				_, err := tx.Exec(ctx, "INSERT INTO users VALUES (1, 'admin@example.com')")
				return err
			}},
			Down: &runner.GoFunc{RunTx: func(ctx context.Context, tx pgx.Tx) error {
				_, err := tx.Exec(ctx, "DELETE FROM users WHERE id = 1")
				return err
			}},
		},
		{Version: 3, Name: "index_email", // no file: a migration of its own
			Up: &runner.GoFunc{RunDB: func(ctx context.Context, db *pgxpool.Pool) error {
				_, err := db.Exec(ctx, "CREATE INDEX CONCURRENTLY users_email ON users (email)")
				return err
			}},
		},
	}})
	if err != nil {
		log.Fatal(err)
	}
	rep, err := r.Up(ctx, runner.UpOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range rep.Applied {
		fmt.Println("applied", s.Version, s.Name, "no-transaction:", s.NoTransaction)
	}
	// Output:
	// applied 1 users no-transaction: false
	// applied 2 seed_admin no-transaction: false
	// applied 3 index_email no-transaction: true
}
