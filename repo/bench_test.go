package repo_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/repo"
)

// The benchmarks compare the repository (impl=repo) with the same work
// written by hand with pgx (impl=pgx), in the same run:
//
//	go test ./repo -run='^$' -bench=. -benchtime=2000x -count=5 | tee bench.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /impl bench.txt

const userColumns = "id, email, username, password_hash, email_verified, email_verification_token, status, role, created_at, updated_at, last_login, metadata"

func scanUser(row pgx.Row, u *repo.User) error {
	return row.Scan(&u.ID, &u.Email, &u.Username, &u.PasswordHash, &u.EmailVerified, &u.EmailVerificationToken,
		&u.Status, &u.Role, &u.CreatedAt, &u.UpdatedAt, &u.LastLogin, &u.Metadata)
}

func benchDB(b *testing.B) (*pgdb.DB, []string) {
	b.Helper()
	// No wait for the WAL flush: commits measure the code, not the disk
	// that other work on the machine shares.
	db := openDB(b, pgtest.NewDB(b, append(coreSQL(b), notesSQL)...)+"&synchronous_commit=off")
	ids, err := pgdb.QueryValue[string](b.Context(), db.Pool(), `
		INSERT INTO users (email, username, password_hash, status)
		SELECT 'user' || i || '@example.com', 'user' || i, 'hash', CASE WHEN i % 10 = 0 THEN 'suspended' ELSE 'active' END
		FROM generate_series(1, 1000) AS i RETURNING id::text`)
	if err != nil {
		b.Fatal(err)
	}
	// Fresh statistics, so that neither side of a comparison runs while
	// autovacuum changes the plans under it.
	if _, err := db.Pool().Exec(b.Context(), "VACUUM ANALYZE users"); err != nil {
		b.Fatal(err)
	}
	return db, ids
}

type variant struct {
	name string
	op   func(b *testing.B, i int)
}

// compare warms every variant up first: whichever ran first on a fresh
// database and fresh connections was measured some 30% slower.
func compare(b *testing.B, variants ...variant) {
	for _, v := range variants {
		for i := range 300 {
			v.op(b, i)
		}
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				v.op(b, i)
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	db, ids := benchDB(b)
	ctx := b.Context()
	users := repo.NewUsers(db.Pool(), repo.Options{})
	sql := "SELECT " + userColumns + " FROM users WHERE id = $1"
	compare(b,
		variant{"impl=repo", func(b *testing.B, i int) {
			if _, err := users.Get(ctx, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
		}},
		variant{"impl=pgx", func(b *testing.B, i int) {
			var u repo.User
			if err := scanUser(db.Pool().QueryRow(ctx, sql, ids[i%len(ids)]), &u); err != nil {
				b.Fatal(err)
			}
		}},
	)
}

func BenchmarkList(b *testing.B) {
	db, _ := benchDB(b)
	ctx := b.Context()
	users := repo.NewUsers(db.Pool(), repo.Options{})
	const countSQL = "SELECT count(*) FROM users WHERE status = $1"
	const pageSQL = "SELECT " + userColumns + " FROM users WHERE status = $1 ORDER BY email, id LIMIT $2 OFFSET $3"
	compare(b,
		variant{"impl=repo", func(b *testing.B, i int) {
			p, err := users.List(ctx, repo.ListOptions{
				Filters: []repo.Filter{{Field: "status", Op: repo.Eq, Value: "active"}},
				Sort:    []repo.Sort{{Field: "email"}},
				Limit:   50,
				Offset:  (i % 10) * 50,
			})
			if err != nil || len(p.Items) != 50 {
				b.Fatal(len(p.Items), err)
			}
		}},
		variant{"impl=pgx", func(b *testing.B, i int) {
			var total int64
			if err := db.Pool().QueryRow(ctx, countSQL, "active").Scan(&total); err != nil {
				b.Fatal(err)
			}
			rows, err := db.Pool().Query(ctx, pageSQL, "active", 50, (i%10)*50)
			if err != nil {
				b.Fatal(err)
			}
			items := make([]repo.User, 0, 50)
			for rows.Next() {
				var u repo.User
				if err := scanUser(rows, &u); err != nil {
					b.Fatal(err)
				}
				items = append(items, u)
			}
			if rows.Err() != nil || len(items) != 50 {
				b.Fatal(len(items), rows.Err())
			}
		}},
		// The repository scans through precomputed field offsets; this is
		// the alternative it was measured against.
		variant{"impl=pgx-RowToStructByName", func(b *testing.B, i int) {
			var total int64
			if err := db.Pool().QueryRow(ctx, countSQL, "active").Scan(&total); err != nil {
				b.Fatal(err)
			}
			rows, err := db.Pool().Query(ctx, pageSQL, "active", 50, (i%10)*50)
			if err != nil {
				b.Fatal(err)
			}
			items, err := pgx.CollectRows(rows, pgx.RowToStructByName[repo.User])
			if err != nil || len(items) != 50 {
				b.Fatal(len(items), err)
			}
		}},
	)
}

func BenchmarkCreate(b *testing.B) {
	db, _ := benchDB(b)
	ctx := b.Context()
	users := repo.NewUsers(db.Pool(), repo.Options{})
	var n atomic.Int64
	next := func() string { return fmt.Sprintf("bench%d", n.Add(1)) }
	sql := "INSERT INTO users (email, username, password_hash) VALUES ($1, $2, $3) RETURNING " + userColumns
	compare(b,
		variant{"impl=repo", func(b *testing.B, _ int) {
			name := next()
			u := repo.User{Email: name + "@example.com", Username: name, PasswordHash: "hash"}
			if err := users.Create(ctx, &u); err != nil {
				b.Fatal(err)
			}
		}},
		variant{"impl=pgx", func(b *testing.B, _ int) {
			name := next()
			u := repo.User{Email: name + "@example.com", Username: name, PasswordHash: "hash"}
			if err := scanUser(db.Pool().QueryRow(ctx, sql, u.Email, u.Username, u.PasswordHash), &u); err != nil {
				b.Fatal(err)
			}
		}},
	)
}
