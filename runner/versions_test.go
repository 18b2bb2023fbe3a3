package runner_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/runner"
)

// TestVersionSpecificSyntax applies, rolls back and reports errors in
// migrations that use syntax newer than PostgreSQL 13, on the servers that
// have it; scripts/matrix.sh runs it on every supported version, where the
// older ones skip it, saying why.
func TestVersionSpecificSyntax(t *testing.T) {
	tests := []struct {
		name    string
		major   int
		feature string
		up      string
		bad     string // a statement of the same feature that fails, after the good ones
		line    int    // where bad's error must be reported in the file
	}{
		{"begin atomic", 14, "BEGIN ATOMIC function bodies",
			"CREATE TABLE t (a int);\nCREATE FUNCTION add1(x int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT x + 1;\nEND;",
			"CREATE FUNCTION bad() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT nope FROM t;\nEND;", 9},
		{"nulls not distinct", 15, "UNIQUE NULLS NOT DISTINCT",
			"CREATE TABLE t (a int, UNIQUE NULLS NOT DISTINCT (a));\nINSERT INTO t VALUES (NULL);",
			"INSERT INTO t VALUES (NULL);", 4},
		{"merge", 15, "MERGE",
			"CREATE TABLE t (a int PRIMARY KEY, n int);\nMERGE INTO t USING (VALUES (1)) v(a) ON t.a = v.a\n  WHEN NOT MATCHED THEN INSERT VALUES (v.a, 0);",
			"MERGE INTO t USING (VALUES (1)) v(a) ON t.a = v.a\n  WHEN MATCHED THEN UPDATE SET n = nope;", 6},
		{"json_table", 17, "JSON_TABLE",
			"CREATE TABLE t AS SELECT * FROM JSON_TABLE('[{\"a\": 1}]'::jsonb, '$[*]' COLUMNS (a int PATH '$.a'));",
			"SELECT * FROM JSON_TABLE('[1]'::jsonb, '$[*]' COLUMNS (a int PATH '$')) jt WHERE nope;", 3},
		{"virtual generated column", 18, "virtual generated columns",
			"CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) VIRTUAL);\nINSERT INTO t (a) VALUES (2);",
			"INSERT INTO t (a, b) VALUES (1, 2);", 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pgtest.RequireVersion(t, tc.major, tc.feature)
			e := newEnv(t)
			ctx := context.Background()
			files := fstest.MapFS{"001_feature.sql": mig(tc.up, "DROP TABLE t CASCADE;\nDROP FUNCTION IF EXISTS add1(int);")}
			r := e.runner(files, runner.Options{})
			if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
				t.Fatalf("up: %v", err)
			}
			if _, err := r.Rollback(ctx, runner.RollbackOptions{}); err != nil {
				t.Fatalf("rollback: %v", err)
			}
			if e.exists("t") {
				t.Fatal("rollback left the table")
			}
			files["001_feature.sql"] = mig(tc.up+"\n"+tc.bad, "")
			_, err := r.Up(ctx, runner.UpOptions{})
			var me *runner.MigrationError
			if !errors.As(err, &me) || me.Line != tc.line {
				t.Fatalf("failing statement: %v (%+v), want line %d", err, me, tc.line)
			}
			if e.exists("t") {
				t.Fatal("the failed migration left its table")
			}
		})
	}
}
