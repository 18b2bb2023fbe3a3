package repo_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/repo"
)

// The benchmarks compare the repository (impl=repo) with the same work
// written by hand with pgx (impl=pgx), in the same run, on the same pool:
//
//	go test ./repo -run='^$' -bench=. -benchmem -count=5 -benchtime=1000x | tee bench.txt
//	go run golang.org/x/perf/cmd/benchstat@latest bench.txt
//
// (docs/library.md gives the same commands and the results.) Each call
// of a Benchmark function runs its variants in the order opposite to the
// previous call's, so that over the counts each variant runs first about
// as often: whatever drifts during a run (the machine's load, the
// server's caches) falls on both alike. Then both run interleaved, call
// by call, and ratio-p50 compares their median calls.

const userColumns = "id, email, username, password_hash, email_verified, email_verification_token, status, role, created_at, updated_at, last_login, metadata"

func scanUser(row pgx.Row, u *repo.User) error {
	return row.Scan(&u.ID, &u.Email, &u.Username, &u.PasswordHash, &u.EmailVerified, &u.EmailVerificationToken,
		&u.Status, &u.Role, &u.CreatedAt, &u.UpdatedAt, &u.LastLogin, &u.Metadata)
}

func benchDB(b *testing.B, cfg pgdb.Config) (*pgdb.DB, []string) {
	b.Helper()
	// No wait for the WAL flush: commits measure the code, not the disk
	// that other work on the machine shares.
	url := pgtest.NewDB(b, append(coreSQL(b), notesSQL)...) + "&synchronous_commit=off"
	cfg.MaxConns = 4
	db, err := pgdb.Open(b.Context(), url, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
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

var (
	callsMu sync.Mutex
	calls   = map[string]int{}
)

// compare warms every variant up (whichever ran first on fresh
// connections was measured some 30% slower), then runs each as a
// sub-benchmark, in the opposite order from the previous call of the same
// benchmark, for ns/op and allocations, and then all of them interleaved
// (mode=interleaved): call by call, each variant first in turn, timing
// every call. Its metrics p50-<variant> (the median call) and
// ratio-p50 (the first variant's median over the second's) hold on a
// machine whose load drifts, as both variants see the same moments.
func compare(b *testing.B, variants ...variant) {
	callsMu.Lock()
	n := calls[b.Name()]
	calls[b.Name()]++
	callsMu.Unlock()
	for _, v := range variants {
		for i := range 300 {
			v.op(b, i)
		}
	}
	for k := range variants {
		v := variants[k]
		if n%2 == 1 {
			v = variants[len(variants)-1-k]
		}
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				v.op(b, i)
			}
		})
	}
	b.Run("mode=interleaved", func(b *testing.B) {
		times := make([][]time.Duration, len(variants))
		for i := 0; b.Loop(); i++ {
			for k := range variants {
				j := (k + i) % len(variants)
				start := time.Now()
				variants[j].op(b, i)
				times[j] = append(times[j], time.Since(start))
			}
		}
		p50 := make([]float64, len(variants))
		for j, ts := range times {
			slices.Sort(ts)
			p50[j] = float64(ts[len(ts)/2].Nanoseconds())
			b.ReportMetric(p50[j], "p50-"+strings.TrimPrefix(variants[j].name, "impl=")+"-ns")
		}
		b.ReportMetric(p50[0]/p50[1], "ratio-p50")
	})
}

func BenchmarkGet(b *testing.B) {
	db, ids := benchDB(b, pgdb.Config{})
	benchGet(b, db, ids)
}

// BenchmarkGetTraced is Get with pgdb's slog tracer logging every query
// (LogQueries, a handler at Debug level writing JSON): its cost falls on
// both variants, and the repository must add nothing to it.
func BenchmarkGetTraced(b *testing.B) {
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db, ids := benchDB(b, pgdb.Config{Logger: log, LogQueries: true})
	benchGet(b, db, ids)
}

func benchGet(b *testing.B, db *pgdb.DB, ids []string) {
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
	db, _ := benchDB(b, pgdb.Config{})
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
	)
}

func BenchmarkCreate(b *testing.B) {
	db, _ := benchDB(b, pgdb.Config{})
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

// BenchmarkUpdate writes every column of a user and reads the row back.
func BenchmarkUpdate(b *testing.B) {
	db, ids := benchDB(b, pgdb.Config{})
	ctx := b.Context()
	users := repo.NewUsers(db.Pool(), repo.Options{})
	const sql = "UPDATE users SET email = $1, username = $2, password_hash = $3, email_verified = $4, email_verification_token = $5, " +
		"status = $6, role = $7, updated_at = now(), last_login = $8, metadata = $9 WHERE id = $10 RETURNING " + userColumns
	rows := loadUsers(b, db, ids)
	compare(b,
		variant{"impl=repo", func(b *testing.B, i int) {
			u := &rows[i%len(rows)]
			u.LastLogin = ptr(time.Now())
			if err := users.Update(ctx, u); err != nil {
				b.Fatal(err)
			}
		}},
		variant{"impl=pgx", func(b *testing.B, i int) {
			u := &rows[i%len(rows)]
			u.LastLogin = ptr(time.Now())
			err := scanUser(db.Pool().QueryRow(ctx, sql, u.Email, u.Username, u.PasswordHash, u.EmailVerified, u.EmailVerificationToken,
				u.Status, u.Role, u.LastLogin, u.Metadata, u.ID), u)
			if err != nil {
				b.Fatal(err)
			}
		}},
	)
}

// BenchmarkPatch sets one column by name and reads the row back.
func BenchmarkPatch(b *testing.B) {
	db, ids := benchDB(b, pgdb.Config{})
	ctx := b.Context()
	users := repo.NewUsers(db.Pool(), repo.Options{})
	const sql = "UPDATE users SET last_login = $1, updated_at = now() WHERE id = $2 RETURNING " + userColumns
	compare(b,
		variant{"impl=repo", func(b *testing.B, i int) {
			if _, err := users.Patch(ctx, ids[i%len(ids)], map[string]any{"last_login": time.Now()}); err != nil {
				b.Fatal(err)
			}
		}},
		variant{"impl=pgx", func(b *testing.B, i int) {
			var u repo.User
			if err := scanUser(db.Pool().QueryRow(ctx, sql, time.Now(), ids[i%len(ids)]), &u); err != nil {
				b.Fatal(err)
			}
		}},
	)
}

type benchChange struct {
	Old any `json:"old,omitempty"`
	New any `json:"new,omitempty"`
}

// userDiff is the audit diff as a careful hand-written service would make
// it: a comparison per field, JSON for the changed ones only, the
// password hash masked.
func userDiff(o, n *repo.User) ([]byte, error) {
	d := map[string]benchChange{}
	add := func(name string, changed bool, ov, nv any) {
		if changed {
			d[name] = benchChange{ov, nv}
		}
	}
	neqS := func(a, b *string) bool { return (a == nil) != (b == nil) || (a != nil && *a != *b) }
	neqT := func(a, b *time.Time) bool { return (a == nil) != (b == nil) || (a != nil && !a.Equal(*b)) }
	add("email", o.Email != n.Email, o.Email, n.Email)
	add("username", o.Username != n.Username, o.Username, n.Username)
	add("password_hash", o.PasswordHash != n.PasswordHash, "[REDACTED]", "[REDACTED]")
	add("email_verified", (o.EmailVerified == nil) != (n.EmailVerified == nil) || (o.EmailVerified != nil && *o.EmailVerified != *n.EmailVerified), o.EmailVerified, n.EmailVerified)
	add("email_verification_token", neqS(o.EmailVerificationToken, n.EmailVerificationToken), "[REDACTED]", "[REDACTED]")
	add("status", neqS(o.Status, n.Status), o.Status, n.Status)
	add("role", neqS(o.Role, n.Role), o.Role, n.Role)
	add("created_at", neqT(o.CreatedAt, n.CreatedAt), o.CreatedAt, n.CreatedAt)
	add("updated_at", neqT(o.UpdatedAt, n.UpdatedAt), o.UpdatedAt, n.UpdatedAt)
	add("last_login", neqT(o.LastLogin, n.LastLogin), o.LastLogin, n.LastLogin)
	return json.Marshal(d)
}

// BenchmarkAuditedUpdate is the write path README recommends in
// production: BEGIN, SELECT … FOR UPDATE of the old row, the UPDATE, the
// audit INSERT with the diff, COMMIT.
func BenchmarkAuditedUpdate(b *testing.B) {
	db, ids := benchDB(b, pgdb.Config{})
	ctx := repo.WithActor(b.Context(), repo.Actor{UserID: ids[0], UserAgent: "bench"})
	users := repo.NewUsers(db.Pool(), repo.Options{Audit: true})
	const (
		lockSQL   = "SELECT " + userColumns + " FROM users WHERE id = $1 FOR UPDATE"
		updateSQL = "UPDATE users SET last_login = $1, updated_at = now() WHERE id = $2 RETURNING " + userColumns
		auditSQL  = "INSERT INTO audit_log (user_id, action, resource_type, resource_id, changes, ip_address, user_agent, created_at)" +
			" VALUES ($1, $2, $3, $4, $5, $6, $7, clock_timestamp())"
	)
	compare(b,
		variant{"impl=repo", func(b *testing.B, i int) {
			if _, err := users.Patch(ctx, ids[i%len(ids)], map[string]any{"last_login": time.Now()}); err != nil {
				b.Fatal(err)
			}
		}},
		variant{"impl=pgx", func(b *testing.B, i int) {
			id := ids[i%len(ids)]
			err := pgx.BeginFunc(ctx, db.Pool(), func(tx pgx.Tx) error {
				var old, cur repo.User
				if err := scanUser(tx.QueryRow(ctx, lockSQL, id), &old); err != nil {
					return err
				}
				if err := scanUser(tx.QueryRow(ctx, updateSQL, time.Now(), id), &cur); err != nil {
					return err
				}
				diff, err := userDiff(&old, &cur)
				if err != nil {
					return err
				}
				_, err = tx.Exec(ctx, auditSQL, ids[0], "update", "users", id, diff, nil, "bench")
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}},
	)
}

// BenchmarkListKeyset walks the active users by email, 50 a page, each
// page after the previous page's cursor. The hand-written variant signs
// and checks its cursors too, as any cursor a client holds must be.
func BenchmarkListKeyset(b *testing.B) {
	db, _ := benchDB(b, pgdb.Config{})
	ctx := b.Context()
	key := []byte("bench cursor key, 32 bytes long!")
	users := repo.NewUsers(db.Pool(), repo.Options{CursorKey: key})
	const (
		firstSQL = "SELECT " + userColumns + " FROM users WHERE status = $1 ORDER BY email, id LIMIT $2"
		afterSQL = "SELECT " + userColumns + " FROM users WHERE status = $1 AND ((email > $2) OR (email = $2 AND id > $3)) ORDER BY email, id LIMIT $4"
	)
	type cursor struct {
		Email string `json:"e"`
		ID    string `json:"i"`
	}
	sign := func(payload []byte) []byte {
		h := hmac.New(sha256.New, key)
		h.Write(payload)
		return h.Sum(nil)[:16]
	}
	var repoAfter, pgxAfter string
	compare(b,
		variant{"impl=repo", func(b *testing.B, _ int) {
			p, err := users.ListKeyset(ctx, repo.KeysetOptions{
				Filters: []repo.Filter{{Field: "status", Op: repo.Eq, Value: "active"}},
				Sort:    []repo.Sort{{Field: "email"}},
				Limit:   50,
				After:   repoAfter,
			})
			if err != nil || len(p.Items) == 0 {
				b.Fatal(len(p.Items), err)
			}
			repoAfter = p.Next
		}},
		variant{"impl=pgx", func(b *testing.B, _ int) {
			var rows pgx.Rows
			var err error
			if pgxAfter == "" {
				rows, err = db.Pool().Query(ctx, firstSQL, "active", 51)
			} else {
				raw, derr := base64.RawURLEncoding.DecodeString(pgxAfter)
				if derr != nil || len(raw) <= 16 || !hmac.Equal(raw[:16], sign(raw[16:])) {
					b.Fatal("bad cursor")
				}
				var c cursor
				if err := json.Unmarshal(raw[16:], &c); err != nil {
					b.Fatal(err)
				}
				rows, err = db.Pool().Query(ctx, afterSQL, "active", c.Email, c.ID, 51)
			}
			if err != nil {
				b.Fatal(err)
			}
			items := make([]repo.User, 0, 51)
			for rows.Next() {
				var u repo.User
				if err := scanUser(rows, &u); err != nil {
					b.Fatal(err)
				}
				items = append(items, u)
			}
			if rows.Err() != nil || len(items) == 0 {
				b.Fatal(len(items), rows.Err())
			}
			pgxAfter = ""
			if len(items) > 50 {
				last := items[49]
				payload, err := json.Marshal(cursor{last.Email, last.ID})
				if err != nil {
					b.Fatal(err)
				}
				pgxAfter = base64.RawURLEncoding.EncodeToString(append(sign(payload), payload...))
			}
		}},
	)
}

func loadUsers(b *testing.B, db *pgdb.DB, ids []string) []repo.User {
	b.Helper()
	users := repo.NewUsers(db.Pool(), repo.Options{})
	out := make([]repo.User, 0, len(ids))
	for _, id := range ids {
		u, err := users.Get(context.Background(), id)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}
