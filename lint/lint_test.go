package lint

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pgmig/pgmig/source"
)

// load parses files as pgmig reads them. A name beginning "tx:" is the
// transactional up section of migration 1 as a Go program may build it,
// past the source's validation (which refuses a statement that cannot run
// in a transaction before lint sees it).
func load(t *testing.T, files map[string]string) []source.Migration {
	t.Helper()
	fsys := fstest.MapFS{}
	var raw []source.Migration
	for name, body := range files {
		if file, ok := strings.CutPrefix(name, "tx:"); ok {
			raw = append(raw, source.Migration{Version: 1, Name: "a", Up: source.Section{File: file, SQL: body, Line: 1}})
			continue
		}
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	ms, err := source.FromFS(fsys).Migrations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return append(raw, ms...)
}

func format(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s:%d:%d: %s[%s]: %s\n", f.File, f.Line, f.Column, f.Level, f.Rule, f.Message)
	}
	return b.String()
}

func TestBuiltinIsClean(t *testing.T) {
	ms, err := source.Builtin().Migrations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res := Lint(ms, Options{})
	if len(res.Findings) > 0 || len(res.Ignored) > 0 {
		t.Errorf("the core migrations should lint clean, got:\n%s", format(res.Findings))
	}
}

// up wraps SQL as a single-file migration's up section.
func up(sql string) string { return "-- pgmig:up\n" + sql }

// noTx wraps SQL as an up section run outside a transaction.
func noTx(sql string) string { return "-- pgmig:up\n-- pgmig:no-transaction\n" + sql }

func TestRules(t *testing.T) {
	tests := []struct {
		name  string
		rule  string
		files map[string]string
		opts  Options
		want  []string // "file:line:col" of each finding of rule
	}{
		{"parse error at the parser's position", RuleParseError,
			map[string]string{"001_a.sql": up("SELECT 1;\nSELECT 'é' FRM x;\n")}, Options{}, []string{"001_a.sql:3:16"}},
		{"parse error in a down section", RuleParseError,
			map[string]string{"001_a.sql": up("SELECT 1;\n-- pgmig:down\nDROP TABLEE a;\n")}, Options{}, []string{"001_a.sql:4:6"}},
		{"parse error: valid SQL passes", RuleParseError,
			map[string]string{"001_a.sql": up("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\n")}, Options{}, nil},

		{"index on an existing table", RuleIndexNotConcurrent,
			map[string]string{"001_a.sql": up("\n  CREATE INDEX i ON users (email);\n")}, Options{}, []string{"001_a.sql:3:3"}},
		{"index on a table an earlier file created", RuleIndexNotConcurrent,
			map[string]string{"001_a.sql": "CREATE TABLE t (a int);\n", "002_b.sql": "CREATE INDEX i ON t (a);\n"}, Options{}, []string{"002_b.sql:1:1"}},
		{"index on a table the same file created", RuleIndexNotConcurrent,
			map[string]string{"001_a.sql": "CREATE TABLE t (a int);\nCREATE INDEX i ON t (a);\n"}, Options{}, nil},
		{"index built concurrently", RuleIndexNotConcurrent,
			map[string]string{"001_a.sql": noTx("CREATE INDEX CONCURRENTLY i ON users (email);\n")}, Options{}, nil},
		{"drop index of an earlier file", RuleIndexNotConcurrent,
			map[string]string{"001_a.sql": "CREATE TABLE t (a int);\nCREATE INDEX i ON t (a);\n", "002_b.sql": "DROP INDEX i;\n"}, Options{}, []string{"002_b.sql:1:1"}},
		{"drop index concurrently", RuleIndexNotConcurrent,
			map[string]string{"001_a.sql": noTx("DROP INDEX CONCURRENTLY i;\n")}, Options{}, nil},
		{"reindex", RuleIndexNotConcurrent,
			map[string]string{"001_a.sql": up("REINDEX TABLE users;\n")}, Options{}, []string{"001_a.sql:2:1"}},

		{"concurrently in a transaction", RuleConcurrentlyInTx,
			map[string]string{"tx:001_a.sql": "\nCREATE INDEX CONCURRENTLY i ON users (email);\nDROP INDEX CONCURRENTLY j;\n"}, Options{}, []string{"001_a.sql:2:1", "001_a.sql:3:1"}},
		{"concurrently outside a transaction", RuleConcurrentlyInTx,
			map[string]string{"001_a.sql": noTx("CREATE INDEX CONCURRENTLY i ON users (email);\n")}, Options{}, nil},

		{"check without NOT VALID", RuleConstraintNotValid,
			map[string]string{"001_a.sql": up("ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0);\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"foreign key without NOT VALID", RuleConstraintNotValid,
			map[string]string{"001_a.sql": up("ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES users (id);\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"column added with a foreign key", RuleConstraintNotValid,
			map[string]string{"001_a.sql": up("ALTER TABLE orders ADD COLUMN u bigint REFERENCES users (id);\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"NOT VALID, validated later", RuleConstraintNotValid,
			map[string]string{"001_a.sql": up("ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID;\n"), "002_b.sql": up("ALTER TABLE users VALIDATE CONSTRAINT c;\n")}, Options{}, nil},
		{"NOT VALID validated in the same transaction", RuleConstraintNotValid,
			map[string]string{"001_a.sql": up("ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT c;\n")}, Options{}, []string{"001_a.sql:3:1"}},
		{"constraint on a new table", RuleConstraintNotValid,
			map[string]string{"001_a.sql": up("CREATE TABLE t (a int);\nALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);\n")}, Options{}, nil},

		{"unique constraint", RuleUniqueConstraint,
			map[string]string{"001_a.sql": up("ALTER TABLE users ADD CONSTRAINT u UNIQUE (email);\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"primary key added", RuleUniqueConstraint,
			map[string]string{"001_a.sql": up("ALTER TABLE users ADD PRIMARY KEY (id);\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"unique constraint using an index", RuleUniqueConstraint,
			map[string]string{"001_a.sql": up("ALTER TABLE users ADD CONSTRAINT u UNIQUE USING INDEX users_email;\n")}, Options{}, nil},

		{"set not null", RuleSetNotNull,
			map[string]string{"001_a.sql": up("ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"set not null after a validated check", RuleSetNotNull,
			map[string]string{
				"001_a.sql": up("ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\n"),
				"002_b.sql": up("ALTER TABLE users VALIDATE CONSTRAINT email_nn;\n"),
				"003_c.sql": up("ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"),
			}, Options{}, nil},
		{"set not null after an unvalidated check", RuleSetNotNull,
			map[string]string{
				"001_a.sql": up("ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\n"),
				"002_b.sql": up("ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"),
			}, Options{}, []string{"002_b.sql:2:1"}},

		{"volatile default", RuleVolatileDefault,
			map[string]string{"001_a.sql": up("ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"serial column added", RuleVolatileDefault,
			map[string]string{"001_a.sql": up("ALTER TABLE users ADD COLUMN n bigserial;\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"stable default", RuleVolatileDefault,
			map[string]string{"001_a.sql": up("ALTER TABLE users ADD COLUMN seen timestamptz DEFAULT now();\nALTER TABLE users ADD COLUMN n int DEFAULT 0;\n")}, Options{}, nil},
		{"volatile default on a new table", RuleVolatileDefault,
			map[string]string{"001_a.sql": up("CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN token uuid DEFAULT gen_random_uuid();\n")}, Options{}, nil},

		{"column type change", RuleColumnTypeChange,
			map[string]string{"001_a.sql": up("ALTER TABLE users ALTER COLUMN n TYPE bigint;\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"column type change on a new table", RuleColumnTypeChange,
			map[string]string{"001_a.sql": up("CREATE TABLE t (n int);\nALTER TABLE t ALTER COLUMN n TYPE bigint;\n")}, Options{}, nil},

		{"not null without default", RuleNotNullNoDefault,
			map[string]string{"001_a.sql": up("ALTER TABLE users ADD COLUMN n int NOT NULL;\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"not null with a default", RuleNotNullNoDefault,
			map[string]string{"001_a.sql": up("ALTER TABLE users ADD COLUMN n int NOT NULL DEFAULT 0;\n")}, Options{}, nil},

		{"vacuum full", RuleVacuumFull,
			map[string]string{"001_a.sql": noTx("VACUUM FULL users;\n")}, Options{}, []string{"001_a.sql:3:1"}},
		{"plain vacuum", RuleVacuumFull,
			map[string]string{"001_a.sql": noTx("VACUUM (ANALYZE) users;\n")}, Options{}, nil},
		{"cluster", RuleCluster,
			map[string]string{"001_a.sql": up("CLUSTER users USING users_pkey;\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"cluster of a new table", RuleCluster,
			map[string]string{"001_a.sql": up("CREATE TABLE t (a int PRIMARY KEY);\nCLUSTER t USING t_pkey;\n")}, Options{}, nil},

		{"begin and commit", RuleTransactionControl,
			map[string]string{"001_a.sql": up("BEGIN;\nSELECT 1;\nCOMMIT;\n")}, Options{}, []string{"001_a.sql:2:1", "001_a.sql:4:1"}},
		{"savepoints", RuleTransactionControl,
			map[string]string{"001_a.sql": up("SAVEPOINT a;\nSELECT 1;\nROLLBACK TO SAVEPOINT a;\nRELEASE a;\n")}, Options{}, nil},

		{"enum value used in the same transaction", RuleEnumValueInTx,
			map[string]string{"001_a.sql": up("ALTER TYPE mood ADD VALUE 'meh';\nUPDATE people SET mood = 'meh' WHERE mood IS NULL;\n")}, Options{}, []string{"001_a.sql:3:1"}},
		{"enum value added alone", RuleEnumValueInTx,
			map[string]string{"001_a.sql": up("ALTER TYPE mood ADD VALUE 'meh';\n"), "002_b.sql": up("UPDATE people SET mood = 'meh';\n")}, Options{}, nil},

		{"rename column", RuleRenameColumn,
			map[string]string{"001_a.sql": up("ALTER TABLE users RENAME COLUMN name TO full_name;\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"rename column of a new table", RuleRenameColumn,
			map[string]string{"001_a.sql": up("CREATE TABLE t (a int);\nALTER TABLE t RENAME COLUMN a TO b;\n")}, Options{}, nil},
		{"rename table", RuleRenameTable,
			map[string]string{"001_a.sql": up("ALTER TABLE users RENAME TO accounts;\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"rename a new table", RuleRenameTable,
			map[string]string{"001_a.sql": up("CREATE TABLE t (a int);\nALTER TABLE t RENAME TO u;\n")}, Options{}, nil},

		{"drop column", RuleDropColumn,
			map[string]string{"001_a.sql": up("ALTER TABLE users DROP COLUMN legacy;\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"drop column of a new table", RuleDropColumn,
			map[string]string{"001_a.sql": up("CREATE TABLE t (a int, b int);\nALTER TABLE t DROP COLUMN b;\n")}, Options{}, nil},
		{"drop table", RuleDropTable,
			map[string]string{"001_a.sql": "CREATE TABLE t (a int);\n", "002_b.sql": "DROP TABLE t;\n"}, Options{}, []string{"002_b.sql:1:1"}},
		{"drop table in its down section", RuleDropTable,
			map[string]string{"001_a.sql": up("CREATE TABLE t (a int);\n-- pgmig:down\nDROP TABLE t;\n")}, Options{}, nil},
		{"drop schema", RuleDropSchema,
			map[string]string{"001_a.sql": up("DROP SCHEMA old CASCADE;\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"drop a new schema", RuleDropSchema,
			map[string]string{"001_a.sql": up("CREATE SCHEMA tmp;\nDROP SCHEMA tmp;\n")}, Options{}, nil},
		{"drop database", RuleDropDatabase,
			map[string]string{"001_a.sql": noTx("DROP DATABASE old;\n")}, Options{}, []string{"001_a.sql:3:1"}},
		{"drop database: other drops", RuleDropDatabase,
			map[string]string{"001_a.sql": up("DROP VIEW v;\n")}, Options{}, nil},

		{"no lock timeout", RuleNoLockTimeout,
			map[string]string{"001_a.sql": up("SELECT 1;\nALTER TABLE users ADD COLUMN n int;\nALTER TABLE users ADD COLUMN m int;\n")}, Options{}, []string{"001_a.sql:3:1"}},
		{"lock timeout directive", RuleNoLockTimeout,
			map[string]string{"001_a.sql": "-- pgmig:up\n-- pgmig:lock-timeout 2s\nALTER TABLE users ADD COLUMN n int;\n"}, Options{}, nil},
		{"lock timeout from the run", RuleNoLockTimeout,
			map[string]string{"001_a.sql": up("ALTER TABLE users ADD COLUMN n int;\n")}, Options{DDLLockTimeout: time.Second}, nil},
		{"lock timeout set in the section", RuleNoLockTimeout,
			map[string]string{"001_a.sql": noTx("SET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY i ON users (a);\nALTER TABLE users ADD COLUMN n int;\n")}, Options{}, nil},
		{"run's lock timeout does not reach a no-transaction section", RuleNoLockTimeout,
			map[string]string{"001_a.sql": noTx("ALTER TABLE users ADD COLUMN n int;\n")}, Options{DDLLockTimeout: time.Second}, []string{"001_a.sql:3:1"}},
		{"lock timeout turned off", RuleNoLockTimeout,
			map[string]string{"001_a.sql": up("SET LOCAL lock_timeout = 0;\nALTER TABLE users ADD COLUMN n int;\n")}, Options{DDLLockTimeout: time.Second}, []string{"001_a.sql:3:1"}},
		{"new tables only", RuleNoLockTimeout,
			map[string]string{"001_a.sql": up("CREATE TABLE t (a int REFERENCES users (id));\nCREATE INDEX ON t (a);\n")}, Options{}, nil},

		{"integer key", RuleIntKey,
			map[string]string{"001_a.sql": up("CREATE TABLE t (id serial PRIMARY KEY);\nCREATE TABLE u (id int, b int, PRIMARY KEY (id));\n")}, Options{}, []string{"001_a.sql:2:1", "001_a.sql:3:1"}},
		{"bigint identity key and integer columns", RuleIntKey,
			map[string]string{"001_a.sql": up("CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n INTEGER DEFAULT 0);\n")}, Options{}, nil},
		{"timestamp", RuleTimestampWithoutTZ,
			map[string]string{"001_a.sql": up("CREATE TABLE t (at timestamp);\nALTER TABLE t ADD COLUMN b timestamp(3) without time zone;\n")}, Options{}, []string{"001_a.sql:2:1", "001_a.sql:3:1"}},
		{"timestamptz", RuleTimestampWithoutTZ,
			map[string]string{"001_a.sql": up("CREATE TABLE t (at timestamptz, b TIMESTAMP WITH TIME ZONE);\n")}, Options{}, nil},
		{"char(n)", RuleChar,
			map[string]string{"001_a.sql": up("CREATE TABLE t (code char(3));\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"varchar and \"char\"", RuleChar,
			map[string]string{"001_a.sql": up("CREATE TABLE t (code varchar(3), k \"char\");\n")}, Options{}, nil},
		{"long identifier", RuleIdentifierTooLong,
			map[string]string{"001_a.sql": up("CREATE TABLE t (" + strings.Repeat("a", 64) + " int);\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"63-byte identifier", RuleIdentifierTooLong,
			map[string]string{"001_a.sql": up("CREATE TABLE t (" + strings.Repeat("a", 63) + " int);\n")}, Options{}, nil},
		{"up holding only a comment", RuleEmptyUp,
			map[string]string{"001_a.sql": up("-- nothing yet\n\n-- pgmig:down\nDROP TABLE t;\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"empty down is no finding", RuleEmptyUp,
			map[string]string{"001_a.sql": up("SELECT 1;\n-- pgmig:down\n")}, Options{}, nil},

		{"ignore naming an unknown rule", RuleUnknownIgnore,
			map[string]string{"001_a.sql": up("-- pgmig:lint-ignore drop-tables typo\nDROP TABLE old;\n")}, Options{}, []string{"001_a.sql:2:1"}},
		{"ignore that silences nothing", RuleUnusedIgnore,
			map[string]string{"001_a.sql": up("-- pgmig:lint-ignore drop-table stale\nSELECT 1;\n-- pgmig:lint-ignore drop-column at the end\n")}, Options{}, []string{"001_a.sql:2:1", "001_a.sql:4:1"}},
		{"ignore that silences", RuleUnusedIgnore,
			map[string]string{"001_a.sql": up("-- pgmig:lint-ignore drop-table,no-lock-timeout gone since v2\nDROP TABLE old;\n")}, Options{}, nil},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen[tc.rule] = true
			res := Lint(load(t, tc.files), tc.opts)
			var got []string
			for _, f := range res.Findings {
				if f.Rule != tc.rule {
					continue
				}
				got = append(got, fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Column))
				if f.Message == "" || f.Help == "" {
					t.Errorf("finding without message or help: %+v", f)
				}
				if r, _ := lookupRule(f.Rule); f.Level != r.Level {
					t.Errorf("finding level %s, rule's %s", f.Level, r.Level)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("%s fired at %v, want %v; all findings:\n%s", tc.rule, got, tc.want, format(res.Findings))
			}
		})
	}
	for _, r := range rules {
		if !seen[r.ID] {
			t.Errorf("rule %s has no test case", r.ID)
		}
	}
}

func TestIgnore(t *testing.T) {
	ms := load(t, map[string]string{
		"001_a.sql": "CREATE TABLE t (a int);\n",
		"002_b.sql": up("-- pgmig:lock-timeout 1s\nSELECT 1;\n-- pgmig:lint-ignore index-not-concurrent the table holds ten rows\nCREATE INDEX i ON t (a);\nCREATE INDEX j ON t (a);\n"),
	})
	res := Lint(ms, Options{})
	want := []Ignored{{Rule: RuleIndexNotConcurrent, Version: 2, Ver: source.IntVersion(2), File: "002_b.sql", Line: 5, Reason: "the table holds ten rows"}}
	if fmt.Sprint(res.Ignored) != fmt.Sprint(want) {
		t.Errorf("ignored %+v, want %+v", res.Ignored, want)
	}
	if got := format(res.Findings); got != "002_b.sql:6:1: error[index-not-concurrent]: CREATE INDEX on existing table \"t\" blocks writes for the whole build\n" {
		t.Errorf("findings:\n%s", got)
	}
	if res.Errors() != 1 || res.Warnings() != 0 {
		t.Errorf("%d errors, %d warnings, want 1 and 0", res.Errors(), res.Warnings())
	}
}

// TestDocsListEveryRule keeps docs/safety.md, which documents the rules, in
// step with the rule table.
func TestDocsListEveryRule(t *testing.T) {
	doc, err := os.ReadFile("../docs/safety.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules() {
		// docs/safety.md is the CLI's reference: it names the flag
		// that sets an option, as pgmig lint's findings do.
		help := strings.ReplaceAll(r.Help, OptionDDLLockTimeout, "--ddl-lock-timeout")
		row := fmt.Sprintf("| `%s` | %s | %s | %s |", r.ID, r.Level, r.Why, help)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/safety.md lacks the row\n%s", row)
		}
	}
}

// TestFindingsNameNoFlag: the no-lock-timeout finding advises the run's
// lock timeout as the Go API names it (no rule names a CLI flag), and
// Options.Name renders it as the caller offers it, in the message and
// the help alike.
func TestFindingsNameNoFlag(t *testing.T) {
	for _, r := range Rules() {
		if strings.Contains(r.Why+r.Help, "--") && !strings.Contains(r.Why+r.Help, "-- pgmig:") {
			t.Errorf("rule %s names a flag: %s / %s", r.ID, r.Why, r.Help)
		}
	}
	ms := load(t, map[string]string{"001_a.sql": up("ALTER TABLE users ADD COLUMN n int;\n")})
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"Go names", Options{}, OptionDDLLockTimeout},
		{"a CLI's names", Options{Name: func(o string) string {
			if o == OptionDDLLockTimeout {
				return "--ddl-lock-timeout"
			}
			return o
		}}, "--ddl-lock-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := Lint(ms, tc.opts).Findings
			if len(fs) != 1 || fs[0].Rule != RuleNoLockTimeout {
				t.Fatalf("findings:\n%s", format(fs))
			}
			f := fs[0]
			for what, text := range map[string]string{"message": f.Message, "help": f.Help} {
				if !strings.Contains(text, "the run no "+tc.want) && !strings.Contains(text, "(or run with "+tc.want+")") {
					t.Errorf("the %s does not name %s: %s", what, tc.want, text)
				}
				if strings.Contains(text, "{") {
					t.Errorf("the %s keeps a mark: %s", what, text)
				}
			}
			if tc.opts.Name == nil && strings.Contains(f.Message+f.Help, "--ddl") {
				t.Errorf("a finding names a flag: %s / %s", f.Message, f.Help)
			}
		})
	}
}
