package repo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
)

// User is a row of the core users table. Nullable columns are pointers;
// columns with a server default are tagged default, so that a nil or empty
// field takes the default on Create. The columns a list would show anyway
// are open to filters and sorts; the credentials (password_hash,
// email_verification_token) and metadata are not, in this model and in
// the other core ones (two_factor_secret, recovery_codes,
// refresh_token_id).
type User struct {
	ID                     string         `db:"id,default,filter,sort"`
	Email                  string         `db:"email,filter,sort"`
	Username               string         `db:"username,filter,sort"`
	PasswordHash           string         `db:"password_hash"`
	EmailVerified          *bool          `db:"email_verified,default,filter"`
	EmailVerificationToken *string        `db:"email_verification_token"`
	Status                 *string        `db:"status,default,filter,sort"` // active, suspended or banned
	Role                   *string        `db:"role,default,filter,sort"`   // user, moderator or admin
	CreatedAt              *time.Time     `db:"created_at,default,noupdate,filter,sort"`
	UpdatedAt              *time.Time     `db:"updated_at,default,filter,sort"`
	LastLogin              *time.Time     `db:"last_login,filter,sort"`
	Metadata               map[string]any `db:"metadata,default"`
}

// UserSecurity is a row of the core user_security table, one per user.
type UserSecurity struct {
	UserID             string     `db:"user_id,filter,sort"`
	LoginAttempts      *int32     `db:"login_attempts,default,filter,sort"`
	LastAttemptAt      *time.Time `db:"last_attempt_at,filter,sort"`
	LockedUntil        *time.Time `db:"locked_until,filter,sort"`
	TwoFactorEnabled   *bool      `db:"two_factor_enabled,default,filter"`
	TwoFactorSecret    *string    `db:"two_factor_secret"`
	RecoveryCodes      []string   `db:"recovery_codes"`
	PasswordChangedAt  *time.Time `db:"password_changed_at,default,filter,sort"`
	MustChangePassword *bool      `db:"must_change_password,default,filter"`
}

// AuditLog is a row of the core audit_log table.
type AuditLog struct {
	ID           string          `db:"id,default,filter,sort"`
	UserID       *string         `db:"user_id,filter"`
	Action       string          `db:"action,filter,sort"`
	ResourceType *string         `db:"resource_type,filter"`
	ResourceID   *string         `db:"resource_id,filter"`
	Changes      json.RawMessage `db:"changes"`
	IPAddress    *netip.Addr     `db:"ip_address,filter"`
	UserAgent    *string         `db:"user_agent"`
	CreatedAt    *time.Time      `db:"created_at,default,noupdate,filter,sort"`
}

// UserSession is a row of the core user_sessions table.
type UserSession struct {
	ID             string      `db:"id,default,filter,sort"`
	UserID         string      `db:"user_id,filter"`
	RefreshTokenID string      `db:"refresh_token_id"`
	IPAddress      *netip.Addr `db:"ip_address,filter"`
	UserAgent      *string     `db:"user_agent"`
	ExpiresAt      time.Time   `db:"expires_at,filter,sort"`
	CreatedAt      *time.Time  `db:"created_at,default,noupdate,filter,sort"`
	LastActive     *time.Time  `db:"last_active,default,filter,sort"`
}

// Options configures the ready repositories of the core tables.
type Options struct {
	// Audit writes an audit_log row for every change (see Config.Audit).
	Audit bool
	// Secrets overrides DefaultSecrets() for the audit diff.
	Secrets []string
	// CursorKey signs keyset cursors (see Config.CursorKey). Nil means a
	// random key per repository.
	CursorKey []byte
}

// mustNew builds the repository of a core model, whose mapping the tests
// check: an error here is a bug in this package.
func mustNew[T any](db DBTX, cfg Config) *Base[T] {
	b, err := New[T](db, cfg)
	if err != nil {
		panic(err)
	}
	return b
}

// Users is the repository of the core users table.
type Users struct {
	*Base[User]
	byEmail string
}

// NewUsers returns the users repository on db.
func NewUsers(db DBTX, opts Options) *Users {
	b := mustNew[User](db, Config{Table: "users", ActorTable: true, Audit: opts.Audit, Secrets: opts.Secrets, CursorKey: opts.CursorKey})
	return &Users{Base: b, byEmail: "SELECT " + b.SelectList() + " FROM users WHERE lower(email) = lower($1)"}
}

// FindByEmail returns the user with the email, compared case-insensitively
// (through the lower(email) index), or ErrNotFound.
func (u *Users) FindByEmail(ctx context.Context, email string) (User, error) {
	var v User
	err := u.Scan(u.DB(ctx).QueryRow(ctx, u.byEmail, email), &v)
	return v, u.wrap(ctx, "find by email", nil, err)
}

// UserSecurities is the repository of the core user_security table, keyed
// by user id.
type UserSecurities struct {
	*Base[UserSecurity]
}

// NewUserSecurities returns the user_security repository on db.
func NewUserSecurities(db DBTX, opts Options) *UserSecurities {
	return &UserSecurities{mustNew[UserSecurity](db, Config{Table: "user_security", PrimaryKey: "user_id", Audit: opts.Audit, Secrets: opts.Secrets, CursorKey: opts.CursorKey})}
}

// AuditLogs reads the core audit_log table. It is never audited itself.
type AuditLogs struct {
	*Base[AuditLog]
	forResource string
}

// NewAuditLogs returns the audit_log repository on db.
func NewAuditLogs(db DBTX) *AuditLogs {
	b := mustNew[AuditLog](db, Config{Table: "audit_log"})
	return &AuditLogs{Base: b, forResource: "SELECT " + b.SelectList() +
		" FROM audit_log WHERE resource_type = $1 AND resource_id = $2 ORDER BY created_at, id"}
}

// ForResource returns the audit trail of one resource, oldest first.
func (a *AuditLogs) ForResource(ctx context.Context, resourceType, resourceID string) ([]AuditLog, error) {
	return a.collect(ctx, a.DB(ctx), a.forResource, []any{resourceType, resourceID}, 8)
}

// Sessions is the repository of the core user_sessions table.
type Sessions struct {
	*Base[UserSession]
	active        string
	deleteExpired string
}

// NewSessions returns the user_sessions repository on db. With
// opts.Audit, DeleteExpired writes one audit row per session it removes.
func NewSessions(db DBTX, opts Options) *Sessions {
	b := mustNew[UserSession](db, Config{Table: "user_sessions", Audit: opts.Audit, Secrets: opts.Secrets, CursorKey: opts.CursorKey})
	s := &Sessions{Base: b,
		active:        "SELECT " + b.SelectList() + " FROM user_sessions WHERE user_id = $1 AND expires_at > now() ORDER BY last_active DESC, id",
		deleteExpired: "DELETE FROM user_sessions WHERE expires_at <= now()",
	}
	if opts.Audit {
		// One statement, so that the sweep and its audit rows go together
		// even outside a transaction.
		s.deleteExpired = "WITH gone AS (" + s.deleteExpired + " RETURNING id, expires_at) " +
			b.audit.sweepSQL("gone", "id", "expires_at")
	}
	return s
}

// ListActive returns the sessions of the user that have not expired, most
// recently active first.
func (s *Sessions) ListActive(ctx context.Context, userID string) ([]UserSession, error) {
	return s.collect(ctx, s.DB(ctx), s.active, []any{userID}, 8)
}

// DeleteExpired removes every expired session and returns how many.
func (s *Sessions) DeleteExpired(ctx context.Context) (int64, error) {
	var args []any
	if s.audit != nil {
		args = s.audit.sweepArgs(ctx)
	}
	tag, err := s.DB(ctx).Exec(ctx, s.deleteExpired, args...)
	if err != nil {
		return 0, s.wrap(ctx, "delete expired", nil, err)
	}
	return tag.RowsAffected(), nil
}

// sweepSQL is an INSERT of one audit row per row of the CTE named from:
// action delete, the row's key, and the old value of column col.
func (a *auditor) sweepSQL(from, key, col string) string {
	return fmt.Sprintf("INSERT INTO %s (user_id, action, resource_type, resource_id, changes, ip_address, user_agent, created_at)"+
		" SELECT $1::uuid, '%s', $2::text, %s::text, jsonb_build_object('%s', jsonb_build_object('old', %s)), $3::inet, $4::text, clock_timestamp() FROM %s",
		a.table, actionDelete, key, col, col, from)
}

func (a *auditor) sweepArgs(ctx context.Context) []any {
	actor, _ := ActorFrom(ctx)
	var ip any
	if actor.IP.IsValid() {
		ip = actor.IP
	}
	return []any{nullString(actor.UserID), a.resourceType, ip, nullString(actor.UserAgent)}
}
