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
// field takes the default on Create.
type User struct {
	ID                     string         `db:"id,default"`
	Email                  string         `db:"email"`
	Username               string         `db:"username"`
	PasswordHash           string         `db:"password_hash"`
	EmailVerified          *bool          `db:"email_verified,default"`
	EmailVerificationToken *string        `db:"email_verification_token"`
	Status                 *string        `db:"status,default"` // active, suspended or banned
	Role                   *string        `db:"role,default"`   // user, moderator or admin
	CreatedAt              *time.Time     `db:"created_at,default,noupdate"`
	UpdatedAt              *time.Time     `db:"updated_at,default"`
	LastLogin              *time.Time     `db:"last_login"`
	Metadata               map[string]any `db:"metadata,default"`
}

// UserSecurity is a row of the core user_security table, one per user.
type UserSecurity struct {
	UserID             string     `db:"user_id"`
	LoginAttempts      *int32     `db:"login_attempts,default"`
	LastAttemptAt      *time.Time `db:"last_attempt_at"`
	LockedUntil        *time.Time `db:"locked_until"`
	TwoFactorEnabled   *bool      `db:"two_factor_enabled,default"`
	TwoFactorSecret    *string    `db:"two_factor_secret"`
	RecoveryCodes      []string   `db:"recovery_codes"`
	PasswordChangedAt  *time.Time `db:"password_changed_at,default"`
	MustChangePassword *bool      `db:"must_change_password,default"`
}

// AuditLog is a row of the core audit_log table.
type AuditLog struct {
	ID           string          `db:"id,default"`
	UserID       *string         `db:"user_id"`
	Action       string          `db:"action"`
	ResourceType *string         `db:"resource_type"`
	ResourceID   *string         `db:"resource_id"`
	Changes      json.RawMessage `db:"changes"`
	IPAddress    *netip.Addr     `db:"ip_address"`
	UserAgent    *string         `db:"user_agent"`
	CreatedAt    *time.Time      `db:"created_at,default,noupdate"`
}

// UserSession is a row of the core user_sessions table.
type UserSession struct {
	ID             string      `db:"id,default"`
	UserID         string      `db:"user_id"`
	RefreshTokenID string      `db:"refresh_token_id"`
	IPAddress      *netip.Addr `db:"ip_address"`
	UserAgent      *string     `db:"user_agent"`
	ExpiresAt      time.Time   `db:"expires_at"`
	CreatedAt      *time.Time  `db:"created_at,default,noupdate"`
	LastActive     *time.Time  `db:"last_active,default"`
}

// Options configures the ready repositories of the core tables.
type Options struct {
	// Audit writes an audit_log row for every change (see Config.Audit).
	Audit bool
	// Secrets overrides DefaultSecrets for the audit diff.
	Secrets []string
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
	b := mustNew[User](db, Config{Table: "users", Audit: opts.Audit, Secrets: opts.Secrets})
	return &Users{Base: b, byEmail: "SELECT " + b.SelectList() + " FROM users WHERE lower(email) = lower($1)"}
}

// WithDB returns the repository bound to db, typically a pgx.Tx.
func (u *Users) WithDB(db DBTX) *Users {
	return &Users{Base: u.Base.WithDB(db), byEmail: u.byEmail}
}

// FindByEmail returns the user with the email, compared case-insensitively
// (through the lower(email) index), or ErrNotFound.
func (u *Users) FindByEmail(ctx context.Context, email string) (User, error) {
	var v User
	err := u.Scan(u.DB().QueryRow(ctx, u.byEmail, email), &v)
	return v, u.wrap(ctx, "find by email", nil, err)
}

// UserSecurities is the repository of the core user_security table, keyed
// by user id.
type UserSecurities struct {
	*Base[UserSecurity]
}

// NewUserSecurities returns the user_security repository on db.
func NewUserSecurities(db DBTX, opts Options) *UserSecurities {
	return &UserSecurities{mustNew[UserSecurity](db, Config{Table: "user_security", PrimaryKey: "user_id", Audit: opts.Audit, Secrets: opts.Secrets})}
}

// WithDB returns the repository bound to db, typically a pgx.Tx.
func (s *UserSecurities) WithDB(db DBTX) *UserSecurities {
	return &UserSecurities{s.Base.WithDB(db)}
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

// WithDB returns the repository bound to db, typically a pgx.Tx.
func (a *AuditLogs) WithDB(db DBTX) *AuditLogs {
	return &AuditLogs{Base: a.Base.WithDB(db), forResource: a.forResource}
}

// ForResource returns the audit trail of one resource, oldest first.
func (a *AuditLogs) ForResource(ctx context.Context, resourceType, resourceID string) ([]AuditLog, error) {
	return a.collect(ctx, a.forResource, []any{resourceType, resourceID}, 8)
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
	b := mustNew[UserSession](db, Config{Table: "user_sessions", Audit: opts.Audit, Secrets: opts.Secrets})
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

// WithDB returns the repository bound to db, typically a pgx.Tx.
func (s *Sessions) WithDB(db DBTX) *Sessions {
	c := *s
	c.Base = s.Base.WithDB(db)
	return &c
}

// ListActive returns the sessions of the user that have not expired, most
// recently active first.
func (s *Sessions) ListActive(ctx context.Context, userID string) ([]UserSession, error) {
	return s.collect(ctx, s.active, []any{userID}, 8)
}

// DeleteExpired removes every expired session and returns how many.
func (s *Sessions) DeleteExpired(ctx context.Context) (int64, error) {
	var args []any
	if s.audit != nil {
		args = s.audit.sweepArgs(ctx)
	}
	tag, err := s.DB().Exec(ctx, s.deleteExpired, args...)
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
