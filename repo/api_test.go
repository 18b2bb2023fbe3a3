package repo_test

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/repo"
)

func TestSignedCursors(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	seedNotes(t, db, 10)
	key := []byte("0123456789abcdef0123456789abcdef")
	newNotes := func(table string, key []byte) *repo.Base[Note] {
		r, err := repo.New[Note](db.Pool(), repo.Config{Table: table, SoftDelete: "deleted_at", CursorKey: key})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := newNotes("notes", key), newNotes("notes", key)
	p, err := a.ListKeyset(t.Context(), repo.KeysetOptions{Limit: 3})
	if err != nil || p.Next == "" {
		t.Fatalf("first page %v, %v", p, err)
	}
	// Another instance with the same key takes the cursor: a service's
	// replicas share the key.
	if q, err := b.ListKeyset(t.Context(), repo.KeysetOptions{Limit: 3, After: p.Next}); err != nil || !slices.Equal(ids(q.Items), []int64{4, 6, 7}) {
		t.Errorf("same key: %v, %v", ids(q.Items), err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(p.Next)
	edited := slices.Clone(raw)
	edited[len(edited)-3] ^= 1 // inside the payload, after the MAC
	if _, err := db.Pool().Exec(t.Context(), "CREATE VIEW notes_v AS SELECT * FROM notes"); err != nil {
		t.Fatal(err)
	}
	var ce *repo.CursorError
	for name, tc := range map[string]struct {
		r     *repo.Base[Note]
		after string
	}{
		"edited":        {a, base64.RawURLEncoding.EncodeToString(edited)},
		"other key":     {newNotes("notes", []byte("another key, 16+ bytes long")), p.Next},
		"random key":    {newNotes("notes", nil), p.Next},
		"other table":   {newNotes("notes_v", key), p.Next},
		"truncated":     {a, p.Next[:10]},
		"unsigned form": {a, forge("id", 3)},
	} {
		if _, err := tc.r.ListKeyset(t.Context(), repo.KeysetOptions{Limit: 3, After: tc.after}); !errors.As(err, &ce) || !errors.Is(err, repo.ErrInvalidQuery) {
			t.Errorf("%s: error %v, want *CursorError", name, err)
		}
	}
	if _, err := repo.New[Note](db.Pool(), repo.Config{Table: "notes", CursorKey: []byte("short")}); err == nil {
		t.Error("New took a 5-byte cursor key")
	}
}

// TestKeysetNulls walks users newest first, created_at being nullable, and
// notes by a nullable body, in each placement of the NULLs, and must see
// every row once in the order of a single ORDER BY.
func TestKeysetNulls(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	seedNotes(t, db, 120)
	// Many equal created_at values and some NULLs among users.
	if _, err := db.Pool().Exec(t.Context(), `
		INSERT INTO users (email, username, password_hash, created_at)
		SELECT 'u' || i || '@x.org', 'u' || i, 'h',
		       CASE WHEN i % 4 = 0 THEN NULL ELSE timestamptz '2026-01-01' + (i % 9) * interval '1 day' END
		FROM generate_series(1, 90) AS i`); err != nil {
		t.Fatal(err)
	}
	users := repo.NewUsers(db.Pool(), repo.Options{})
	notes := notesRepo(t, db.Pool(), false)
	tests := []struct {
		name    string
		sort    []repo.Sort
		orderBy string
	}{
		{"newest first, nulls last", []repo.Sort{{Field: "created_at", Desc: true, Nulls: repo.NullsLast}}, "created_at DESC NULLS LAST, id"},
		{"newest first, default (nulls first)", []repo.Sort{{Field: "created_at", Desc: true}}, "created_at DESC NULLS FIRST, id"},
		{"oldest first, nulls first", []repo.Sort{{Field: "created_at", Nulls: repo.NullsFirst}}, "created_at NULLS FIRST, id"},
		{"oldest first, default (nulls last)", []repo.Sort{{Field: "created_at"}}, "created_at NULLS LAST, id"},
		{"two nullable keys", []repo.Sort{{Field: "last_login", Nulls: repo.NullsFirst}, {Field: "created_at", Desc: true, Nulls: repo.NullsLast}}, "last_login NULLS FIRST, created_at DESC NULLS LAST, id"},
	}
	for _, tc := range tests {
		t.Run("users "+tc.name, func(t *testing.T) {
			t.Parallel()
			want, err := pgdb.QueryValue[string](t.Context(), db.Pool(), "SELECT id::text FROM users ORDER BY "+tc.orderBy)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			after := ""
			for range 100 {
				p, err := users.ListKeyset(t.Context(), repo.KeysetOptions{Sort: tc.sort, Limit: 7, After: after})
				if err != nil {
					t.Fatal(err)
				}
				for _, u := range p.Items {
					got = append(got, u.ID)
				}
				if after = p.Next; after == "" {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %d rows, want %d, in another order", len(got), len(want))
			}
		})
	}
	for _, nulls := range []repo.Nulls{repo.NullsFirst, repo.NullsLast} {
		for _, desc := range []bool{false, true} {
			sort := []repo.Sort{{Field: "body", Desc: desc, Nulls: nulls}}
			name := "notes " + map[bool]string{false: "asc", true: "desc"}[desc] + map[repo.Nulls]string{repo.NullsFirst: " nulls first", repo.NullsLast: " nulls last"}[nulls]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				order := "body" + map[bool]string{false: "", true: " DESC"}[desc] + map[repo.Nulls]string{repo.NullsFirst: " NULLS FIRST", repo.NullsLast: " NULLS LAST"}[nulls] + ", id"
				want, err := pgdb.QueryValue[int64](t.Context(), db.Pool(), "SELECT id FROM notes WHERE deleted_at IS NULL ORDER BY "+order)
				if err != nil {
					t.Fatal(err)
				}
				var got []int64
				after := ""
				for range 100 {
					p, err := notes.ListKeyset(t.Context(), repo.KeysetOptions{Sort: sort, Limit: 11, After: after})
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, ids(p.Items)...)
					if after = p.Next; after == "" {
						break
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("got %d ids, want %d: %v", len(got), len(want), diffIDs(got, want))
				}
			})
		}
	}
}

func TestListSkipCount(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	seedNotes(t, db, 10) // 8 live
	notes := notesRepo(t, db.Pool(), false)
	for _, tc := range []struct {
		offset int
		skip   bool
		n      int
		total  int64
		more   bool
	}{
		{0, true, 5, -1, true}, {5, true, 3, -1, false}, {0, false, 5, 8, true}, {5, false, 3, 8, false}, {3, true, 5, -1, false},
	} {
		p, err := notes.List(t.Context(), repo.ListOptions{Limit: 5, Offset: tc.offset, SkipCount: tc.skip})
		if err != nil || len(p.Items) != tc.n || p.Total != tc.total || p.More != tc.more {
			t.Errorf("offset %d skip %v: %d items, total %d, more %v, %v; want %d %d %v", tc.offset, tc.skip, len(p.Items), p.Total, p.More, err, tc.n, tc.total, tc.more)
		}
	}
}

// Counter has a non-pointer default column, whose zero Create used to be
// unable to write.
type Counter struct {
	ID    int64  `db:"id,default"`
	Title string `db:"title"`
	Rank  int    `db:"rank,default"`
}

func TestCreateExplicitZero(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	if _, err := db.Pool().Exec(t.Context(), "ALTER TABLE notes ALTER rank SET DEFAULT 5"); err != nil {
		t.Fatal(err)
	}
	r, err := repo.New[Counter](db.Pool(), repo.Config{Table: "notes", UpdatedAt: "-"})
	if err != nil {
		t.Fatal(err)
	}
	c := Counter{Title: "default"}
	if err := r.Create(t.Context(), &c); err != nil || c.Rank != 5 {
		t.Errorf("zero without Explicit: rank %d, %v; want the default 5", c.Rank, err)
	}
	z := Counter{Title: "zero"}
	if err := r.Create(t.Context(), &z, repo.Explicit("rank")); err != nil || z.Rank != 0 {
		t.Errorf("Explicit zero: rank %d, %v; want 0", z.Rank, err)
	}
	if err := r.Create(t.Context(), &Counter{Title: "x"}, repo.Explicit("title")); !errors.Is(err, repo.ErrInvalidQuery) {
		t.Errorf("Explicit on a column without default: %v", err)
	}
}

// TestEmbeddingTypeJoinsTransaction: a type that embeds *Base keeps its
// own methods inside a transaction, with nothing re-declared: the
// repository takes the transaction from ctx.
func TestEmbeddingTypeJoinsTransaction(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	users := repo.NewUsers(db.Pool(), repo.Options{Audit: true})
	err := db.InTx(t.Context(), pgdb.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
		if err := users.Create(ctx, newUser("txuser")); err != nil {
			return err
		}
		if _, err := users.FindByEmail(ctx, "txuser@example.com"); err != nil {
			t.Errorf("FindByEmail inside the transaction: %v", err)
		}
		if _, err := users.FindByEmail(t.Context(), "txuser@example.com"); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("FindByEmail outside saw the uncommitted row: %v", err)
		}
		return errBoomTx
	})
	if !errors.Is(err, errBoomTx) {
		t.Fatal(err)
	}
	if n, _ := pgdb.QueryValue[int](t.Context(), db.Pool(), "SELECT count(*)::int FROM users"); n[0] != 0 {
		t.Errorf("%d users after the rollback", n[0])
	}
	if n, _ := pgdb.QueryValue[int](t.Context(), db.Pool(), "SELECT count(*)::int FROM audit_log"); n[0] != 0 {
		t.Errorf("%d audit rows after the rollback: the audited write did not join the transaction", n[0])
	}
}

var errBoomTx = errors.New("boom")

func TestFilterAndSortAreOptIn(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	notes := notesRepo(t, db.Pool(), false)
	var fe *repo.FieldError
	_, err := notes.List(t.Context(), repo.ListOptions{Filters: []repo.Filter{{"tags", repo.IsNull, nil}}})
	if !errors.As(err, &fe) || fe.Reason != "not filterable" {
		t.Errorf("filter on an untagged column: %v", err)
	}
	_, err = notes.List(t.Context(), repo.ListOptions{Sort: []repo.Sort{{Field: "owner_id"}}})
	if !errors.As(err, &fe) || fe.Reason != "not sortable" {
		t.Errorf("sort on a filter-only column: %v", err)
	}
}

func TestDefaultSecretsIsACopy(t *testing.T) {
	t.Parallel()
	s := repo.DefaultSecrets()
	s[0] = "nothing"
	if !slices.Contains(repo.DefaultSecrets(), "password_hash") {
		t.Error("a caller changed the default secrets")
	}
}

func TestParseSortNulls(t *testing.T) {
	t.Parallel()
	got, err := repo.ParseSort("-created_at nulls last, email asc NULLS FIRST, id")
	want := []repo.Sort{{Field: "created_at", Desc: true, Nulls: repo.NullsLast}, {Field: "email", Nulls: repo.NullsFirst}, {Field: "id"}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ParseSort = %v, %v", got, err)
	}
	for _, bad := range []string{"email nulls", "email nulls sometimes", "nulls last"} {
		if _, err := repo.ParseSort(bad); !errors.Is(err, repo.ErrInvalidQuery) {
			t.Errorf("ParseSort(%q) = %v", bad, err)
		}
	}
}
