package source_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/pgmig/pgmig/source"
)

func Example() {
	files := fstest.MapFS{
		"001_create_users.sql": {Data: []byte(
			"-- pgmig:up\nCREATE TABLE users (id int);\n-- pgmig:down\nDROP TABLE users;\n")},
		"002_index_users.up.sql": {Data: []byte(
			"-- pgmig:no-transaction\nCREATE INDEX CONCURRENTLY users_id ON users (id);\n")},
		"README.md": {Data: []byte("not a migration")},
	}
	migs, err := source.FromFS(files).Migrations(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range migs {
		fmt.Printf("%d %s: up at %s:%d, no-transaction %v, down %v\n",
			m.Version, m.Name, m.Up.File, m.Up.Line, m.Up.NoTransaction, m.Down != nil)
	}
	// Output:
	// 1 create_users: up at 001_create_users.sql:2, no-transaction false, down true
	// 2 index_users: up at 002_index_users.up.sql:1, no-transaction true, down false
}

func ExampleSplit() {
	sql := "CREATE TABLE t (s text DEFAULT ';');\n-- seed\nINSERT INTO t VALUES ($$a;b$$);\n"
	for _, st := range source.Split(sql) {
		if st.Empty() {
			continue
		}
		line, col := source.LineCol(sql, st.Start)
		fmt.Printf("%d:%d %s\n", line, col, sql[st.Start:st.Offset+len(st.Text)])
	}
	// Output:
	// 1:1 CREATE TABLE t (s text DEFAULT ';');
	// 3:1 INSERT INTO t VALUES ($$a;b$$);
}

// pgmig create follows the directory: here its newest migration is an
// up and down pair, so the new one is a pair too.
func ExampleNewMigration() {
	files := fstest.MapFS{"001_init.sql": {}, "002_users.up.sql": {}, "002_users.down.sql": {}}
	newFiles, _ := source.NewMigration(files, "add orders", source.CreateOptions{})
	for _, f := range newFiles {
		fmt.Println(f.Name)
	}
	// Output:
	// 003_add_orders.up.sql
	// 003_add_orders.down.sql
}
