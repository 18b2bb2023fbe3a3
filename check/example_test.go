package check_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"testing/fstest"

	"github.com/pgmig/pgmig/check"
	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// A CI job checks that every down undoes its up. The scratch database is
// made on the pool's server and dropped again.
func ExampleVerify() {
	pool, done := pgtest.ExamplePool()
	defer done()

	files := fstest.MapFS{
		"001_widgets.sql": {Data: []byte("-- pgmig:up\nCREATE TABLE widgets (id bigint PRIMARY KEY);\n-- pgmig:down\nDROP TABLE widgets;\n")},
		"002_widget_name.sql": {Data: []byte("-- pgmig:up\nALTER TABLE widgets ADD COLUMN name text;\nCREATE INDEX widgets_name ON widgets (name);\n" +
			"-- pgmig:down\nALTER TABLE widgets DROP COLUMN name;\n")},
		"003_gadgets.sql": {Data: []byte("-- pgmig:up\nCREATE TABLE gadgets (id bigint);\n-- pgmig:down\nDROP TABLE gadgets;\n")},
	}
	// Dropping the column drops its index too: 002's down is right.
	rep, err := check.Verify(context.Background(), pool, source.FromFS(files), check.VerifyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range rep.Verified {
		fmt.Println("verified", v.Version, v.Name)
	}
	// Output:
	// verified 1 widgets
	// verified 2 widget_name
	// verified 3 gadgets
}

// A down that forgets what its up made is found, with the objects that
// differ and the migrations before it known good.
func ExampleDifferenceError() {
	pool, done := pgtest.ExamplePool()
	defer done()

	files := fstest.MapFS{
		"001_widgets.sql": {Data: []byte("-- pgmig:up\nCREATE TABLE widgets (id bigint);\n-- pgmig:down\nDROP TABLE widgets;\n")},
		"002_gadgets.sql": {Data: []byte("-- pgmig:up\nCREATE TABLE gadgets (id bigint);\nCREATE INDEX widgets_id ON widgets (id);\n" +
			"-- pgmig:down\nDROP TABLE gadgets;\n")},
	}
	rep, err := check.Verify(context.Background(), pool, source.FromFS(files), check.VerifyOptions{})
	var diff *check.DifferenceError
	if errors.As(err, &diff) {
		fmt.Println(len(rep.Verified), "verified")
		fmt.Println(diff)
		fmt.Println(diff.Objects)
	}
	// Output:
	// 1 verified
	// rolling back 002 gadgets does not restore the schema before it
	// [index public.widgets_id]
}

// Drift finds what was changed by hand, outside the migrations.
func ExampleDrift() {
	pool, done := pgtest.ExamplePool()
	defer done()
	ctx := context.Background()

	r, err := runner.New(pool, source.Builtin(), runner.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		log.Fatal(err)
	}
	// An index made by hand during an incident.
	if _, err := pool.Exec(ctx, "CREATE INDEX users_created ON users (created_at)"); err != nil {
		log.Fatal(err)
	}

	rep, err := check.Drift(ctx, pool, source.Builtin(), check.DriftOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("drifted:", rep.Drifted(), "at", *rep.Current)
	fmt.Println(rep.Objects)
	// Output:
	// drifted: true at 4
	// [index public.users_created]
}
