package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fixture is the Source of testdata/tools/NAME, the synthetic sets written
// for the behaviour of other tools' files (issue 12).
func fixture(name string, opts Options) Source {
	return DirWith(filepath.Join("..", "testdata", "tools", name), opts)
}

// golang-migrate pairs an up and a down file by version alone.
func TestPairByVersion(t *testing.T) {
	t.Parallel()
	migs := migrations(t, fixture("gm_pair", Options{}))
	if len(migs) != 2 {
		t.Fatalf("got %d migrations, want 2", len(migs))
	}
	m := migs[1]
	if m.Version != 30 || m.Name != "add_magic_metadata" || m.Up.File != "30_add_magic_metadata.up.sql" ||
		m.Down == nil || m.Down.File != "30_drop_magic_metadata.down.sql" || !strings.Contains(m.Down.SQL, "DROP COLUMN") {
		t.Errorf("migration 30 = %+v", m)
	}
}

func TestNoTxClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		stmt   string
		what   string
		before int
	}{
		{"CREATE INDEX CONCURRENTLY i ON t (a)", "CREATE INDEX CONCURRENTLY", 0},
		{"create unique index concurrently if not exists i on t (a)", "CREATE INDEX CONCURRENTLY", 0},
		{"CREATE INDEX i ON t (a)", "", 0},
		{"CREATE INDEX concurrently_named ON t (a)", "", 0},
		{"DROP INDEX CONCURRENTLY IF EXISTS i", "DROP INDEX CONCURRENTLY", 0},
		{"DROP INDEX i", "", 0},
		{"REINDEX TABLE CONCURRENTLY t", "REINDEX CONCURRENTLY", 0},
		{"REINDEX (CONCURRENTLY, VERBOSE) INDEX i", "REINDEX CONCURRENTLY", 0},
		{"REINDEX (VERBOSE) DATABASE app", "REINDEX DATABASE", 0},
		{"REINDEX SYSTEM", "REINDEX SYSTEM", 0},
		{"REINDEX TABLE t", "", 0},
		{"VACUUM (ANALYZE) t", "VACUUM", 0},
		{"vacuum", "VACUUM", 0},
		{"ANALYZE t", "", 0},
		{"CREATE DATABASE other", "CREATE DATABASE", 0},
		{"DROP DATABASE IF EXISTS other", "DROP DATABASE", 0},
		{"ALTER DATABASE other SET work_mem = '1MB'", "", 0},
		{"ALTER SYSTEM SET work_mem = '1MB'", "ALTER SYSTEM", 0},
		{"CREATE TABLESPACE fast LOCATION '/x'", "CREATE TABLESPACE", 0},
		{"DROP TABLESPACE fast", "DROP TABLESPACE", 0},
		{"DISCARD ALL", "DISCARD ALL", 0},
		{"DISCARD PLANS", "", 0},
		{`ALTER TYPE "my schema".mood ADD VALUE IF NOT EXISTS 'ok' AFTER 'sad'`, "ALTER TYPE … ADD VALUE", 120000},
		{"ALTER TYPE add ADD VALUE 'x'", "ALTER TYPE … ADD VALUE", 120000},
		{"ALTER TYPE pair ADD ATTRIBUTE value int", "", 0},
		{"/* c */ -- d\n  CREATE INDEX CONCURRENTLY i ON t (a)", "CREATE INDEX CONCURRENTLY", 0},
		{"SELECT 'CREATE INDEX CONCURRENTLY'", "", 0},
	}
	for _, tc := range tests {
		what, before := noTxKind(tc.stmt[firstToken(tc.stmt):])
		if what != tc.what || before != tc.before {
			t.Errorf("noTxKind(%q) = %q, %d; want %q, %d", tc.stmt, what, before, tc.what, tc.before)
		}
	}
}

// pgmig's own format: a transactional section holding a statement that
// cannot run in a transaction is a validation error naming file, line and
// the fix, found before anything runs.
func TestNoTxPgmigRefused(t *testing.T) {
	t.Parallel()
	_, err := fixture("notx_pgmig", Options{}).Migrations(context.Background())
	wantErr(t, err, `002_items_sku.sql:3: CREATE INDEX CONCURRENTLY cannot run inside a transaction block, and this section runs in one; `+
		`begin the section with the line "-- pgmig:no-transaction"`)

	// goose and dbmate files name their own tool's marking.
	migs, err := FromFS(mapFS(map[string]string{
		"001_a.sql": "-- +goose Up\nCREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY i ON t (a);\n",
		"002_b.sql": "-- migrate:up\nVACUUM t;\n-- migrate:down\nSELECT 1;\n",
		"003_c.sql": "-- migrate:up transaction:false\nVACUUM t;\n",
		"004_d.sql": "-- +goose NO TRANSACTION\n-- +goose Up\nVACUUM t;\n",
	})).Migrations(context.Background())
	wantErr(t, err, `001_a.sql:3: CREATE INDEX CONCURRENTLY cannot run inside a transaction block, and this section runs in one; add the line "-- +goose NO TRANSACTION"`,
		`002_b.sql:2: VACUUM cannot run inside a transaction block, and this section runs in one; add "transaction:false" to the section's marker`)
	if strings.Contains(err.Error(), "003_c.sql") || strings.Contains(err.Error(), "004_d.sql") {
		t.Errorf("marked sections refused: %v (migrations %v)", err, migs)
	}
}

// Flyway runs a file holding such a statement outside a transaction by
// itself; golang-migrate sends a one-statement file alone.
func TestNoTxByTheFilesTool(t *testing.T) {
	t.Parallel()
	migs := migrations(t, fixture("notx_flyway", Options{}))
	up := migs[1].Up
	if migs[0].Up.NoTransaction || !up.NoTransaction || !strings.Contains(up.NoTransactionReason, "Flyway") ||
		!strings.Contains(up.NoTransactionReason, "line 2") {
		t.Errorf("V2 up: NoTransaction %v, reason %q", up.NoTransaction, up.NoTransactionReason)
	}
	if len(up.NoTx) != 2 || up.NoTx[0] != (NoTxStatement{Line: 2, What: "CREATE INDEX CONCURRENTLY"}) || up.NoTx[1].What != "VACUUM" {
		t.Errorf("V2 NoTx = %+v", up.NoTx)
	}
	if d := migs[1].Down; d == nil || !d.NoTransaction {
		t.Errorf("U2 down = %+v, want NoTransaction", d)
	}

	_, err := fixture("notx_gm", Options{}).Migrations(context.Background())
	wantErr(t, err, `4_reindex.up.sql:2: REINDEX CONCURRENTLY cannot run inside a transaction block, and this section runs in one; move it into a file of its own`)
	if strings.Contains(err.Error(), "2_items_sku") || strings.Contains(err.Error(), "3_mood") {
		t.Errorf("one-statement files or ALTER TYPE refused: %v", err)
	}
	migs = migrations(t, FromFS(mapFS(map[string]string{
		"2_items_sku.up.sql":   "-- alone\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);\n",
		"2_items_sku.down.sql": "DROP INDEX CONCURRENTLY i;",
		"3_mood.up.sql":        "CREATE TYPE mood AS ENUM ('sad');\nALTER TYPE mood ADD VALUE 'happy';\n",
		"5_mood.up.sql":        "ALTER TYPE mood ADD VALUE 'ok';\n",
	})))
	if m := migs[0]; !m.Up.NoTransaction || !m.Down.NoTransaction || !strings.Contains(m.Up.NoTransactionReason, "golang-migrate") {
		t.Errorf("2 = up %+v down %+v", m.Up, *m.Down)
	}

	// ALTER TYPE … ADD VALUE is decided against the server's version.
	mood := migs[1].Up
	if mood.NoTransaction || len(mood.NoTx) != 1 || mood.NoTx[0] != (NoTxStatement{Line: 2, What: "ALTER TYPE … ADD VALUE", BeforeServer: 120000}) {
		t.Fatalf("3 up = %+v", mood)
	}
	if s, err := mood.OnServer(170002); err != nil || s.NoTransaction {
		t.Errorf("OnServer(17) = %v, %v; want it as it is", s.NoTransaction, err)
	}
	_, err = mood.OnServer(110009)
	wantErr(t, err, "3_mood.up.sql:2: ALTER TYPE … ADD VALUE cannot run inside a transaction block on this server (PostgreSQL 11.9; from 12 on it can)",
		"move it into a file of its own")
	if s, err := migs[2].Up.OnServer(110009); err != nil || !s.NoTransaction || !strings.Contains(s.NoTransactionReason, "before PostgreSQL 12") {
		t.Errorf("one-statement ALTER TYPE on 11: %+v, %v; want it run alone", s, err)
	}
}

// pg_dump's output is a migration: COPY data travels with its statement,
// \restrict lines are skipped, other meta-commands are refused.
func TestPgDump(t *testing.T) {
	t.Parallel()
	migs := migrations(t, fixture("pgdump", Options{}))
	up := migs[0].Up
	if len(up.Copies) != 1 {
		t.Fatalf("Copies = %+v", up.Copies)
	}
	c := up.Copies[0]
	if got := up.SQL[c.Start:c.End]; got != "COPY public.notes (id, body) FROM stdin;" {
		t.Errorf("COPY statement = %q", got)
	}
	if want := "1\tit's; not SQL\n2\t-- pgmig:down\n3\t$$ open\n4\t\\N\n"; c.Data != want || c.Line != 18 {
		t.Errorf("data at line %d = %q, want line 18 %q", c.Line, c.Data, want)
	}
	if strings.Contains(up.SQL, `\restrict`) || strings.Contains(up.SQL, `\unrestrict`) || strings.Contains(up.SQL, "not SQL") ||
		strings.Contains(up.SQL, `\.`) {
		t.Errorf("the server would see psql's lines:\n%s", up.SQL)
	}
	raw, err := os.ReadFile("../testdata/tools/pgdump/001_squashed.sql")
	if err != nil {
		t.Fatal(err)
	}
	// Blanked byte for byte: every statement is where it is in the file,
	// and the checksum is of the file as written.
	if len(up.SQL) != len(raw) || strings.Count(up.SQL, "\n") != bytes.Count(raw, []byte("\n")) || migs[0].Checksum != sum(string(raw)) {
		t.Errorf("SQL is not the file blanked in place")
	}
	var kinds []string
	for _, st := range up.Statements() {
		if !st.Empty() {
			kinds = append(kinds, strings.Join(leadWords(up.SQL[st.Start:], 2), " "))
		}
	}
	want := []string{"SET STATEMENT_TIMEOUT", "SET CLIENT_ENCODING", "SELECT PG_CATALOG", "SET STANDARD_CONFORMING_STRINGS",
		"CREATE TABLE", "COPY PUBLIC", "CREATE FUNCTION", "ALTER TABLE"}
	if !slices.Equal(kinds, want) {
		t.Errorf("statements %q, want %q", kinds, want)
	}

	_, err = fixture("pgdump_meta", Options{}).Migrations(context.Background())
	wantErr(t, err, `001_meta.sql:5: psql meta-command "\\connect other"`, `001_meta.sql:7: psql meta-command "\\gset"`)
	if strings.Contains(err.Error(), "001_meta.sql:3") {
		t.Errorf("a backslash inside a string was taken for a meta-command: %v", err)
	}
	_, err = FromFS(mapFS(map[string]string{"001_x.sql": "COPY t FROM STDIN;\n1\n2\n"})).Migrations(context.Background())
	wantErr(t, err, `001_x.sql:1: COPY … FROM stdin without a line "\." ending its data`)
	// COPY to stdout, or from a file, has no data lines.
	migs, err = FromFS(mapFS(map[string]string{"001_x.sql": "COPY t TO STDOUT;\nCOPY t FROM '/tmp/x';\nSELECT 1;\n"})).Migrations(context.Background())
	if err != nil || len(migs[0].Up.Copies) != 0 {
		t.Errorf("COPY without data: %v, %+v", err, migs)
	}
}

// dbmate sees its markers only at column 1, and not inside a $$ body.
func TestDbmateMarkers(t *testing.T) {
	t.Parallel()
	migs := migrations(t, fixture("dbmate", Options{}))
	m := migs[0]
	if !strings.Contains(m.Up.SQL, "CREATE FUNCTION bump()") || !strings.Contains(m.Up.SQL, "  -- migrate:down\n") || m.Down == nil ||
		m.Down.Line != 14 || m.Down.SQL != "DROP FUNCTION bump();\nDROP TABLE counters;\n" {
		t.Errorf("up %q\ndown %+v", m.Up.SQL, m.Down)
	}
}

// An indented dbmate marker with no marker of its name at column 1 is
// refused: dbmate reads it as a comment and refuses the file for want of
// the section, and reading it so would run the down's statements as part
// of the up (as UPchieve's files, where a formatter had indented it,
// would have).
func TestDbmateIndentedMarkerAlone(t *testing.T) {
	t.Parallel()
	_, err := FromFS(mapFS(map[string]string{"20240101000000_c.sql": "-- migrate:up\nCREATE TABLE c (id int);\n    -- migrate:down\nDROP TABLE c;\n"})).Migrations(context.Background())
	wantErr(t, err, `20240101000000_c.sql:3: "-- migrate:down" is indented: dbmate reads its markers only at the start of a line`)
	_, err = FromFS(mapFS(map[string]string{"20240101000000_c.sql": "\t-- migrate:up\nCREATE TABLE c (id int);\n"})).Migrations(context.Background())
	wantErr(t, err, `20240101000000_c.sql:1: "-- migrate:up" is indented`)
}

func TestDuplicateVersionNamesFlywayPairing(t *testing.T) {
	t.Parallel()
	_, err := FromFS(mapFS(map[string]string{"V3__a.sql": "SELECT 1;", "V003__b.sql": "SELECT 2;"})).Migrations(context.Background())
	wantErr(t, err, "version 3 is claimed by more than one file: V003__b.sql, V3__a.sql (a version needs exactly one V3__<description>.sql with an optional U3__<description>.sql undo file")
	if strings.Contains(err.Error(), ".up.sql") {
		t.Errorf("Flyway files told of golang-migrate's layout: %v", err)
	}
	_, err = FromFS(mapFS(map[string]string{"3_a.up.sql": "SELECT 1;", "003_b.sql": "SELECT 2;"})).Migrations(context.Background())
	wantErr(t, err, "NNN_name.up.sql with an optional NNN_name.down.sql")
	if strings.Contains(err.Error(), "__<description>") {
		t.Errorf("golang-migrate files told of Flyway's layout: %v", err)
	}
}

// goose's Go migrations are refused naming them, or read as Go migrations
// for a runner that holds their functions.
func TestGooseGoMigrations(t *testing.T) {
	t.Parallel()
	_, err := fixture("goose_go", Options{}).Migrations(context.Background())
	wantErr(t, err, "00002_backfill_emails.go: goose migrations written in Go")
	var ge *GoMigrationError
	if !errors.As(err, &ge) || !slices.Equal(ge.Versions, []int64{2}) || !slices.Equal(ge.Files, []string{"00002_backfill_emails.go"}) {
		t.Errorf("GoMigrationError = %+v", ge)
	}
	migs := migrations(t, fixture("goose_go", Options{GoMigrations: true}))
	if len(migs) != 3 {
		t.Fatalf("got %d migrations, want 3", len(migs))
	}
	g := migs[1]
	if !g.Go || g.Version != 2 || g.Name != "backfill_emails" || g.Up.File != "00002_backfill_emails.go" || g.Up.SQL != "" ||
		g.Down != nil || g.Checksum == "" || migs[0].Go || migs[2].Go {
		t.Errorf("Go migration = %+v", g)
	}
	// A Go file and an SQL file of one version are a duplicate.
	_, err = FromFSWith(mapFS(map[string]string{
		"00002_a.sql": "SELECT 1;",
		"00002_b.go":  "package m\nfunc init() { goose.AddMigration(up, down) }\n",
	}), Options{GoMigrations: true}).Migrations(context.Background())
	wantErr(t, err, "version 2 is claimed by more than one file: 00002_a.sql, 00002_b.go")
}

// Files that look like migrations but are not read are reported, and an
// empty up section is a warning.
func TestSkippedFilesReported(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	_, err := fixture("skipped", Options{Logger: logger}).Migrations(context.Background())
	wantErr(t, err,
		`3_ok.SQL: file name ends in ".SQL": pgmig reads only names ending in ".sql", in lower case; rename it to 3_ok.sql`,
		"V1_x.sql: a Flyway file name separates version and description with two underscores",
		"5_stray.down.sql: down file without an up file: expected 5_stray.up.sql beside it")
	if strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("a file that is no migration reported: %v", err)
	}
	for _, w := range []string{
		`level=WARN msg="the up section is empty: applying the migration changes nothing but the history" file=../testdata/tools/skipped/6_empty.sql line=2`,
		`msg="subdirectory holds files named as migrations (7_nested.sql) that pgmig does not read`,
	} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("log does not hold %q:\n%s", w, log.String())
		}
	}

	// Non-UTF-8 names are bad file names.
	_, err = FromFS(mapFS(map[string]string{"001_caf\xe9.sql": "SELECT 1;", "\xe9t\xe9.sql": "", "README\xe9": ""})).Migrations(context.Background())
	wantErr(t, err, `"001_caf\xe9.sql": file name is not UTF-8`, `"\xe9t\xe9.sql": file name is not UTF-8`)
	if strings.Contains(err.Error(), "README") {
		t.Errorf("a non-migration name reported: %v", err)
	}
}

// Non-regular files are refused, naming each, without reading from them: a
// FIFO would block a read forever, /dev/zero never ends.
func TestNonRegularFilesRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "001_ok.sql"), []byte("SELECT 1;"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "002_fifo.sql"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "003_zero.sql")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("001_ok.sql", filepath.Join(dir, "004_link.sql")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "005_dir.sql"), 0o755); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Dir(dir).Migrations(context.Background())
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Migrations did not return: it read from the FIFO or the device")
	}
	wantErr(t, err,
		"002_fifo.sql: is a named pipe (FIFO), not a regular file: pgmig reads migrations from regular files only, and read nothing from it",
		"003_zero.sql: is a symbolic link to a character device, not a regular file",
		"005_dir.sql: is a directory, not a regular file")
	if strings.Contains(err.Error(), "001_ok") || strings.Contains(err.Error(), "004_link") {
		t.Errorf("regular files or links to them refused: %v", err)
	}
}

func TestVersionCompare(t *testing.T) {
	t.Parallel()
	order := []string{"0.1", "0.9.1", "1", "1.0.1", "1.1", "1.2", "1.9", "1.10", "2", "2.0.1", "10", "999999999999999999"}
	for i := range order {
		for j := range order {
			a, err := ParseVersion(order[i])
			if err != nil {
				t.Fatal(err)
			}
			b, _ := ParseVersion(order[j])
			if got, want := a.Compare(b), cmpInt(i, j); got != want {
				t.Errorf("%s vs %s = %d, want %d", a, b, got, want)
			}
		}
	}
	same := [][2]string{{"1", "1.0"}, {"001", "1"}, {"1.02", "1.2.0.0"}}
	for _, p := range same {
		a, _ := ParseVersion(p[0])
		b, _ := ParseVersion(p[1])
		if a.Compare(b) != 0 || a.Canonical() != b.Canonical() || a.String() != p[0] {
			t.Errorf("%s and %s: compare %d, canonical %q %q", p[0], p[1], a.Compare(b), a.Canonical(), b.Canonical())
		}
	}
	for _, bad := range []string{"", "0", "0.0", "000", "1..2", ".1", "1.", "a", "1.2a", "1234567890123456789"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) succeeded", bad)
		}
	}
	// Integer versions keep their JSON; dotted ones are strings.
	for v, want := range map[string]string{"3": "3", "003": "3", "1.2": `"1.2"`, "3.0": `"3.0"`} {
		pv, _ := ParseVersion(v)
		b, err := json.Marshal(pv)
		if err != nil || string(b) != want {
			t.Errorf("json %s = %s, %v; want %s", v, b, err, want)
		}
		var back Version
		if err := json.Unmarshal(b, &back); err != nil || back.Compare(pv) != 0 {
			t.Errorf("json round trip of %s: %v, %v", v, back, err)
		}
	}
	if n, ok := IntVersion(42).Int(); !ok || n != 42 {
		t.Errorf("IntVersion(42).Int() = %d, %v", n, ok)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Flyway's dotted versions sort as Flyway sorts them, and repeatable
// migrations come after the versioned ones, in name order.
func TestFlywayDottedAndRepeatable(t *testing.T) {
	t.Parallel()
	_, err := fixture("flyway_dotted", Options{}).Migrations(context.Background())
	wantErr(t, err, "V1.1__add_price.sql: Flyway version 1.1 is dotted", "R__views.sql: Flyway repeatable migrations")

	migs := migrations(t, fixture("flyway_dotted", Options{FlywayVersions: true}))
	var got []string
	for _, m := range migs {
		s := m.Ver.String()
		if m.Repeatable {
			s = "R:" + m.Name
		}
		got = append(got, s)
	}
	want := []string{"1", "1.1", "1.2", "1.9", "1.10", "2", "2.0.1", "R:functions", "R:views"}
	if !slices.Equal(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
	if migs[0].Version != 1 || migs[0].Down == nil || migs[2].Version != 0 || migs[2].Name != "add_sku" || migs[5].Version != 2 {
		t.Errorf("integer versions: %+v", migs)
	}
	if r := migs[8]; r.Down != nil || r.Version != 0 || !r.Ver.IsZero() || r.Checksum != sum("CREATE OR REPLACE VIEW product_names AS SELECT id FROM products;\n") {
		t.Errorf("repeatable = %+v", r)
	}
	_, err = FromFSWith(mapFS(map[string]string{"V1.0__a.sql": "", "V1__b.sql": ""}), Options{FlywayVersions: true}).Migrations(context.Background())
	wantErr(t, err, "version 1.0 is claimed by more than one file: V1.0__a.sql, V1__b.sql")
	_, err = FromFSWith(mapFS(map[string]string{"R1__a.sql": ""}), Options{FlywayVersions: true}).Migrations(context.Background())
	wantErr(t, err, "R1__a.sql: a Flyway repeatable migration has no version")
	// A baseline file (seen in a real set, beside the V files after it) is
	// named as what it is, not as a file without a version.
	_, err = FromFSWith(mapFS(map[string]string{"B1_20_0__baseline.sql": "", "V1_20_1__b.sql": ""}), Options{FlywayVersions: true}).Migrations(context.Background())
	wantErr(t, err, "B1_20_0__baseline.sql: Flyway baseline migrations (B<version>__name.sql) are not supported: on a new database Flyway applies it in place of the V files up to 1.20.0; rename it V1_20_0__…")
}

// golang-migrate sends a file as it is: its own BEGIN and COMMIT, other
// than a wrapper around the whole file, decide its transactions.
func TestOwnTransactions(t *testing.T) {
	t.Parallel()
	migs := migrations(t, FromFS(mapFS(map[string]string{
		"1_a.up.sql":   "ALTER TABLE t ADD b int;\n\nBEGIN;\nUPDATE t SET b = 0;\nALTER TABLE t ALTER b SET NOT NULL;\nCOMMIT;\n",
		"1_a.down.sql": "BEGIN;\nALTER TABLE t DROP b;\nCOMMIT;\n",
		"2_b.up.sql":   "SAVEPOINT s;\nROLLBACK TO SAVEPOINT s;\nRELEASE s;\n",
		"3_c.sql":      "-- pgmig:up\nBEGIN;\nSELECT 1;\nCOMMIT;\nSELECT 2;\n",
	})))
	if up := migs[0].Up; !up.NoTransaction || up.NoTransactionReason != "golang-migrate sends the file as it is, so its own BEGIN (line 3) and COMMIT decide its transactions" {
		t.Errorf("1 up: %v %q", up.NoTransaction, up.NoTransactionReason)
	}
	if d := migs[0].Down; d.NoTransaction || d.SQL != "ALTER TABLE t DROP b;\n" {
		t.Errorf("1 down, a whole-file wrapper: %+v", d)
	}
	// Savepoints nest; pgmig's own single files are left to the runner,
	// which refuses their BEGIN and COMMIT.
	if migs[1].Up.NoTransaction || migs[2].Up.NoTransaction {
		t.Errorf("savepoints or a pgmig file run outside a transaction: %+v %+v", migs[1].Up, migs[2].Up)
	}
}

// Flyway runs a V file in a transaction that the file's own COMMIT ends
// part-way (a BEGIN inside only draws a warning), so, as for
// golang-migrate, the file's BEGIN and COMMIT decide its transactions
// (seen in a real set: a V file that rebuilds a table between BEGIN and
// COMMIT after some statements of its own). A whole-file wrapper is still
// stripped.
func TestFlywayOwnTransactions(t *testing.T) {
	t.Parallel()
	migs := migrations(t, FromFSWith(mapFS(map[string]string{
		"V1_1__rebuild.sql": "UPDATE t SET a = '' WHERE a IS NULL;\n-- rebuild in order\nBEGIN;\nCREATE TABLE t2 (a text NOT NULL);\nCOMMIT;\n",
		"V1_2__wrapped.sql": "BEGIN;\nALTER TABLE t2 ADD b int;\nCOMMIT;\n",
	}), Options{FlywayVersions: true}))
	want := "Flyway's transaction for the file ends at the file's own COMMIT, so its BEGIN (line 3) and COMMIT decide its transactions"
	if up := migs[0].Up; !up.NoTransaction || up.NoTransactionReason != want {
		t.Errorf("V1.1: no-transaction %v, reason %q; want %q", up.NoTransaction, up.NoTransactionReason, want)
	}
	if up := migs[1].Up; up.NoTransaction || up.SQL != "ALTER TABLE t2 ADD b int;\n" {
		t.Errorf("V1.2, a whole-file wrapper: %+v", up)
	}
}
