package runner_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/runner"
)

// A section of a MiB or more goes as a query of its own, between BEGIN and
// the history row (execAlone), so that its text is not copied twice into
// one query: it must apply, fail and be located exactly as a small one.
func TestLargeSectionSentAlone(t *testing.T) {
	// 110,000 lines of "SELECT 1;" make 1.1 MB, past the 1 MiB threshold.
	filler := strings.Repeat("SELECT 1;\n", 110_000)
	const fillerLines = 110_000
	tests := []struct {
		name string
		tail string // after the filler and a CREATE TABLE on line 2
		// want: "" to apply; else the SQLSTATE, line and statement of the failure
		code      string
		line      int
		statement int
	}{
		{name: "applies", tail: "-- a last line comment, no newline"},
		{name: "last statement without semicolon", tail: "SELECT 2"},
		{name: "syntax error at its position", tail: "SELECT 1 +) 2;\n", code: "42601", line: 2 + fillerLines + 1, statement: 1 + fillerLines + 1},
		{name: "runtime error at its statement", tail: "SELECT 1;\nINSERT INTO big VALUES (1), (1);\n", code: "23505", line: 2 + fillerLines + 2, statement: 1 + fillerLines + 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			sql := "-- pgmig:up\nCREATE TABLE big (id int PRIMARY KEY);\n" + filler + tc.tail
			files := fstest.MapFS{"001_big.sql": {Data: []byte(sql)}}
			// A lock timeout puts a SET LOCAL in the prefix, which the
			// statement count must skip.
			_, err := e.runner(files, runner.Options{LockTimeout: time.Second}).Up(context.Background(), runner.UpOptions{})
			if tc.code == "" {
				if err != nil {
					t.Fatalf("up: %v", err)
				}
				if !e.exists("big") || e.history("") != "1" {
					t.Fatalf("after up: table %v, history %q", e.exists("big"), e.history(""))
				}
				return
			}
			var me *runner.MigrationError
			var pe *pgconn.PgError
			if !errors.As(err, &me) || !errors.As(err, &pe) || pe.Code != tc.code {
				t.Fatalf("up: %v, want a MigrationError over SQLSTATE %s", err, tc.code)
			}
			if me.Line != tc.line || me.Statement != tc.statement {
				t.Errorf("reported line %d statement %d, want line %d statement %d", me.Line, me.Statement, tc.line, tc.statement)
			}
			if e.exists("big") || e.history("") != "" {
				t.Fatal("failed migration left traces")
			}
		})
	}
}
