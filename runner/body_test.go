package runner_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/pgmig/pgmig/runner"
)

// TestErrorInBodyPointsAtBodyLine: the server gives no position for an
// error raised inside a DO block or a function, only a context line
// naming the body's line; the report must point there, not at the DO.
func TestErrorInBodyPointsAtBodyLine(t *testing.T) {
	tests := []struct {
		name, sql  string
		line, col  int
		sourceLine string
	}{
		{
			name: "assignment in a DO block",
			sql:  "-- pgmig:up\nCREATE TABLE t (id int);\n\nDO $$\nDECLARE x int;\nBEGIN\n  x := 1;\n  PERFORM 1;\n  x := 1 / 0;\nEND $$;\n",
			line: 9, col: 3, sourceLine: "  x := 1 / 0;",
		},
		{
			name: "statement in a tagged DO body",
			sql:  "-- pgmig:up\nDO LANGUAGE plpgsql $body$\nBEGIN\n    PERFORM 1/0;\nEND\n$body$;\n",
			line: 4, col: 5, sourceLine: "    PERFORM 1/0;",
		},
		{
			name: "a function the file creates, called later",
			sql:  "-- pgmig:up\nCREATE FUNCTION half(a int) RETURNS int LANGUAGE plpgsql AS $f$\nBEGIN\n  IF a > 0 THEN\n    RETURN a / 0;\n  END IF;\n  RETURN 0;\nEND $f$;\nSELECT half(4);\n",
			line: 5, col: 5, sourceLine: "    RETURN a / 0;",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t) // parallel already
			files := fstest.MapFS{"001_body.sql": &fstest.MapFile{Data: []byte(tc.sql)}}
			_, err := e.runner(files, runner.Options{}).Up(context.Background(), runner.UpOptions{})
			var me *runner.MigrationError
			if !errors.As(err, &me) {
				t.Fatalf("want a MigrationError, got %v", err)
			}
			if me.Line != tc.line || me.Column != tc.col || me.SourceLine != tc.sourceLine {
				t.Errorf("reported %d:%d %q, want %d:%d %q", me.Line, me.Column, me.SourceLine, tc.line, tc.col, tc.sourceLine)
			}
		})
	}
}
