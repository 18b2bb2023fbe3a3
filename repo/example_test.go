package repo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/repo"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// Post is an application's own entity, with soft delete.
type Post struct {
	ID        int64      `db:"id,default"`
	AuthorID  string     `db:"author_id"`
	Title     string     `db:"title"`
	CreatedAt time.Time  `db:"created_at,default,noupdate"`
	DeletedAt *time.Time `db:"deleted_at"`
}

// Posts embeds the generic base and adds what is specific to posts.
type Posts struct {
	*repo.Base[Post]
}

func NewPosts(db repo.DBTX) (*Posts, error) {
	b, err := repo.New[Post](db, repo.Config{Table: "posts", SoftDelete: "deleted_at", Audit: true})
	return &Posts{b}, err
}

// Example opens a pool, migrates with the core migrations, works with
// users and an application table through repositories, reads the audit
// trail and serves the health endpoint.
func Example() {
	connString, drop := pgtest.ExampleDB()
	defer drop()
	ctx := context.Background()

	db, err := pgdb.Open(ctx, connString, pgdb.Config{ApplicationName: "example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	// Migrate with the core migrations compiled into pgmig.
	r, err := runner.New(db.Pool(), source.Builtin(), runner.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := r.Up(ctx, runner.UpOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("applied", len(rep.Applied), "migrations")
	// The application's own table (in a real project, its own migration).
	if _, err := db.Pool().Exec(ctx, `CREATE TABLE posts (
		id bigserial PRIMARY KEY,
		author_id uuid NOT NULL REFERENCES users(id),
		title text NOT NULL,
		created_at timestamptz NOT NULL DEFAULT now(),
		deleted_at timestamptz)`); err != nil {
		fmt.Println(err)
		return
	}

	// Create users; the audit trail records who did it.
	ctx = repo.WithActor(ctx, repo.Actor{IP: netip.MustParseAddr("192.0.2.1"), UserAgent: "example/1.0"})
	users := repo.NewUsers(db.Pool(), repo.Options{Audit: true})
	var ada repo.User
	for _, name := range []string{"ada", "grace", "alan", "barbara"} {
		u := repo.User{Email: name + "@example.com", Username: name, PasswordHash: "bcrypt:" + name}
		if err := users.Create(ctx, &u); err != nil {
			fmt.Println(err)
			return
		}
		if name == "ada" {
			ada = u
		}
	}
	fmt.Println("created ada, status", *ada.Status, "role", *ada.Role)

	found, err := users.FindByEmail(ctx, "ADA@example.com")
	fmt.Println("found by email:", found.Username, err)

	// List with a filter, a sort and a page.
	sort, err := repo.ParseSort("-username")
	if err != nil {
		fmt.Println(err)
		return
	}
	page, err := users.List(ctx, repo.ListOptions{
		Filters: []repo.Filter{{Field: "email", Op: repo.ILike, Value: "%R%"}},
		Sort:    sort,
		Limit:   2,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print("page of ", page.Total, ":")
	for _, u := range page.Items {
		fmt.Print(" ", u.Username)
	}
	fmt.Println()

	// A client's bad field is a typed error, never SQL.
	_, err = users.List(ctx, repo.ListOptions{Filters: []repo.Filter{{Field: "email; DROP TABLE users", Op: repo.Eq, Value: 1}}})
	fmt.Println("bad filter:", err)

	// Soft-delete a post; it disappears from reads, and comes back.
	posts, err := NewPosts(db.Pool())
	if err != nil {
		fmt.Println(err)
		return
	}
	post := Post{AuthorID: ada.ID, Title: "Notes on the Analytical Engine"}
	if err := posts.Create(ctx, &post); err != nil {
		fmt.Println(err)
		return
	}
	if err := posts.Delete(ctx, post.ID); err != nil {
		fmt.Println(err)
		return
	}
	_, err = posts.Get(ctx, post.ID)
	fmt.Println("after delete:", err)
	deleted, _ := posts.Get(ctx, post.ID, repo.IncludeDeleted)
	fmt.Println("still stored, deleted:", deleted.DeletedAt != nil)
	fmt.Println("restore:", posts.Restore(ctx, post.ID))

	// Change ada in a transaction of our own: the update and its audit
	// row commit together.
	err = db.InTx(ctx, pgdb.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
		_, err := users.WithDB(tx).Patch(ctx, ada.ID, map[string]any{"role": "admin", "password_hash": "bcrypt:new"})
		return err
	})
	fmt.Println("patched:", err)

	// Read the audit trail.
	trail, err := repo.NewAuditLogs(db.Pool()).ForResource(ctx, "users", ada.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range trail {
		var changes map[string]map[string]any
		_ = json.Unmarshal(a.Changes, &changes)
		fmt.Printf("audit %s from %s: role %v, password_hash %v\n", a.Action, a.IPAddress, changes["role"], changes["password_hash"])
	}

	// Serve the health endpoint.
	srv := httptest.NewServer(pgdb.HealthHandler(db.Pool(), pgdb.HealthOptions{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var health map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&health)
	fmt.Println("health:", resp.StatusCode, health["status"], slices.Sorted(maps.Keys(health)))

	// Output:
	// applied 4 migrations
	// created ada, status active role user
	// found by email: ada <nil>
	// page of 2: grace barbara
	// bad filter: list users: field "email; DROP TABLE users": unknown field
	// after delete: get posts 1: not found
	// still stored, deleted: true
	// restore: <nil>
	// patched: <nil>
	// audit create from 192.0.2.1: role map[new:user], password_hash map[new:[REDACTED]]
	// audit update from 192.0.2.1: role map[new:admin old:user], password_hash map[new:[REDACTED] old:[REDACTED]]
	// health: 200 ok [status]
}
