package repo_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/repo"
)

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	type noTags struct{ ID int }
	type badOpt struct {
		ID int `db:"id,sometimes"`
	}
	type dup struct {
		A int `db:"id"`
		B int `db:"id"`
	}
	tests := []struct {
		name string
		new  func() error
	}{
		{"not a struct", func() error { _, err := repo.New[int](nil, repo.Config{Table: "t"}); return err }},
		{"no table", func() error { _, err := repo.New[Note](nil, repo.Config{}); return err }},
		{"no tags", func() error { _, err := repo.New[noTags](nil, repo.Config{Table: "t"}); return err }},
		{"unknown option", func() error { _, err := repo.New[badOpt](nil, repo.Config{Table: "t"}); return err }},
		{"column twice", func() error { _, err := repo.New[dup](nil, repo.Config{Table: "t"}); return err }},
		{"unknown primary key", func() error { _, err := repo.New[Note](nil, repo.Config{Table: "t", PrimaryKey: "uid"}); return err }},
		{"unknown soft delete", func() error {
			_, err := repo.New[Note](nil, repo.Config{Table: "t", SoftDelete: "gone_at"})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.new(); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

func TestUsersCRUD(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	ctx := t.Context()
	users := repo.NewUsers(db.Pool(), repo.Options{})

	u := newUser("ada")
	u.Metadata = map[string]any{"plan": "pro"}
	if err := users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	if len(u.ID) != 36 || *u.Status != "active" || *u.Role != "user" || *u.EmailVerified || u.CreatedAt == nil || u.Metadata["plan"] != "pro" {
		t.Fatalf("created %+v: want an id and the defaults read back", u)
	}
	// Defaults apply to nil fields only.
	mod := newUser("mod")
	mod.Role = ptr("moderator")
	if err := users.Create(ctx, mod); err != nil || *mod.Role != "moderator" || mod.Metadata == nil {
		t.Fatalf("created %+v, %v", mod, err)
	}

	got, err := users.Get(ctx, u.ID)
	if err != nil || !reflect.DeepEqual(got, *u) {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, *u)
	}
	byEmail, err := users.FindByEmail(ctx, "ADA@Example.COM")
	if err != nil || byEmail.ID != u.ID {
		t.Fatalf("FindByEmail = %+v, %v", byEmail, err)
	}

	before := *u.UpdatedAt
	u.Username = "ada2"
	u.LastLogin = ptr(time.Now().UTC().Truncate(time.Microsecond))
	if err := users.Update(ctx, u); err != nil {
		t.Fatal(err)
	}
	if !u.UpdatedAt.After(before) || u.Username != "ada2" {
		t.Errorf("after Update: updated_at %v (was %v), username %q", u.UpdatedAt, before, u.Username)
	}

	p, err := users.Patch(ctx, u.ID, map[string]any{"status": "suspended", "email_verified": true})
	if err != nil || *p.Status != "suspended" || !*p.EmailVerified || p.Username != "ada2" || !p.UpdatedAt.After(*u.UpdatedAt) {
		t.Errorf("Patch = %+v, %v", p, err)
	}
	for _, bad := range []map[string]any{{"id": "x"}, {"created_at": time.Now()}, {"nope": 1}, {}, {"email; DROP TABLE users": 1}} {
		if _, err := users.Patch(ctx, u.ID, bad); !errors.Is(err, repo.ErrInvalidQuery) {
			t.Errorf("Patch(%v) error %v: want ErrInvalidQuery", bad, err)
		}
	}

	u.LastLogin = nil
	u.Role = ptr("admin")
	u.Username = "not written"
	if err := users.UpdateColumns(ctx, u, "role", "last_login"); err != nil || *u.Role != "admin" || u.LastLogin != nil || u.Username != "ada2" {
		t.Errorf("UpdateColumns: %+v, %v", u, err)
	}
	if err := users.UpdateColumns(ctx, u, "role", "id desc"); !errors.Is(err, repo.ErrInvalidQuery) {
		t.Errorf("UpdateColumns with a bad column: %v", err)
	}

	if err := users.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		func() error { _, err := users.Get(ctx, u.ID); return err }(),
		users.Delete(ctx, u.ID),
		users.Update(ctx, u),
		func() error { _, err := users.Patch(ctx, u.ID, map[string]any{"role": "admin"}); return err }(),
		func() error { _, err := users.FindByEmail(ctx, "nobody@example.com"); return err }(),
	} {
		if !errors.Is(err, repo.ErrNotFound) || !errors.Is(err, pgdb.ErrNotFound) {
			t.Errorf("error %v: want ErrNotFound", err)
		}
	}
	if err := users.Restore(ctx, mod.ID); !errors.Is(err, repo.ErrNoSoftDelete) {
		t.Errorf("Restore without soft delete: %v", err)
	}
}

func TestCoreModels(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	ctx := t.Context()
	users := repo.NewUsers(db.Pool(), repo.Options{})
	u := newUser("grace")
	if err := users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}

	sec := repo.NewUserSecurities(db.Pool(), repo.Options{})
	s := &repo.UserSecurity{UserID: u.ID, RecoveryCodes: []string{"a1", "b2"}, TwoFactorSecret: ptr("s3")}
	if err := sec.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if *s.LoginAttempts != 0 || *s.TwoFactorEnabled || s.PasswordChangedAt == nil {
		t.Errorf("security defaults %+v", s)
	}
	s2, err := sec.Get(ctx, u.ID)
	if err != nil || !reflect.DeepEqual(s2.RecoveryCodes, []string{"a1", "b2"}) {
		t.Errorf("Get = %+v, %v", s2, err)
	}

	sessions := repo.NewSessions(db.Pool(), repo.Options{})
	ip := netip.MustParseAddr("2001:db8::1")
	live := &repo.UserSession{UserID: u.ID, RefreshTokenID: "7d5bb2f6-3e43-4c37-9f3e-0b2b7d6c1a11", IPAddress: &ip, ExpiresAt: time.Now().Add(time.Hour)}
	dead := &repo.UserSession{UserID: u.ID, RefreshTokenID: "7d5bb2f6-3e43-4c37-9f3e-0b2b7d6c1a12", ExpiresAt: time.Now().Add(-time.Hour)}
	for _, s := range []*repo.UserSession{live, dead} {
		if err := sessions.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	active, err := sessions.ListActive(ctx, u.ID)
	if err != nil || len(active) != 1 || active[0].ID != live.ID || *active[0].IPAddress != ip {
		t.Fatalf("ListActive = %+v, %v", active, err)
	}
	// The audited sweep writes one audit row per session.
	audited := repo.NewSessions(db.Pool(), repo.Options{Audit: true})
	actx := repo.WithActor(ctx, repo.Actor{UserID: u.ID, IP: ip, UserAgent: "sweeper"})
	if n, err := audited.DeleteExpired(actx); err != nil || n != 1 {
		t.Errorf("DeleteExpired = %d, %v; want 1", n, err)
	}
	logs, err := repo.NewAuditLogs(db.Pool()).ForResource(ctx, "user_sessions", dead.ID)
	if err != nil || len(logs) != 1 || logs[0].Action != "delete" || *logs[0].UserID != u.ID || *logs[0].IPAddress != ip {
		t.Errorf("sweep audit = %+v, %v", logs, err)
	}
	if _, err := sessions.Get(ctx, dead.ID); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("expired session still there: %v", err)
	}
}

func TestUniqueViolationIsTyped(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	users := repo.NewUsers(db.Pool(), repo.Options{Audit: true})
	if err := users.Create(t.Context(), newUser("ada")); err != nil {
		t.Fatal(err)
	}
	dup := newUser("ada")
	dup.Username = "other"
	err := users.Create(t.Context(), dup)
	var ce *pgdb.ConstraintError
	if !errors.Is(err, pgdb.ErrUniqueViolation) || !errors.As(err, &ce) {
		t.Fatalf("error %v: want a unique violation", err)
	}
	if ce.Constraint != "users_email_key" || ce.Column != "email" || ce.Table != "users" {
		t.Errorf("constraint error %+v", ce)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Errorf("error %v does not reach the PgError", err)
	}
}

func TestSoftDelete(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	ctx := t.Context()
	notes := notesRepo(t, db.Pool(), false)
	n := &Note{Title: "first", Tags: []string{"x"}}
	if err := notes.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := notes.Delete(ctx, n.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := notes.Get(ctx, n.ID); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Get of a deleted note: %v", err)
	}
	got, err := notes.Get(ctx, n.ID, repo.IncludeDeleted)
	if err != nil || got.DeletedAt == nil {
		t.Errorf("Get IncludeDeleted = %+v, %v", got, err)
	}
	if err := notes.Delete(ctx, n.ID); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
	if p, err := notes.List(ctx, repo.ListOptions{}); err != nil || p.Total != 0 || len(p.Items) != 0 {
		t.Errorf("List = %+v, %v; want nothing", p, err)
	}
	if p, err := notes.List(ctx, repo.ListOptions{IncludeDeleted: true}); err != nil || p.Total != 1 {
		t.Errorf("List IncludeDeleted = %+v, %v", p, err)
	}
	if err := notes.Update(ctx, &got); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Update of a deleted note: %v", err)
	}
	if err := notes.Restore(ctx, n.ID); err != nil {
		t.Fatal(err)
	}
	if err := notes.Restore(ctx, n.ID); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("second Restore: %v", err)
	}
	if got, err := notes.Get(ctx, n.ID); err != nil || got.DeletedAt != nil {
		t.Errorf("Get after Restore = %+v, %v", got, err)
	}
	if err := notes.HardDelete(ctx, n.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := notes.Get(ctx, n.ID, repo.IncludeDeleted); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Get after HardDelete: %v", err)
	}
}

type change struct {
	Old any `json:"old"`
	New any `json:"new"`
}

func trail(t *testing.T, db *pgdb.DB, typ, id string) ([]repo.AuditLog, []map[string]change) {
	t.Helper()
	logs, err := repo.NewAuditLogs(db.Pool()).ForResource(t.Context(), typ, id)
	if err != nil {
		t.Fatal(err)
	}
	var diffs []map[string]change
	for _, l := range logs {
		var d map[string]change
		if err := json.Unmarshal(l.Changes, &d); err != nil {
			t.Fatal(err)
		}
		diffs = append(diffs, d)
	}
	return logs, diffs
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	admin := newUser("admin")
	if err := repo.NewUsers(db.Pool(), repo.Options{}).Create(t.Context(), admin); err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("192.0.2.7")
	ctx := repo.WithActor(t.Context(), repo.Actor{UserID: admin.ID, IP: ip, UserAgent: "test/1"})
	users := repo.NewUsers(db.Pool(), repo.Options{Audit: true})

	u := newUser("bob")
	if err := users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	u.PasswordHash = "new-hash"
	u.Username = "bobby"
	if err := users.Update(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := users.Patch(ctx, u.ID, map[string]any{"role": "admin"}); err != nil {
		t.Fatal(err)
	}
	if err := users.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}

	logs, diffs := trail(t, db, "users", u.ID)
	var actions []string
	for _, l := range logs {
		actions = append(actions, l.Action)
		if *l.UserID != admin.ID || *l.IPAddress != ip || *l.UserAgent != "test/1" || *l.ResourceID != u.ID {
			t.Errorf("audit row %+v: want the actor's id, ip and agent", l)
		}
	}
	if !reflect.DeepEqual(actions, []string{"create", "update", "update", "delete"}) {
		t.Fatalf("actions %v", actions)
	}
	if d := diffs[0]; d["email"].New != "bob@example.com" || d["password_hash"].New != "[REDACTED]" || d["email"].Old != nil {
		t.Errorf("create diff %v", d)
	}
	if d := diffs[1]; len(d) != 3 || d["username"] != (change{"bob", "bobby"}) ||
		d["password_hash"] != (change{"[REDACTED]", "[REDACTED]"}) || d["updated_at"].New == nil {
		t.Errorf("update diff %v: want username, password_hash (masked) and updated_at", d)
	}
	if d := diffs[2]; d["role"] != (change{"user", "admin"}) {
		t.Errorf("patch diff %v", d)
	}
	if d := diffs[3]; d["email"].Old != "bob@example.com" || d["email"].New != nil || d["password_hash"].Old != "[REDACTED]" {
		t.Errorf("delete diff %v", d)
	}

	// Soft delete and restore are audited too.
	notes := notesRepo(t, db.Pool(), true)
	n := &Note{Title: "t"}
	if err := notes.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := notes.Delete(ctx, n.ID); err != nil {
		t.Fatal(err)
	}
	if err := notes.Restore(ctx, n.ID); err != nil {
		t.Fatal(err)
	}
	logs, diffs = trail(t, db, "notes", "1")
	if len(logs) != 3 || logs[1].Action != "delete" || logs[2].Action != "restore" ||
		diffs[1]["deleted_at"].New == nil || diffs[2]["deleted_at"].Old == nil || diffs[2]["deleted_at"].New != nil {
		t.Errorf("soft delete trail %v %v", logs, diffs)
	}
}

// TestAuditRowGoesWithItsChange: a change and its audit row commit or roll
// back together.
func TestAuditRowGoesWithItsChange(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	ctx := t.Context()
	users := repo.NewUsers(db.Pool(), repo.Options{Audit: true})
	count := func(table string) int {
		n, err := pgdb.QueryValue[int](ctx, db.Pool(), "SELECT count(*)::int FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		return n[0]
	}

	// The caller's transaction rolls back: both go.
	errBoom := errors.New("boom")
	err := db.InTx(ctx, pgdb.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
		if err := users.WithDB(tx).Create(ctx, newUser("ghost")); err != nil {
			return err
		}
		if n, _ := pgdb.QueryValue[int](ctx, tx, "SELECT count(*)::int FROM audit_log"); n[0] != 1 {
			t.Errorf("%d audit rows inside the transaction, want 1", n[0])
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) || count("users") != 0 || count("audit_log") != 0 {
		t.Errorf("after rollback: %v, %d users, %d audit rows", err, count("users"), count("audit_log"))
	}

	// The audit row cannot be written (its actor does not exist): the
	// change is undone with it, though the repository runs on the pool.
	ghost := repo.WithActor(ctx, repo.Actor{UserID: "00000000-0000-0000-0000-000000000000"})
	if err := users.Create(ghost, newUser("orphan")); !errors.Is(err, pgdb.ErrForeignKeyViolation) {
		t.Errorf("Create with an unknown actor: %v", err)
	}
	if count("users") != 0 || count("audit_log") != 0 {
		t.Errorf("%d users, %d audit rows: the change outlived its audit row", count("users"), count("audit_log"))
	}

	// A DBTX that cannot begin a transaction is refused rather than
	// writing a change without its audit row.
	noTx := struct{ repo.DBTX }{db.Pool()}
	if err := users.WithDB(noTx).Create(ctx, newUser("x")); !errors.Is(err, repo.ErrNoTx) {
		t.Errorf("audited Create on a DBTX without Begin: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	users := repo.NewUsers(db.Pool(), repo.Options{Audit: true})
	var wg sync.WaitGroup
	ids := make([]string, 30)
	for i := range ids {
		wg.Go(func() {
			u := newUser("user" + string(rune('a'+i)) + "x")
			if err := users.Create(t.Context(), u); err != nil {
				t.Error(err)
				return
			}
			if _, err := users.Patch(t.Context(), u.ID, map[string]any{"last_login": time.Now()}); err != nil {
				t.Error(err)
			}
			ids[i] = u.ID
		})
	}
	wg.Wait()
	p, err := users.List(t.Context(), repo.ListOptions{Limit: 100})
	if err != nil || p.Total != 30 {
		t.Errorf("List: %d users, %v", p.Total, err)
	}
	n, _ := pgdb.QueryValue[int](t.Context(), db.Pool(), "SELECT count(*)::int FROM audit_log")
	if n[0] != 60 {
		t.Errorf("%d audit rows, want 60", n[0])
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	users := repo.NewUsers(db.Pool(), repo.Options{Audit: true})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := users.Get(ctx, "00000000-0000-0000-0000-000000000000"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get: %v", err)
	}
	if err := users.Create(ctx, newUser("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Create: %v", err)
	}
	if _, err := users.List(ctx, repo.ListOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("List: %v", err)
	}
}
