package source

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// benchFS is a set of n migrations of the size real sets have: a table, an
// index, a PL/pgSQL trigger function and some data each, in pgmig's,
// golang-migrate's and goose's layouts.
func benchFS(n int) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := 1; i <= n; i++ {
		body := fmt.Sprintf(`CREATE TABLE t%[1]d (id bigint PRIMARY KEY, name text NOT NULL, note text DEFAULT 'it''s; fine');
CREATE INDEX t%[1]d_name ON t%[1]d (name);
CREATE FUNCTION t%[1]d_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.name := lower(NEW.name); -- keep names lower; no ';' ends here
  RETURN NEW;
END;
$$;
CREATE TRIGGER t%[1]d_touch BEFORE INSERT ON t%[1]d FOR EACH ROW EXECUTE FUNCTION t%[1]d_touch();
INSERT INTO t%[1]d (id, name) VALUES %[2]s;
`, i, strings.TrimSuffix(strings.Repeat("(1, 'a'), ", 20), ", "))
		switch i % 3 {
		case 0:
			fsys[fmt.Sprintf("%05d_m.sql", i)] = &fstest.MapFile{Data: []byte("-- pgmig:up\n" + body + "-- pgmig:down\nDROP TABLE t;\n")}
		case 1:
			fsys[fmt.Sprintf("%05d_m.up.sql", i)] = &fstest.MapFile{Data: []byte(body)}
			fsys[fmt.Sprintf("%05d_m.down.sql", i)] = &fstest.MapFile{Data: []byte("DROP TABLE t;\n")}
		default:
			fsys[fmt.Sprintf("%05d_m.sql", i)] = &fstest.MapFile{Data: []byte("-- +goose Up\n-- +goose StatementBegin\n" + body + "-- +goose StatementEnd\n-- +goose Down\nDROP TABLE t;\n")}
		}
	}
	return fsys
}

func BenchmarkMigrations(b *testing.B) {
	fsys := benchFS(500)
	src := FromFS(fsys)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Migrations(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseSmall parses one small file, the kind a long history has
// thousands of: what status pays per file besides reading it.
func BenchmarkParseSmall(b *testing.B) {
	content := "-- pgmig:up\nCREATE TABLE t1 (id int);\n\n-- pgmig:down\nDROP TABLE t1;\n"
	fn, err := parseFileName("00001_m1.sql", flywayExt{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := parseFileEnv("00001_m1.sql", fn, content, nil); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}
