package diff_test

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/diff"
	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/schema"
)

// catalogOf builds sql on a new database and reads its catalog.
func catalogOf(sql string) (*schema.Catalog, func()) {
	url, drop := pgtest.ExampleDB()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		panic(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		panic(err)
	}
	cat, err := schema.Inspect(ctx, c, schema.Options{})
	if err != nil {
		panic(err)
	}
	return cat, drop
}

func ExamplePlan() {
	cur, drop1 := catalogOf(`CREATE TABLE users (id bigint PRIMARY KEY, email text)`)
	defer drop1()
	des, drop2 := catalogOf(`CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text);
CREATE INDEX users_email ON users (lower(email))`)
	defer drop2()

	m, err := diff.Plan(cur, des, diff.Options{})
	if err != nil {
		panic(err)
	}
	for _, c := range m.Changes {
		fmt.Println(c.Action, c.Object)
	}
	fmt.Print(m.File())
	// Output:
	// alter column public.users.email
	// create column public.users.name
	// create index public.users_email
	// -- Written by pgmig diff; review it before committing.
	//
	// -- pgmig:up
	// -- pgmig:no-transaction
	// SET lock_timeout = '5000ms';
	// ALTER TABLE public.users ADD CONSTRAINT pgmig_nn_email CHECK (email IS NOT NULL) NOT VALID;
	// ALTER TABLE public.users ADD COLUMN name text;
	// ALTER TABLE public.users VALIDATE CONSTRAINT pgmig_nn_email;
	// ALTER TABLE public.users ALTER COLUMN email SET NOT NULL;
	// ALTER TABLE public.users DROP CONSTRAINT pgmig_nn_email;
	// CREATE INDEX CONCURRENTLY users_email ON public.users USING btree (lower(email));
	//
	// -- pgmig:down
	// -- pgmig:no-transaction
	// SET lock_timeout = '5000ms';
	// ALTER TABLE public.users ALTER COLUMN email DROP NOT NULL;
	// ALTER TABLE public.users DROP COLUMN name;
	// DROP INDEX CONCURRENTLY public.users_email;
}
