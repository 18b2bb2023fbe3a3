package repo_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/repo"
)

// TestSelfDeletionWithAudit: a user deletes their own account with audit
// on. The audit row used to be written after the DELETE, pointing at the
// row just removed (23503 on audit_log_user_id_fkey).
func TestSelfDeletionWithAudit(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	users := repo.NewUsers(db.Pool(), repo.Options{Audit: true})
	// The actor's id may be written in any form the server reads as the
	// same uuid: the row still goes, and the audit row still names them.
	for name, form := range map[string]func(string) string{
		"canonical":  func(id string) string { return id },
		"upper case": strings.ToUpper,
		"braces":     func(id string) string { return "{" + id + "}" },
		"no hyphens": func(id string) string { return strings.ReplaceAll(id, "-", "") },
	} {
		t.Run(name, func(t *testing.T) {
			u := newUser("leaver_" + strings.ReplaceAll(name, " ", "_"))
			if err := users.Create(t.Context(), u); err != nil {
				t.Fatal(err)
			}
			ctx := repo.WithActor(t.Context(), repo.Actor{UserID: form(u.ID), UserAgent: "self"})
			if err := users.Delete(ctx, u.ID); err != nil {
				t.Fatalf("self-deletion: %v", err)
			}
			logs, _ := trail(t, db, "users", u.ID)
			if len(logs) != 2 || logs[1].Action != "delete" || *logs[1].ResourceID != u.ID || *logs[1].UserAgent != "self" {
				t.Fatalf("trail %+v: want create then delete", logs)
			}
			// The user row is gone, so user_id cannot point at it; the row
			// says who deleted it all the same.
			var who struct {
				Actor struct {
					UserID string `json:"user_id"`
				} `json:"_actor"`
			}
			if err := json.Unmarshal(logs[1].Changes, &who); err != nil || who.Actor.UserID != form(u.ID) || logs[1].UserID != nil {
				t.Errorf("delete row user_id %v, changes %s: want the actor recorded in changes", logs[1].UserID, logs[1].Changes)
			}
		})
	}
	// A user deleting their own user_security row (keyed by their id) is
	// still there: the audit row's user_id names them, and the changes
	// hold no _actor.
	t.Run("own row of another table", func(t *testing.T) {
		u := newUser("keeper")
		if err := users.Create(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		sec := repo.NewUserSecurities(db.Pool(), repo.Options{Audit: true})
		if err := sec.Create(t.Context(), &repo.UserSecurity{UserID: u.ID}); err != nil {
			t.Fatal(err)
		}
		ctx := repo.WithActor(t.Context(), repo.Actor{UserID: u.ID})
		if err := sec.Delete(ctx, u.ID); err != nil {
			t.Fatalf("deleting own user_security row: %v", err)
		}
		logs, _ := trail(t, db, "user_security", u.ID)
		if len(logs) != 2 || logs[1].Action != "delete" || logs[1].UserID == nil || *logs[1].UserID != u.ID || bytes.Contains(logs[1].Changes, []byte("_actor")) {
			t.Fatalf("trail %+v: want the delete row's user_id to be %s and no _actor", logs, u.ID)
		}
	})
}

// forge builds a cursor the way the unsigned format was built, with any
// values a client likes.
func forge(sort string, vals ...any) string {
	var raw []json.RawMessage
	for _, v := range vals {
		b, _ := json.Marshal(v)
		raw = append(raw, b)
	}
	b, _ := json.Marshal(map[string]any{"s": sort, "v": raw})
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestForgedCursorRefused: a cursor a client made (here with a malformed
// uuid inside) never reaches the server.
func TestForgedCursorRefused(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	users := repo.NewUsers(db.Pool(), repo.Options{})
	for _, s := range []string{"a", "b", "c"} {
		if err := users.Create(t.Context(), newUser(s)); err != nil {
			t.Fatal(err)
		}
	}
	var ce *repo.CursorError
	for name, after := range map[string]string{
		"malformed uuid": forge("id", "not-a-uuid"),
		"valid uuid":     forge("id", "00000000-0000-0000-0000-000000000000"),
	} {
		_, err := users.ListKeyset(t.Context(), repo.KeysetOptions{After: after})
		if !errors.As(err, &ce) || !errors.Is(err, repo.ErrInvalidQuery) {
			t.Errorf("%s: error %v, want *CursorError", name, err)
		}
	}
}

// TestSignedCursorValuesAreTypeChecked: a cursor that carries the right
// signature (a key that leaked, or one the service signed by mistake)
// still has each value checked against its column's SQL type before it
// reaches the server.
func TestSignedCursorValuesAreTypeChecked(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	users := repo.NewUsers(db.Pool(), repo.Options{CursorKey: key})
	for _, s := range []string{"a", "b", "c"} {
		if err := users.Create(t.Context(), newUser("signed_"+s)); err != nil {
			t.Fatal(err)
		}
	}
	p, err := users.ListKeyset(t.Context(), repo.KeysetOptions{Limit: 1})
	if err != nil || p.Next == "" {
		t.Fatalf("first page: %v, %v", p, err)
	}
	// Sign as the repository does: HMAC-SHA256 over the table, a NUL and
	// the payload, its first 16 bytes before the payload.
	sign := func(payload []byte) string {
		h := hmac.New(sha256.New, key)
		h.Write([]byte("users\x00"))
		h.Write(payload)
		return base64.RawURLEncoding.EncodeToString(append(h.Sum(nil)[:16], payload...))
	}
	raw, _ := base64.RawURLEncoding.DecodeString(p.Next)
	var c struct {
		S string            `json:"s"`
		V []json.RawMessage `json:"v"`
	}
	if err := json.Unmarshal(raw[16:], &c); err != nil || len(c.V) != 1 {
		t.Fatalf("cursor payload %q: %v", raw[16:], err)
	}
	if again := sign(raw[16:]); again != p.Next {
		t.Fatalf("re-signed the issued cursor as %s, want %s: the test signs differently", again, p.Next)
	}
	c.V[0] = json.RawMessage(`"not-a-uuid"`)
	payload, _ := json.Marshal(c)
	_, err = users.ListKeyset(t.Context(), repo.KeysetOptions{Limit: 1, After: sign(payload)})
	var ce *repo.CursorError
	if !errors.As(err, &ce) || !errors.Is(err, repo.ErrInvalidQuery) || !strings.Contains(ce.Reason, "id") {
		t.Fatalf("signed cursor with a malformed uuid: %v, want a *CursorError naming id", err)
	}
}

// TestWrongTypedValuesAreInvalidQueries: values of the wrong type for
// their column are a client's mistake (ErrInvalidQuery naming the field),
// not a server error.
func TestWrongTypedValuesAreInvalidQueries(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	users := repo.NewUsers(db.Pool(), repo.Options{})
	notes := notesRepo(t, db.Pool(), false)
	tests := []struct {
		name  string
		field string
		call  func() error
	}{
		{"get by a bad uuid", "id", func() error { _, err := users.Get(t.Context(), "nope"); return err }},
		{"filter on a bad uuid", "id", func() error {
			_, err := users.List(t.Context(), repo.ListOptions{Filters: []repo.Filter{{"id", repo.Eq, "nope"}}})
			return err
		}},
		{"bad timestamp", "created_at", func() error {
			_, err := users.List(t.Context(), repo.ListOptions{Filters: []repo.Filter{{"created_at", repo.Gt, "last tuesday"}}})
			return err
		}},
		{"like on a timestamp", "created_at", func() error {
			_, err := users.List(t.Context(), repo.ListOptions{Filters: []repo.Filter{{"created_at", repo.Like, "2026%"}}})
			return err
		}},
		{"bigint key from a hostile string", "id", func() error { _, err := notes.Get(t.Context(), "1 OR 1=1"); return err }},
		{"patch with a bad bool", "email_verified", func() error {
			_, err := users.Patch(t.Context(), "00000000-0000-0000-0000-000000000000", map[string]any{"email_verified": "maybe"})
			return err
		}},
		{"in with a bad element", "id", func() error {
			_, err := notes.List(t.Context(), repo.ListOptions{Filters: []repo.Filter{{"id", repo.In, []string{"1", "two"}}}})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.call()
			var fe *repo.FieldError
			var oe *repo.OperatorError
			named := (errors.As(err, &fe) && fe.Field == tc.field) || (errors.As(err, &oe) && oe.Field == tc.field)
			if !errors.Is(err, repo.ErrInvalidQuery) || !named {
				t.Errorf("error %v (%T): want an invalid query naming %q", err, err, tc.field)
			}
		})
	}
}

// TestServerRejectedValuesAreInvalidQueries: a value the checks let
// through but the server rejects (class 22) is still the client's
// mistake, and its text does not quote the value; a value the server
// takes is not refused by the checks.
func TestServerRejectedValuesAreInvalidQueries(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	users := repo.NewUsers(db.Pool(), repo.Options{})
	// Year 0 is a date Go parses and PostgreSQL has not (22008).
	_, err := users.List(t.Context(), repo.ListOptions{Filters: []repo.Filter{{"created_at", repo.Gt, "0000-01-01"}}})
	var de *pgdb.DataError
	if !errors.Is(err, repo.ErrInvalidQuery) || !errors.As(err, &de) || de.Err.Code != "22008" || strings.Contains(err.Error(), "0000-01-01") {
		t.Errorf("year 0: error %v (%T), want a *pgdb.DataError 22008 that is an invalid query and does not quote the value", err, err)
	}
	for _, v := range []string{"2026-01-01 10:00", "2026-01-01T10:00", "2026-01-01 10:00+02:00", "2026-01-01 10:00:00.5", "2026-01-01"} {
		if _, err := users.List(t.Context(), repo.ListOptions{Filters: []repo.Filter{{"created_at", repo.Gt, v}}}); err != nil {
			t.Errorf("timestamp %q, which PostgreSQL reads: %v", v, err)
		}
	}
}

// TestSecretsAreNotFilterable: filtering and sorting are opt-in, and the
// core models never open a secret (a LIKE on password_hash is an oracle).
func TestSecretsAreNotFilterable(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	users := repo.NewUsers(db.Pool(), repo.Options{})
	if err := users.Create(t.Context(), newUser("ada")); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"password_hash", "email_verification_token", "metadata"} {
		_, err := users.List(t.Context(), repo.ListOptions{Filters: []repo.Filter{{field, repo.Like, "hash%"}}})
		if !errors.Is(err, repo.ErrInvalidQuery) {
			t.Errorf("filter on %s: %v, want ErrInvalidQuery", field, err)
		}
		_, err = users.List(t.Context(), repo.ListOptions{Sort: []repo.Sort{{Field: field}}})
		if !errors.Is(err, repo.ErrInvalidQuery) {
			t.Errorf("sort on %s: %v, want ErrInvalidQuery", field, err)
		}
	}
	sessions := repo.NewSessions(db.Pool(), repo.Options{})
	if _, err := sessions.List(t.Context(), repo.ListOptions{Filters: []repo.Filter{{"refresh_token_id", repo.Eq, "x"}}}); !errors.Is(err, repo.ErrInvalidQuery) {
		t.Errorf("filter on refresh_token_id: %v", err)
	}
	sec := repo.NewUserSecurities(db.Pool(), repo.Options{})
	if _, err := sec.List(t.Context(), repo.ListOptions{Filters: []repo.Filter{{"two_factor_secret", repo.IsNull, nil}}}); !errors.Is(err, repo.ErrInvalidQuery) {
		t.Errorf("filter on two_factor_secret: %v", err)
	}
}
