package fleet_test

import (
	"context"
	"fmt"
	"log"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/fleet"
	"github.com/pgmig/pgmig/internal/pgtest"
)

// Targets from connection strings are named by them, without the
// password: the names are safe to print.
func ExampleResolve() {
	targets, err := fleet.Resolve(context.Background(), fleet.Spec{URLs: []string{
		"postgres://app:hunter2@db1.internal/tenant_a",
		"host=db2.internal dbname=tenant_b user=app password=s3cret",
	}})
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range targets {
		fmt.Println(t.Name)
	}
	// Output:
	// postgres://app:xxxxx@db1.internal/tenant_a
	// host=db2.internal dbname=tenant_b user=app password=xxxxx
}

// A schema per tenant: the query names the schemas, each becomes a target
// in the same database, and the runner of each works in its schema.
func ExampleResolve_schemas() {
	ctx := context.Background()
	url, drop := pgtest.ExampleDB()
	defer drop()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA tenant_acme; CREATE SCHEMA tenant_globex"); err != nil {
		log.Fatal(err)
	}

	targets, err := fleet.Resolve(ctx, fleet.Spec{
		SchemasQuery: "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY 1",
		DB:           pool,
		ConnString:   url,
	})
	if err != nil {
		log.Fatal(err)
	}
	results := fleet.Run(ctx, targets, fleet.Options{Parallel: 2}, func(ctx context.Context, t fleet.Target) (string, error) {
		// A real command would make a runner working in t.Schema here.
		return "migrated " + t.Schema, nil
	})
	for _, r := range results {
		fmt.Println(r.Target.Name, r.Outcome, r.Value)
	}
	// Output:
	// tenant_acme ok migrated tenant_acme
	// tenant_globex ok migrated tenant_globex
}

// Each of four runners keeps its own quarter of the targets; the split
// depends on each target alone, so every runner computes the same one.
func ExampleShard() {
	targets, err := fleet.Resolve(context.Background(), fleet.Spec{URLs: []string{
		"postgres://app@db1.internal/tenant_a",
		"postgres://app@db1.internal/tenant_b",
		"postgres://app@db2.internal/tenant_c",
		"postgres://app@db2.internal/tenant_d",
	}})
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		shard := fleet.Shard{Index: i, Count: 4}
		for _, t := range shard.Select(targets) {
			fmt.Println(shard, t.Name)
		}
	}
	// Output:
	// 0/4 postgres://app@db1.internal/tenant_a
	// 1/4 postgres://app@db2.internal/tenant_c
	// 1/4 postgres://app@db2.internal/tenant_d
	// 3/4 postgres://app@db1.internal/tenant_b
}
