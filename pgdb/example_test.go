package pgdb_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/pgdb"
)

func ExampleRedact() {
	fmt.Println(pgdb.Redact("postgres://app:s3cret@db.internal:5432/shop?sslmode=require"))
	fmt.Println(pgdb.Redact("host=db.internal user=app password='s3 cret' dbname=shop"))
	// Output:
	// postgres://app:xxxxx@db.internal:5432/shop?sslmode=require
	// host=db.internal user=app password=xxxxx dbname=shop
}

func ExampleOpen() {
	connString, drop := pgtest.ExampleDB()
	defer drop()
	ctx := context.Background()

	db, err := pgdb.Open(ctx, connString, pgdb.Config{
		ApplicationName: "example",        // empty sets none
		ConnectTimeout:  10 * time.Second, // zero means 30s
	})
	if err != nil {
		fmt.Println(err) // never shows the password
		return
	}
	defer db.Close()

	h := db.Check(ctx)
	fmt.Println(h.Status, h.Pool.MaxConns)
	// Output: ok 10
}

func ExampleInTx() {
	connString, drop := pgtest.ExampleDB()
	defer drop()
	ctx := context.Background()
	db, err := pgdb.Open(ctx, connString, pgdb.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	if _, err := db.Pool().Exec(ctx, "CREATE TABLE accounts (name text PRIMARY KEY, balance int NOT NULL CHECK (balance >= 0))"); err != nil {
		fmt.Println(err)
		return
	}

	type account struct {
		Name    string `db:"name"`
		Balance int    `db:"balance"`
	}
	transfer := func(ctx context.Context, tx pgx.Tx, from, to string, amount int) error {
		if _, err := tx.Exec(ctx, "UPDATE accounts SET balance = balance - $1 WHERE name = $2", amount, from); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE accounts SET balance = balance + $1 WHERE name = $2", amount, to)
		return err
	}
	opts := pgdb.TxOptions{Isolation: pgx.Serializable, Retries: 3}
	err = db.InTx(ctx, opts, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO accounts VALUES ('alice', 100), ('bob', 0)"); err != nil {
			return err
		}
		// A nested InTx is a savepoint: its failure leaves the outer
		// transaction usable.
		err := pgdb.InTx(ctx, tx, pgdb.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
			return transfer(ctx, tx, "alice", "bob", 500)
		})
		fmt.Println("overdraft refused:", errors.Is(err, pgdb.ErrCheckViolation))
		return transfer(ctx, tx, "alice", "bob", 30)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	accounts, err := pgdb.Query[account](ctx, db.Pool(), "SELECT name, balance FROM accounts ORDER BY name")
	fmt.Println(accounts, err)

	_, err = pgdb.QueryOne[account](ctx, db.Pool(), "SELECT name, balance FROM accounts WHERE name = $1", "carol")
	fmt.Println(errors.Is(err, pgdb.ErrNotFound))
	// Output:
	// overdraft refused: true
	// [{alice 70} {bob 30}] <nil>
	// true
}

func ExampleHealthHandler() {
	connString, drop := pgtest.ExampleDB()
	defer drop()
	db, err := pgdb.Open(context.Background(), connString, pgdb.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	srv := httptest.NewServer(pgdb.HealthHandler(db.Pool(), pgdb.HealthOptions{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))

	db.Close()
	resp, err = http.Get(srv.URL + "/healthz")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// 200 application/json
	// 503
}
