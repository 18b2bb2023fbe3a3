package repo_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/repo"
)

// seedNotes inserts n notes: title "note-<i>", rank i%7, body set on even
// i, tags {"odd"} or {"even"}; every fifth one soft-deleted.
func seedNotes(t testing.TB, db *pgdb.DB, n int) {
	t.Helper()
	_, err := db.Pool().Exec(t.Context(), `
		INSERT INTO notes (title, body, rank, tags, deleted_at)
		SELECT 'note-' || i, CASE WHEN i % 2 = 0 THEN 'body ' || i END, i % 7,
		       ARRAY[CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END],
		       CASE WHEN i % 5 = 0 THEN now() END
		FROM generate_series(1, $1) AS i`, n)
	if err != nil {
		t.Fatal(err)
	}
}

func ids(notes []Note) []int64 {
	out := make([]int64, len(notes))
	for i, n := range notes {
		out[i] = n.ID
	}
	return out
}

func TestListFiltersAndSorts(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	seedNotes(t, db, 30) // ids 1..30, 5, 10, ... 30 deleted
	notes := notesRepo(t, db.Pool(), false)
	tests := []struct {
		name    string
		opts    repo.ListOptions
		total   int64
		wantIDs []int64
	}{
		{"default order is the primary key", repo.ListOptions{Limit: 3}, 24, []int64{1, 2, 3}},
		{"offset", repo.ListOptions{Limit: 3, Offset: 3}, 24, []int64{4, 6, 7}},
		{"offset past the end", repo.ListOptions{Offset: 100}, 24, []int64{}},
		{"eq", repo.ListOptions{Filters: []repo.Filter{{"title", repo.Eq, "note-7"}}}, 1, []int64{7}},
		{"ne", repo.ListOptions{Filters: []repo.Filter{{"rank", repo.Ne, 0}}, Limit: 2}, 20, []int64{1, 2}},
		{"lt", repo.ListOptions{Filters: []repo.Filter{{"id", repo.Lt, 3}}}, 2, []int64{1, 2}},
		{"le ge", repo.ListOptions{Filters: []repo.Filter{{"id", repo.Le, 9}, {"id", repo.Ge, 8}}}, 2, []int64{8, 9}},
		{"gt", repo.ListOptions{Filters: []repo.Filter{{"id", repo.Gt, 28}}}, 1, []int64{29}},
		{"in", repo.ListOptions{Filters: []repo.Filter{{"id", repo.In, []int64{3, 5, 11}}}}, 2, []int64{3, 11}},
		{"like", repo.ListOptions{Filters: []repo.Filter{{"title", repo.Like, "note-1_"}}}, 8, []int64{11, 12, 13, 14, 16, 17, 18, 19}},
		{"ilike", repo.ListOptions{Filters: []repo.Filter{{"title", repo.ILike, "NOTE-2%"}}, Limit: 2}, 9, []int64{2, 21}},
		{"is null", repo.ListOptions{Filters: []repo.Filter{{"body", repo.IsNull, nil}}, Limit: 3}, 12, []int64{1, 3, 7}},
		{"is not null", repo.ListOptions{Filters: []repo.Filter{{"body", repo.NotNull, nil}}, Limit: 3}, 12, []int64{2, 4, 6}},
		{"sort desc with pk tiebreak", repo.ListOptions{Sort: []repo.Sort{{Field: "rank", Desc: true}}, Limit: 4}, 24, []int64{6, 13, 27, 12}},
		{"two sorts", repo.ListOptions{Sort: []repo.Sort{{Field: "rank"}, {Field: "id", Desc: true}}, Limit: 3}, 24, []int64{28, 21, 14}},
		{"include deleted", repo.ListOptions{IncludeDeleted: true, Filters: []repo.Filter{{"id", repo.In, []int64{5}}}}, 1, []int64{5}},
		{"hostile value is only a value", repo.ListOptions{Filters: []repo.Filter{{"title", repo.Eq, "x' OR '1'='1"}}}, 0, []int64{}},
		{"unicode value", repo.ListOptions{Filters: []repo.Filter{{"title", repo.Eq, "nöte-😀"}}}, 0, []int64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := notes.List(t.Context(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != tc.total || !slices.Equal(ids(p.Items), tc.wantIDs) {
				t.Errorf("total %d ids %v; want %d %v", p.Total, ids(p.Items), tc.total, tc.wantIDs)
			}
		})
	}
}

func TestListPageSize(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	seedNotes(t, db, 1200)
	notes := notesRepo(t, db.Pool(), false)
	for _, tc := range []struct{ limit, want int }{{0, 50}, {-1, 50}, {10, 10}, {5000, 1000}} {
		p, err := notes.List(t.Context(), repo.ListOptions{Limit: tc.limit, IncludeDeleted: true})
		if err != nil || len(p.Items) != tc.want || p.Limit != tc.want || p.Total != 1200 {
			t.Errorf("Limit %d: %d items, limit %d, total %d, %v; want %d", tc.limit, len(p.Items), p.Limit, p.Total, err, tc.want)
		}
	}
}

// TestHostileInput: whatever a client sends as a field name, operator or
// sort, it is a typed error before any SQL runs, never SQL.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	seedNotes(t, db, 3)
	users := repo.NewUsers(db.Pool(), repo.Options{})
	var fieldErr *repo.FieldError
	var opErr *repo.OperatorError
	var sortErr *repo.SortError
	tests := []struct {
		name string
		sort string
		opts repo.ListOptions
		as   any
	}{
		{"statement in a field", "", repo.ListOptions{Filters: []repo.Filter{{"email; DROP TABLE users", repo.Eq, 1}}}, &fieldErr},
		{"quoted field", "", repo.ListOptions{Filters: []repo.Filter{{`"email"`, repo.Eq, "a"}}}, &fieldErr},
		{"field with quote", "", repo.ListOptions{Filters: []repo.Filter{{"email' OR 1=1 --", repo.Eq, "a"}}}, &fieldErr},
		{"expression field", "", repo.ListOptions{Filters: []repo.Filter{{"lower(email)", repo.Eq, "a"}}}, &fieldErr},
		{"unicode field", "", repo.ListOptions{Filters: []repo.Filter{{"émail", repo.Eq, "a"}}}, &fieldErr},
		{"case differs", "", repo.ListOptions{Filters: []repo.Filter{{"EMAIL", repo.Eq, "a"}}}, &fieldErr},
		{"Go field name", "", repo.ListOptions{Filters: []repo.Filter{{"PasswordHash", repo.Eq, "a"}}}, &fieldErr},
		{"empty field", "", repo.ListOptions{Filters: []repo.Filter{{"", repo.Eq, "a"}}}, &fieldErr},
		{"unknown operator", "", repo.ListOptions{Filters: []repo.Filter{{"email", "~", "a"}}}, &opErr},
		{"operator with SQL", "", repo.ListOptions{Filters: []repo.Filter{{"email", "= 'a' OR 1=1 --", "a"}}}, &opErr},
		{"operator in upper case", "", repo.ListOptions{Filters: []repo.Filter{{"email", "LIKE", "a"}}}, &opErr},
		{"nil with eq", "", repo.ListOptions{Filters: []repo.Filter{{"email", repo.Eq, nil}}}, &opErr},
		{"in without a slice", "", repo.ListOptions{Filters: []repo.Filter{{"email", repo.In, "a,b"}}}, &opErr},
		{"like without a string", "", repo.ListOptions{Filters: []repo.Filter{{"email", repo.Like, 1}}}, &opErr},
		{"sort with subquery", "id desc, (select 1)", repo.ListOptions{}, &sortErr},
		{"sort with function", "id desc,lower(email)", repo.ListOptions{}, &fieldErr},
		{"sort direction with SQL", "id desc; DROP TABLE users", repo.ListOptions{}, &sortErr},
		{"sort direction unknown", "id sideways", repo.ListOptions{}, &sortErr},
		{"sort with comment", "id --", repo.ListOptions{}, &sortErr},
		{"sort empty term", "id,,email", repo.ListOptions{}, &sortErr},
		{"sort unknown field", "-nope", repo.ListOptions{}, &fieldErr},
		{"sort quoted", `"id"`, repo.ListOptions{}, &fieldErr},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := tc.opts
			sorts, err := repo.ParseSort(tc.sort)
			if err == nil {
				opts.Sort = sorts
				_, err = users.List(t.Context(), opts)
			}
			// A target of the subtest's own: the cases run in parallel.
			target := reflect.New(reflect.TypeOf(tc.as).Elem()).Interface()
			if !errors.Is(err, repo.ErrInvalidQuery) || !errors.As(err, target) {
				t.Fatalf("error %v (%T): want %T matching ErrInvalidQuery", err, err, tc.as)
			}
			if err == nil {
				return
			}
			_, err = users.ListKeyset(t.Context(), repo.KeysetOptions{Filters: opts.Filters, Sort: opts.Sort})
			var fe *repo.FieldError
			if tc.sort == "" || errors.As(err, &fe) {
				if !errors.Is(err, repo.ErrInvalidQuery) {
					t.Errorf("ListKeyset error %v: want ErrInvalidQuery", err)
				}
			}
		})
	}
	t.Run("tables survive", func(t *testing.T) {
		if n, err := pgdb.QueryValue[int](t.Context(), db.Pool(), "SELECT count(*)::int FROM notes"); err != nil || n[0] != 3 {
			t.Errorf("notes: %v %v", n, err)
		}
	})
}

func TestParseSort(t *testing.T) {
	t.Parallel()
	got, err := repo.ParseSort(" email, -created_at ,id DESC,username asc")
	want := []repo.Sort{{Field: "email"}, {Field: "created_at", Desc: true}, {Field: "id", Desc: true}, {Field: "username"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseSort = %v, %v; want %v", got, err, want)
	}
}

// TestKeysetPagination walks a few hundred rows with many equal sort
// values, page by page, and must see each live row exactly once, in the
// order of a single ORDER BY.
func TestKeysetPagination(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	seedNotes(t, db, 400)
	notes := notesRepo(t, db.Pool(), false)
	tests := []struct {
		name    string
		sort    []repo.Sort
		filters []repo.Filter
		orderBy string
		where   string
	}{
		{"primary key", nil, nil, "id", ""},
		{"rank desc", []repo.Sort{{Field: "rank", Desc: true}}, nil, "rank DESC, id", ""},
		{"mixed directions", []repo.Sort{{Field: "rank"}, {Field: "title", Desc: true}}, nil, "rank, title DESC, id", ""},
		{"filtered", []repo.Sort{{Field: "created_at"}}, []repo.Filter{{"title", repo.Like, "note-1%"}}, "created_at, id", "AND title LIKE 'note-1%'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want, err := pgdb.QueryValue[int64](t.Context(), db.Pool(),
				"SELECT id FROM notes WHERE deleted_at IS NULL "+tc.where+" ORDER BY "+tc.orderBy)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			after := ""
			pages := 0
			for {
				p, err := notes.ListKeyset(t.Context(), repo.KeysetOptions{Sort: tc.sort, Filters: tc.filters, Limit: 37, After: after})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ids(p.Items)...)
				pages++
				if p.Next == "" {
					break
				}
				if pages > 100 {
					t.Fatal("no end")
				}
				after = p.Next
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %d ids, want %d: %v", len(got), len(want), diffIDs(got, want))
			}
		})
	}
}

func diffIDs(got, want []int64) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at %d: %d, want %d", i, got[i], want[i])
		}
	}
	return "one is a prefix of the other"
}

func TestKeysetCursorChecks(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	seedNotes(t, db, 10)
	notes := notesRepo(t, db.Pool(), false)
	p, err := notes.ListKeyset(t.Context(), repo.KeysetOptions{Limit: 2, Sort: []repo.Sort{{Field: "rank"}}})
	if err != nil || p.Next == "" {
		t.Fatalf("first page %v, %v", p, err)
	}
	var cursorErr *repo.CursorError
	for name, opts := range map[string]repo.KeysetOptions{
		"garbage":       {After: "'; DROP TABLE notes; --"},
		"not json":      {After: "bm90IGpzb24"},
		"another order": {After: p.Next, Sort: []repo.Sort{{Field: "title"}}},
	} {
		_, err := notes.ListKeyset(t.Context(), opts)
		if !errors.Is(err, repo.ErrInvalidQuery) {
			t.Errorf("%s: error %v, want ErrInvalidQuery", name, err)
		}
		if !errors.As(err, &cursorErr) {
			t.Errorf("%s: error %v, want *CursorError", name, err)
		}
	}
}

func TestListInTransaction(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	notes := notesRepo(t, db.Pool(), false)
	err := db.InTx(t.Context(), pgdb.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
		if err := notes.WithDB(tx).Create(ctx, &Note{Title: "uncommitted"}); err != nil {
			return err
		}
		p, err := notes.WithDB(tx).List(ctx, repo.ListOptions{})
		if err != nil || p.Total != 1 {
			t.Errorf("inside: %+v, %v", p, err)
		}
		// The repository joins the transaction of ctx by itself.
		p, err = notes.List(ctx, repo.ListOptions{})
		if err != nil || p.Total != 1 {
			t.Errorf("inside, through ctx: %+v, %v", p, err)
		}
		p, err = notes.List(t.Context(), repo.ListOptions{})
		if err != nil || p.Total != 0 {
			t.Errorf("outside: %+v, %v", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
