package repo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"unsafe"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/pgdb"
)

// DBTX is what a repository runs its statements on: *pgxpool.Pool,
// *pgx.Conn and pgx.Tx satisfy it. It is pgdb.Querier under the name a
// repository's users look for.
type DBTX = pgdb.Querier

// ErrNotFound is returned when no row has the given primary key (or, with
// soft delete, none that is not deleted). It is pgdb.ErrNotFound.
var ErrNotFound = pgdb.ErrNotFound

// ErrNoSoftDelete is returned by Restore on a repository configured
// without soft delete.
var ErrNoSoftDelete = errors.New("repository has no soft delete column")

// ErrNoTx is returned by a write of an audited repository whose DBTX is
// neither a pgx.Tx nor able to begin one: the change and its audit row
// must share a transaction.
var ErrNoTx = errors.New("audit needs a pgx.Tx or a DBTX that can begin one")

// Config describes an entity's table. Only Table is required.
type Config struct {
	// Table is the table name, optionally schema-qualified ("app.users").
	Table string
	// PrimaryKey is the primary key column. Empty means "id".
	PrimaryKey string
	// SoftDelete names a nullable timestamp column, such as "deleted_at".
	// When set, Delete sets it, Restore clears it, and reads skip the rows
	// that have it set unless asked (IncludeDeleted). Empty means Delete
	// removes rows.
	SoftDelete string
	// UpdatedAt names the column that Update and Patch set to now(). Empty
	// means "updated_at" when the entity has such a column; "-" means none.
	UpdatedAt string

	// Audit writes an audit row for every create, update, delete and
	// restore, in the transaction of the change (see Actor).
	Audit bool
	// AuditTable is the audit table. Empty means "audit_log", the core
	// migrations' table.
	AuditTable string
	// ResourceType is written to audit_log.resource_type. Empty means Table.
	ResourceType string
	// ActorTable says that audit_log.user_id references this table's
	// primary key, as the core users table's is: when an actor deletes
	// their own row, the audit row names them in its changes instead,
	// since user_id can no longer point at the row. NewUsers sets it.
	ActorTable bool
	// Secrets lists the columns whose values the audit diff masks as
	// "[REDACTED]" (it still records that they changed). Nil means
	// DefaultSecrets(); an empty non-nil slice masks nothing.
	Secrets []string

	// CursorKey signs the cursors of ListKeyset (HMAC-SHA256), so that a
	// client can neither edit one nor make one up. It must be at least 16
	// bytes. Nil means a random key made by New: cursors then work only
	// with the repository that issued them, so a service with more than
	// one instance, or whose cursors must outlive a restart, sets the same
	// key everywhere. Changing the key invalidates the cursors issued.
	CursorKey []byte
}

// DefaultSecrets returns the columns masked in audit diffs when
// Config.Secrets is nil: those of the core tables that hold credentials.
// Each call returns a new slice.
func DefaultSecrets() []string {
	return []string{"password_hash", "email_verification_token", "two_factor_secret", "recovery_codes", "refresh_token_id"}
}

// minCursorKey is the shortest Config.CursorKey accepted.
const minCursorKey = 16

// Base is a generic repository for the entity T, a struct whose fields map
// to columns through `db:"column"` tags, by the rule of pgdb.Field (the
// one pgdb.Query follows). Options after the column name:
//
//	default   INSERT writes DEFAULT when the field is zero (nil, "", 0...),
//	          and Create reads the value back; Explicit writes a zero
//	readonly  never written: generated columns
//	noupdate  written by Create only, e.g. created_at
//	filter    List and ListKeyset may filter on it
//	sort      List and ListKeyset may order by it
//
// Filtering and sorting are opt-in because the filters and sorts usually
// come from a client: a column left closed (a password hash, a token)
// cannot be probed with LIKE or ordered to leak it.
//
// New works out the mapping and every fixed statement once; a Base is
// immutable and safe for concurrent use. It runs on the DBTX it was made
// with, or on the transaction of a ctx from pgdb.InTx (see DB): that is
// how a type embedding *Base joins a transaction with all its methods.
type Base[T any] struct {
	m     *meta
	db    DBTX
	bound bool // made by WithDB: db wins over a transaction in ctx
	audit *auditor
}

// New returns a repository of T on db.
func New[T any](db DBTX, cfg Config) (*Base[T], error) {
	m, err := buildMeta(reflect.TypeFor[T](), cfg)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.CursorKey == nil:
		m.cursorKey = make([]byte, 32)
		_, _ = rand.Read(m.cursorKey) // never fails, as documented
	case len(cfg.CursorKey) < minCursorKey:
		return nil, fmt.Errorf("repo: entity %s: cursor key of %d bytes, want at least %d", reflect.TypeFor[T](), len(cfg.CursorKey), minCursorKey)
	default:
		m.cursorKey = slices.Clone(cfg.CursorKey)
	}
	b := &Base[T]{m: m, db: db}
	if cfg.Audit {
		b.audit = newAuditor(m, cfg)
	}
	return b, nil
}

// WithDB returns the repository bound to db, sharing the receiver's
// prepared statements; db is then used even when ctx carries a
// transaction. Within pgdb.InTx there is no need for it: the repository
// joins the transaction of ctx by itself.
func (b *Base[T]) WithDB(db DBTX) *Base[T] {
	c := *b
	c.db = db
	c.bound = true
	return &c
}

// DB returns the DBTX the repository runs on for ctx: the one of WithDB
// if the repository was made by it, else the transaction ctx carries
// (pgdb.TxFrom, set by pgdb.InTx), else the one given to New. Methods of
// a type embedding *Base run their own queries on it.
func (b *Base[T]) DB(ctx context.Context) DBTX { return b.q(ctx) }

func (b *Base[T]) q(ctx context.Context) DBTX {
	if !b.bound {
		if tx := pgdb.TxFrom(ctx); tx != nil {
			return tx
		}
	}
	return b.db
}

// Table returns the configured table name.
func (b *Base[T]) Table() string { return b.m.rawName }

// Columns returns the mapped column names, in struct order.
func (b *Base[T]) Columns() []string {
	out := make([]string, len(b.m.cols))
	for i, c := range b.m.cols {
		out[i] = c.name
	}
	return out
}

// SelectList returns the quoted column list "id", "email"... for writing
// custom queries that Scan can read.
func (b *Base[T]) SelectList() string { return b.m.selectList }

func base[T any](v *T) unsafe.Pointer { return unsafe.Pointer(v) }

// Scan reads the current row of rows, selected with SelectList, into v.
func (b *Base[T]) Scan(row pgx.Row, v *T) error {
	return row.Scan(b.m.dest(base(v))...)
}

// CreateOption changes what Create writes.
type CreateOption struct{ explicit []string }

// Explicit makes Create write the named default columns even when their
// field is zero: a non-pointer field tagged default otherwise cannot
// insert an explicit 0, "" or false. A column without the default option
// is a *FieldError.
func Explicit(columns ...string) CreateOption { return CreateOption{explicit: columns} }

// Create inserts v and reads back every column (ids, defaults, triggers'
// work) into v. Fields with the default option that are zero are left
// to the column's DEFAULT, unless named by Explicit.
func (b *Base[T]) Create(ctx context.Context, v *T, opts ...CreateOption) error {
	p := base(v)
	mask := b.m.zeroDefaults(p)
	for _, o := range opts {
		for _, name := range o.explicit {
			j := -1
			if i, ok := b.m.byName[name]; ok {
				j = slices.Index(b.m.defaults, i)
			}
			if j < 0 || j >= 64 {
				return fmt.Errorf("create %s: %w", b.m.rawName, &FieldError{Field: name, Reason: "not a default column"})
			}
			mask &^= 1 << j
		}
	}
	s := b.m.insert(mask)
	args := make([]any, len(s.cols))
	for i, c := range s.cols {
		args[i] = b.m.cols[c].ptr(p)
	}
	if b.audit == nil {
		// No closure for b.write: it would be allocated on every call.
		err := b.q(ctx).QueryRow(ctx, s.sql, args...).Scan(b.m.dest(p)...)
		return b.wrap(ctx, "create", nil, err)
	}
	err := b.write(ctx, func(ctx context.Context, q DBTX) error {
		if err := q.QueryRow(ctx, s.sql, args...).Scan(b.m.dest(p)...); err != nil {
			return err
		}
		return b.audit.log(ctx, q, actionCreate, nil, p)
	})
	return b.wrap(ctx, "create", nil, err)
}

// checkKey checks id against the primary key's SQL type, so that a
// client's "nope" for a uuid key is an invalid query naming the key
// rather than the server's 22P02.
func (b *Base[T]) checkKey(ctx context.Context, q DBTX, op string, id any) error {
	types, err := b.m.colTypes(ctx, q)
	if err != nil {
		return b.wrap(ctx, op, nil, err)
	}
	if bad := types[b.m.pk].check(id); bad != "" {
		return fmt.Errorf("%s %s: %w", op, b.m.rawName, &FieldError{Field: b.m.cols[b.m.pk].name, Reason: string(bad)})
	}
	return nil
}

// Get returns the row whose primary key is id.
func (b *Base[T]) Get(ctx context.Context, id any, opts ...ReadOption) (T, error) {
	var v T
	q := b.q(ctx)
	if err := b.checkKey(ctx, q, "get", id); err != nil {
		return v, err
	}
	sql := b.m.getSQL
	if readOpts(opts).includeDeleted {
		sql = b.m.getAnySQL
	}
	err := q.QueryRow(ctx, sql, id).Scan(b.m.dest(base(&v))...)
	return v, b.wrap(ctx, "get", id, err)
}

// Update writes every writable column of v (not the primary key, readonly
// and noupdate columns, or the soft delete column) to the row with v's
// primary key, sets updated_at to now() when the table has it, and reads
// the row back into v. A soft-deleted row is not found.
func (b *Base[T]) Update(ctx context.Context, v *T) error {
	if b.m.updateSQL == "" {
		return fmt.Errorf("update %s: no writable column", b.m.rawName)
	}
	p := base(v)
	args := make([]any, len(b.m.updateCols)+1)
	for i, c := range b.m.updateCols {
		args[i] = b.m.cols[c].ptr(p)
	}
	id := b.m.cols[b.m.pk].value(p)
	args[len(args)-1] = id
	err := b.write(ctx, func(ctx context.Context, q DBTX) error {
		old, err := b.lockOld(ctx, q, id)
		if err != nil {
			return err
		}
		if err := q.QueryRow(ctx, b.m.updateSQL, args...).Scan(b.m.dest(p)...); err != nil {
			return err
		}
		return b.audit.log(ctx, q, actionUpdate, old, p)
	})
	return b.wrap(ctx, "update", id, err)
}

// Patch sets the given columns of the row whose primary key is id, and
// updated_at to now() when the table has it, and returns the row. Keys are
// column names; an unknown or unwritable one, or a value that does not
// suit its column's type, is a *FieldError. Values are always sent as
// parameters.
func (b *Base[T]) Patch(ctx context.Context, id any, changes map[string]any) (T, error) {
	var v T
	q := b.q(ctx)
	if err := b.checkKey(ctx, q, "patch", id); err != nil {
		return v, err
	}
	types, _ := b.m.colTypes(ctx, q) // read by checkKey
	sql, args, err := b.m.patch(types, id, changes)
	if err != nil {
		return v, fmt.Errorf("patch %s: %w", b.m.rawName, err)
	}
	p := base(&v)
	err = b.write(ctx, func(ctx context.Context, q DBTX) error {
		old, err := b.lockOld(ctx, q, id)
		if err != nil {
			return err
		}
		if err := q.QueryRow(ctx, sql, args...).Scan(b.m.dest(p)...); err != nil {
			return err
		}
		return b.audit.log(ctx, q, actionUpdate, old, p)
	})
	return v, b.wrap(ctx, "patch", id, err)
}

// UpdateColumns writes the named columns of v (and updated_at, when the
// table has it) to the row with v's primary key, and reads the row back
// into v. Column names are checked as Patch checks its keys.
func (b *Base[T]) UpdateColumns(ctx context.Context, v *T, columns ...string) error {
	p := base(v)
	changes := make(map[string]any, len(columns))
	for _, name := range columns {
		i, ok := b.m.byName[name]
		if !ok {
			return fmt.Errorf("update %s: %w", b.m.rawName, &FieldError{Field: name, Reason: "unknown column"})
		}
		changes[name] = b.m.cols[i].ptr(p)
	}
	got, err := b.Patch(ctx, b.m.cols[b.m.pk].value(p), changes)
	if err != nil {
		return err
	}
	*v = got
	return nil
}

// Delete deletes the row whose primary key is id: with soft delete it sets
// the soft delete column (a row already deleted is not found), else it
// removes the row as HardDelete does.
func (b *Base[T]) Delete(ctx context.Context, id any) error {
	if b.m.soft < 0 {
		return b.HardDelete(ctx, id)
	}
	if err := b.checkKey(ctx, b.q(ctx), "delete", id); err != nil {
		return err
	}
	return b.wrap(ctx, "delete", id, b.softWrite(ctx, b.m.softDeleteSQL, actionDelete, id))
}

// Restore clears the soft delete column of the row whose primary key is id.
// A row that is not deleted is not found.
func (b *Base[T]) Restore(ctx context.Context, id any) error {
	if b.m.soft < 0 {
		return fmt.Errorf("restore %s: %w", b.m.rawName, ErrNoSoftDelete)
	}
	if err := b.checkKey(ctx, b.q(ctx), "restore", id); err != nil {
		return err
	}
	return b.wrap(ctx, "restore", id, b.softWrite(ctx, b.m.restoreSQL, actionRestore, id))
}

func (b *Base[T]) softWrite(ctx context.Context, sql, action string, id any) error {
	return b.write(ctx, func(ctx context.Context, q DBTX) error {
		var old unsafe.Pointer
		if b.audit != nil {
			old = base(new(T))
			if err := q.QueryRow(ctx, b.m.lockAnySQL, id).Scan(b.m.dest(old)...); err != nil {
				return err
			}
		}
		p := base(new(T))
		if err := q.QueryRow(ctx, sql, id).Scan(b.m.dest(p)...); err != nil {
			return err
		}
		return b.audit.log(ctx, q, action, old, p)
	})
}

// HardDelete removes the row whose primary key is id, soft-deleted or not.
// With audit, the row of a user who deletes their own account (the Actor's
// UserID is the deleted row's key) cannot name the actor in user_id, which
// references the row just removed: it writes NULL there and records the
// actor in the diff under "_actor" instead.
func (b *Base[T]) HardDelete(ctx context.Context, id any) error {
	if err := b.checkKey(ctx, b.q(ctx), "delete", id); err != nil {
		return err
	}
	err := b.write(ctx, func(ctx context.Context, q DBTX) error {
		var old T
		p := base(&old)
		if err := q.QueryRow(ctx, b.m.hardDeleteSQL, id).Scan(b.m.dest(p)...); err != nil {
			return err
		}
		return b.audit.log(ctx, q, actionDelete, p, nil)
	})
	return b.wrap(ctx, "delete", id, err)
}

// lockOld reads the row about to change, locking it, when the audit needs
// its old values.
func (b *Base[T]) lockOld(ctx context.Context, q DBTX, id any) (unsafe.Pointer, error) {
	if b.audit == nil {
		return nil, nil
	}
	old := new(T)
	p := base(old)
	if err := q.QueryRow(ctx, b.m.lockSQL, id).Scan(b.m.dest(p)...); err != nil {
		return nil, err
	}
	return p, nil
}

// write runs fn on the repository's DBTX for ctx, or, when the repository
// is audited, in a transaction: that DBTX itself when it is a pgx.Tx, else
// one begun for the purpose, so that a change never commits without its
// audit row.
func (b *Base[T]) write(ctx context.Context, fn func(ctx context.Context, q DBTX) error) error {
	db := b.q(ctx)
	if b.audit == nil {
		return fn(ctx, db)
	}
	if tx, ok := db.(pgx.Tx); ok {
		return fn(ctx, tx)
	}
	beg, ok := db.(pgdb.Beginner)
	if !ok {
		return ErrNoTx
	}
	return pgdb.InTx(ctx, beg, pgdb.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
		return fn(ctx, tx)
	})
}

// wrap names the operation, turns pgx.ErrNoRows into ErrNotFound,
// constraint violations into *pgdb.ConstraintError and data exceptions
// into *pgdb.DataError (ErrInvalidQuery), and makes an error caused by the
// end of ctx match it.
func (b *Base[T]) wrap(ctx context.Context, op string, id any, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) && !errors.Is(err, ErrNotFound) {
		err = ErrNotFound
	}
	err = pgdb.Classify(err)
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	if id == nil {
		return fmt.Errorf("%s %s: %w", op, b.m.rawName, err)
	}
	return fmt.Errorf("%s %s %v: %w", op, b.m.rawName, id, err)
}

// ReadOption changes how a read treats soft-deleted rows.
type ReadOption struct{ includeDeleted bool }

// IncludeDeleted makes Get find soft-deleted rows too.
var IncludeDeleted = ReadOption{includeDeleted: true}

func readOpts(opts []ReadOption) ReadOption {
	var o ReadOption
	for _, x := range opts {
		o.includeDeleted = o.includeDeleted || x.includeDeleted
	}
	return o
}
