package runner_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgmig/pgmig/runner"
)

// flywayHistoryDDL is flyway_schema_history as Flyway creates it.
const flywayHistoryDDL = `CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), description varchar(200) NOT NULL,
  type varchar(20) NOT NULL, script varchar(1000) NOT NULL, checksum int, installed_by varchar(100) NOT NULL,
  installed_on timestamp NOT NULL DEFAULT now(), execution_time int NOT NULL, success boolean NOT NULL)`

// adoptFiles are five migrations each creating a table t1 … t5.
func adoptFiles() fstest.MapFS {
	files := fstest.MapFS{}
	for _, v := range []string{"1", "2", "3", "4", "5"} {
		files["00"+v+"_t"+v+".sql"] = mig("CREATE TABLE t"+v+" (id int);", "DROP TABLE t"+v+";")
	}
	return files
}

// TestAdopt builds each tool's history table as that tool lays it out and
// checks which versions Adopt takes over, then that Up applies the rest.
func TestAdopt(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		tool    runner.Tool
		table   string // --from-table; "" for the tool's default
		history string // SQL building the foreign history
		want    string // pgmig history after Adopt
		wantErr string // substring of an *AdoptError
	}{
		{name: "golang-migrate", tool: runner.GolangMigrate,
			history: `CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
INSERT INTO schema_migrations VALUES (3, false);`,
			want: "1,2,3"},
		{name: "golang-migrate dirty", tool: runner.GolangMigrate,
			history: `CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
INSERT INTO schema_migrations VALUES (3, true);`,
			wantErr: "version 3 is dirty"},
		{name: "golang-migrate empty", tool: runner.GolangMigrate,
			history: `CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);`,
			want:    "<no table>"},
		{name: "goose latest row decides", tool: runner.Goose,
			history: `CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (4, true), (4, false), (3, true), (2, false), (2, true);`,
			want: "1,2,3"},
		{name: "dbmate in another schema", tool: runner.Dbmate, table: "ops.dbmate_history",
			history: `CREATE SCHEMA ops; CREATE TABLE ops.dbmate_history (version varchar(128) PRIMARY KEY);
INSERT INTO ops.dbmate_history VALUES ('1'), ('002');`,
			want: "1,2"},
		{name: "dbmate version the files lack", tool: runner.Dbmate,
			history: `CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY);
INSERT INTO schema_migrations VALUES ('1'), ('9'), ('10');`,
			wantErr: "it records version(s) 9, 10 as applied, but no migration file has them"},
		{name: "dbmate over golang-migrate's table", tool: runner.Dbmate,
			history: `CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
INSERT INTO schema_migrations VALUES (3, false);`,
			wantErr: "use Adopt.from golang-migrate"},
		{name: "flyway baseline, runs and undo", tool: runner.Flyway,
			history: flywayHistoryDDL + `;
INSERT INTO flyway_schema_history VALUES
  (0, NULL, '<< Flyway Schema Creation >>', 'SCHEMA', '"public"', NULL, 'me', now(), 0, true),
  (1, '2', '<< Flyway Baseline >>', 'BASELINE', '<< Flyway Baseline >>', NULL, 'me', now(), 0, true),
  (2, '3', 'c', 'SQL', 'V3__c.sql', 1, 'me', now(), 5, true),
  (3, '4', 'd', 'SQL', 'V4__d.sql', 1, 'me', now(), 5, true),
  (4, '4', 'd', 'UNDO_SQL', 'U4__d.sql', 1, 'me', now(), 5, true),
  (5, NULL, 'views', 'SQL', 'R__views.sql', 1, 'me', now(), 5, true);`,
			want: "1,2,3"},
		{name: "flyway failed row", tool: runner.Flyway,
			history: flywayHistoryDDL + `;
INSERT INTO flyway_schema_history VALUES (1, '1', 'a', 'SQL', 'V1__a.sql', 1, 'me', now(), 5, true), (2, '2', 'b', 'SQL', 'V2__b.sql', 1, 'me', now(), 5, false);`,
			wantErr: "installed_rank 2 (version 2, SQL) failed"},
		{name: "flyway dotted version", tool: runner.Flyway,
			history: `CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), type varchar(20) NOT NULL, success boolean NOT NULL);
INSERT INTO flyway_schema_history VALUES (1, '1.1', 'SQL', true);`,
			wantErr: "it records version(s) 1.1 as applied, but no migration file has them"},
		{name: "missing table", tool: runner.Goose,
			wantErr: "no such table"},
		{name: "wrong layout", tool: runner.Goose,
			history: `CREATE TABLE goose_db_version (version bigint);`,
			wantErr: "does not look like goose's history table"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.history != "" {
				if _, err := e.pool.Exec(ctx, tc.history); err != nil {
					t.Fatal(err)
				}
			}
			r := e.runner(adoptFiles(), runner.Options{})
			rep, err := r.Adopt(ctx, tc.tool, tc.table)
			if tc.wantErr != "" {
				var ae *runner.AdoptError
				if !errors.As(err, &ae) || !errors.Is(err, runner.ErrValidation) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want an *AdoptError containing %q", err, tc.wantErr)
				}
				if h := e.history(""); h != "<no table>" && h != "" {
					t.Errorf("history %q after a refused adopt", h)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := e.history(""); got != tc.want {
				t.Fatalf("history %q, want %q", got, tc.want)
			}
			var vs []int64
			for _, st := range rep.Baselined {
				vs = append(vs, st.Version)
			}
			if tc.want != "<no table>" && (rep.Current == nil || *rep.Current != vs[len(vs)-1]) {
				t.Errorf("report current %v, baselined %v", rep.Current, vs)
			}
			// Build what the other tool applied, then go on with pgmig.
			for _, v := range vs {
				if _, err := e.pool.Exec(ctx, "CREATE TABLE t"+string(rune('0'+v))+" (id int)"); err != nil {
					t.Fatal(err)
				}
			}
			up, err := e.runner(adoptFiles(), runner.Options{AllowOutOfOrder: true}).Up(ctx, runner.UpOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range up.Applied {
				if slices.Contains(vs, st.Version) {
					t.Errorf("up applied %d again", st.Version)
				}
			}
			if got := e.history(""); got != "1,2,3,4,5" {
				t.Errorf("history after up %q", got)
			}
		})
	}
}

func TestAdoptRefusesExistingHistory(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.pool.Exec(ctx, `CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
INSERT INTO goose_db_version (version_id, is_applied) VALUES (1, true);`); err != nil {
		t.Fatal(err)
	}
	r := e.runner(adoptFiles(), runner.Options{})
	if _, err := r.Up(ctx, runner.UpOptions{To: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := r.Adopt(ctx, runner.Goose, "")
	var he *runner.HistoryError
	if !errors.As(err, &he) || !errors.Is(err, runner.ErrValidation) {
		t.Fatalf("error %v, want a *HistoryError", err)
	}
	if _, err := r.Adopt(ctx, "liquibase", ""); !errors.Is(err, runner.ErrInvalidOption) {
		t.Errorf("unknown tool: error %v, want ErrInvalidOption", err)
	}
	if got := e.history(""); got != "1" {
		t.Errorf("history %q", got)
	}
}
