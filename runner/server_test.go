package runner_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/runner"
)

// TestAddValueRunsInTheTransactionFrom12: on PostgreSQL 12 and later
// ALTER TYPE … ADD VALUE runs inside the migration's transaction, in
// pgmig's files and in Flyway's alike, so a migration that fails after it
// takes the new value back with the rest.
func TestAddValueRunsInTheTransactionFrom12(t *testing.T) {
	pgtest.RequireVersion(t, 12, "ALTER TYPE … ADD VALUE in a transaction block")
	e := newEnv(t)
	ctx := context.Background()
	files := fstest.MapFS{
		"V1__mood.sql": {Data: []byte("CREATE TYPE mood AS ENUM ('sad');\nALTER TYPE mood ADD VALUE 'happy';\n")},
		"002_more.sql": {Data: []byte("-- pgmig:up\nALTER TYPE mood ADD VALUE 'ok';\nCREATE TABLE t (m mood);\n")},
	}
	r := e.flywayRunner(files, runner.Options{})
	rep, err := r.Up(ctx, runner.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range rep.Applied {
		if st.NoTransaction {
			t.Errorf("%s ran without a transaction", st.Name)
		}
	}
	if _, err := r.Validate(ctx); err != nil {
		t.Errorf("validate: %v", err)
	}

	// A failure after ADD VALUE rolls the value back with the migration.
	files["V3__fails.sql"] = &fstest.MapFile{Data: []byte("ALTER TYPE mood ADD VALUE 'lost';\nSELECT 1/0;\n")}
	_, err = e.flywayRunner(files, runner.Options{}).Up(ctx, runner.UpOptions{})
	var me *runner.MigrationError
	var pe *pgconn.PgError
	if !errors.As(err, &me) || me.NoTransaction || !errors.As(err, &pe) || pe.Code != "22012" {
		t.Fatalf("V3: %v, want division by zero in a transaction", err)
	}
	var labels string
	if err := e.pool.QueryRow(ctx, "SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'mood'::regtype").Scan(&labels); err != nil {
		t.Fatal(err)
	}
	if labels != "sad,happy,ok" {
		t.Errorf("mood = %s, want sad,happy,ok: the failed migration's value rolled back", labels)
	}
}
