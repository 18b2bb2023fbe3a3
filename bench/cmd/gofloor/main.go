// Command gofloor sends a psql script's queries one line a query, each in
// one round trip, with pgx's simple protocol and nothing else: the floor
// of a Go client over pgx, beside psql's, for the trivial-migrations row
// (bench/compare-trivial.sh). psql's `\;` joins a line's statements into
// one query; gofloor sends the line with them as plain `;`.
//
//	gofloor DATABASE_URL floor-1-1000-true.sql
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gofloor DATABASE_URL SCRIPT")
		os.Exit(2)
	}
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, os.Args[1])
	if err != nil {
		fail(err)
	}
	defer conn.Close(ctx)
	f, err := os.Open(os.Args[2])
	if err != nil {
		fail(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var q strings.Builder
	for sc.Scan() {
		// The table's CREATE spans lines; every other line is a query.
		q.WriteString(strings.ReplaceAll(sc.Text(), `\;`, ";"))
		q.WriteByte('\n')
		if !strings.HasSuffix(strings.TrimSpace(sc.Text()), ";") {
			continue
		}
		if _, err := conn.Exec(ctx, q.String()).ReadAll(); err != nil {
			fail(err)
		}
		q.Reset()
	}
	if err := sc.Err(); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gofloor:", err)
	os.Exit(1)
}
