package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unsafe"

	"github.com/jackc/pgx/v5"
)

// Actor is who makes a change, as the audit trail records it.
type Actor struct {
	UserID    string     // users.id of the actor; empty writes NULL
	IP        netip.Addr // client address; the zero Addr writes NULL
	UserAgent string     // empty writes NULL
}

type actorKey struct{}

// WithActor returns a context that carries a, for the audit rows of the
// changes made with it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the Actor carried by ctx, if any.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// Audit actions, as written to audit_log.action.
const (
	actionCreate  = "create"
	actionUpdate  = "update"
	actionDelete  = "delete"
	actionRestore = "restore"
)

// masked replaces the values of secret columns in audit diffs.
const masked = `"[REDACTED]"`

type auditor struct {
	m            *meta
	sql          string
	table        string // quoted
	resourceType string
	secret       []bool // by column index
}

func newAuditor(m *meta, cfg Config) *auditor {
	secrets := cfg.Secrets
	if secrets == nil {
		secrets = DefaultSecrets()
	}
	table := pgx.Identifier(strings.Split(cmp(cfg.AuditTable, "audit_log"), ".")).Sanitize()
	a := &auditor{
		m:            m,
		table:        table,
		resourceType: cmp(cfg.ResourceType, cfg.Table),
		secret:       make([]bool, len(m.cols)),
		// clock_timestamp, not now(): rows of one transaction keep their order.
		sql: "INSERT INTO " + table +
			" (user_id, action, resource_type, resource_id, changes, ip_address, user_agent, created_at)" +
			" VALUES ($1, $2, $3, $4, $5, $6, $7, clock_timestamp())",
	}
	for i, c := range m.cols {
		a.secret[i] = slices.Contains(secrets, c.name)
	}
	return a
}

// log writes the audit row of one change from the row at old to the row at
// cur (either may be nil: create, hard delete). It does nothing on a nil
// auditor, so that callers need not check.
func (a *auditor) log(ctx context.Context, q DBTX, action string, old, cur unsafe.Pointer) error {
	if a == nil {
		return nil
	}
	changes, err := a.diff(old, cur)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	row := cur
	if row == nil {
		row = old
	}
	actor, _ := ActorFrom(ctx)
	var ip any
	if actor.IP.IsValid() {
		ip = actor.IP
	}
	resourceID := fmt.Sprint(a.m.cols[a.m.pk].value(row))
	userID := nullString(actor.UserID)
	if cur == nil && actor.UserID != "" && actor.UserID == resourceID {
		// A user deleting their own row: user_id would reference the row
		// just removed (the core audit_log's foreign key), so the actor
		// goes into the diff, which references nothing.
		userID = nil
		who, _ := json.Marshal(actor.UserID)
		member := `"_actor":{"user_id":` + string(who) + `}}`
		if len(changes) > 2 {
			member = "," + member
		}
		changes = append(changes[:len(changes)-1:len(changes)-1], member...)
	}
	_, err = q.Exec(ctx, a.sql, userID, action, a.resourceType,
		resourceID, changes, ip, nullString(actor.UserAgent))
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// diff returns {"column": {"old": ..., "new": ...}} for every column whose
// JSON value differs, with secrets masked. A create has no "old", a delete
// no "new"; null values are left out of both.
func (a *auditor) diff(old, cur unsafe.Pointer) (json.RawMessage, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := range a.m.cols {
		c := &a.m.cols[i]
		var ov, nv []byte
		var err error
		if old != nil {
			if ov, err = json.Marshal(c.value(old)); err != nil {
				return nil, fmt.Errorf("column %s: %w", c.name, err)
			}
		}
		if cur != nil {
			if nv, err = json.Marshal(c.value(cur)); err != nil {
				return nil, fmt.Errorf("column %s: %w", c.name, err)
			}
		}
		if bytes.Equal(ov, nv) {
			continue
		}
		if a.secret[i] {
			ov, nv = mask(ov), mask(nv)
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(c.name)
		b.Write(name)
		b.WriteString(`:{`)
		sep := ""
		if ov != nil && string(ov) != "null" {
			b.WriteString(`"old":`)
			b.Write(ov)
			sep = ","
		}
		if nv != nil && string(nv) != "null" {
			b.WriteString(sep + `"new":`)
			b.Write(nv)
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func mask(v []byte) []byte {
	if v == nil || string(v) == "null" {
		return v
	}
	return []byte(masked)
}
