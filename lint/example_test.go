package lint_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"testing/fstest"

	"github.com/pgmig/pgmig/lint"
	"github.com/pgmig/pgmig/source"
)

// A deploy lints every file but judges only what it will apply: here 002
// is pending and 001 applied long ago. The warning of 002 is shown and
// lets the deploy through; its error stops it.
func ExampleGate() {
	files := fstest.MapFS{
		"001_users.sql": {Data: []byte("-- pgmig:up\n-- pgmig:lock-timeout 5s\nCREATE TABLE users (id bigint PRIMARY KEY, email text);\n")},
		"002_email.sql": {Data: []byte("-- pgmig:up\n-- pgmig:lock-timeout 5s\nCREATE INDEX users_email ON users (email);\nALTER TABLE users RENAME COLUMN email TO mail;\n")},
	}
	ms, err := source.FromFS(files).Migrations(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	judged, err := lint.Gate(lint.Lint(ms, lint.Options{}), lint.GateOptions{Versions: []int64{2}})
	for _, f := range judged.Findings {
		if f.Level == lint.Warning {
			fmt.Println(f)
		}
	}
	var refused *lint.GateError
	if errors.As(err, &refused) {
		for _, p := range refused.Problems {
			fmt.Println("refused:", p.File, p.Line, p.Rule)
		}
	}
	// Output:
	// 002_email.sql:4:1: warning[rename-column]: RENAME COLUMN "email" of table "users" to "mail"
	// refused: 002_email.sql 3 index-not-concurrent
}
