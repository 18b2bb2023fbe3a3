package repo_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/repo"
)

// notesSQL adds a table with soft delete to the core schema.
const notesSQL = `
CREATE TABLE notes (
  id bigserial PRIMARY KEY,
  title text NOT NULL,
  body text,
  rank int NOT NULL DEFAULT 0,
  tags text[],
  owner_id uuid REFERENCES users(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);`

type Note struct {
	ID        int64      `db:"id,default,filter,sort"`
	Title     string     `db:"title,filter,sort"`
	Body      *string    `db:"body,filter,sort"`
	Rank      int        `db:"rank,filter,sort"`
	Tags      []string   `db:"tags"`
	OwnerID   *string    `db:"owner_id,filter"`
	CreatedAt time.Time  `db:"created_at,default,noupdate,filter,sort"`
	UpdatedAt time.Time  `db:"updated_at,default"`
	DeletedAt *time.Time `db:"deleted_at"`
}

// coreSQL returns the up sections of the core migrations, read from disk
// (the runner is not a dependency of this package).
func coreSQL(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob("../source/core/*.sql")
	if err != nil || len(files) != 4 {
		tb.Fatalf("core migrations: %v %v", files, err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		up, _, _ := strings.Cut(string(b), "-- pgmig:down")
		out = append(out, up)
	}
	return out
}

func testDB(tb testing.TB) *pgdb.DB {
	tb.Helper()
	return openDB(tb, pgtest.NewDB(tb, append(coreSQL(tb), notesSQL)...))
}

func openDB(tb testing.TB, url string) *pgdb.DB {
	tb.Helper()
	db, err := pgdb.Open(tb.Context(), url, pgdb.Config{MaxConns: 20})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(db.Close)
	return db
}

func notesRepo(tb testing.TB, db repo.DBTX, audit bool) *repo.Base[Note] {
	tb.Helper()
	r, err := repo.New[Note](db, repo.Config{Table: "notes", SoftDelete: "deleted_at", Audit: audit})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func newUser(name string) *repo.User {
	return &repo.User{Email: name + "@example.com", Username: name, PasswordHash: "hash-of-" + name}
}

func ptr[T any](v T) *T { return &v }
