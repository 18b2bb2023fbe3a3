package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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
	actorTable   bool
	secret       []bool                           // by column index
	equal        []func(a, b unsafe.Pointer) bool // by column index; nil: compare JSON
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
		actorTable:   cfg.ActorTable,
		secret:       make([]bool, len(m.cols)),
		equal:        make([]func(a, b unsafe.Pointer) bool, len(m.cols)),
		// clock_timestamp, not now(): rows of one transaction keep their order.
		sql: "INSERT INTO " + table +
			" (user_id, action, resource_type, resource_id, changes, ip_address, user_agent, created_at)" +
			" VALUES ($1, $2, $3, $4, $5, $6, $7, clock_timestamp())",
	}
	for i := range m.cols {
		a.secret[i] = slices.Contains(secrets, m.cols[i].name)
		a.equal[i] = equalFunc(&m.cols[i])
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
	if cur == nil && a.actorTable && sameID(actor.UserID, resourceID) {
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

// sameID reports whether the actor's id names the row whose key is
// resourceID. The row's uuid is in the server's canonical form, and the
// actor's may be in any form the server reads as the same uuid (upper
// case, braces, hyphens elsewhere or none), so uuids compare by their
// 32 hex digits; any other key compares exactly.
func sameID(actorID, resourceID string) bool {
	if actorID == "" {
		return false
	}
	if actorID == resourceID {
		return true
	}
	a, okA := uuidDigits(actorID)
	b, okB := uuidDigits(resourceID)
	return okA && okB && a == b
}

// uuidDigits returns the 32 hex digits of s, lower-cased, when s is a
// uuid as PostgreSQL's input function reads one: optional braces around
// groups of four digits with an optional hyphen after each.
func uuidDigits(s string) ([32]byte, bool) {
	var d [32]byte
	if len(s) >= 2 && s[0] == '{' && s[len(s)-1] == '}' {
		s = s[1 : len(s)-1]
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' && n > 0 && n%4 == 0 && i+1 < len(s) && s[i+1] != '-':
			continue
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			c += 'a' - 'A'
		default:
			return d, false
		}
		if n == len(d) {
			return d, false
		}
		d[n] = c
		n++
	}
	return d, n == len(d)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// diff returns {"column": {"old": ..., "new": ...}} for every column whose
// value differs, with secrets masked. A create has no "old", a delete no
// "new"; null values are left out of both, and a column null on both
// sides is left out.
func (a *auditor) diff(old, cur unsafe.Pointer) (json.RawMessage, error) {
	b := make([]byte, 1, 512)
	b[0] = '{'
	var ov, nv []byte
	for i := range a.m.cols {
		c := &a.m.cols[i]
		eq := a.equal[i]
		if old != nil && cur != nil && eq != nil && eq(old, cur) {
			continue
		}
		var err error
		ov, nv = ov[:0], nv[:0]
		if old != nil {
			if ov, err = appendJSON(ov, c, old); err != nil {
				return nil, fmt.Errorf("column %s: %w", c.name, err)
			}
		}
		if cur != nil {
			if nv, err = appendJSON(nv, c, cur); err != nil {
				return nil, fmt.Errorf("column %s: %w", c.name, err)
			}
		}
		if eq == nil && old != nil && cur != nil && bytes.Equal(ov, nv) {
			continue
		}
		oNull, nNull := len(ov) == 0 || string(ov) == "null", len(nv) == 0 || string(nv) == "null"
		if oNull && nNull {
			continue
		}
		if a.secret[i] {
			ov, nv = []byte(masked), []byte(masked)
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendString(b, c.name)
		b = append(b, `:{`...)
		if !oNull {
			b = append(b, `"old":`...)
			b = append(b, ov...)
		}
		if !nNull {
			if !oNull {
				b = append(b, ',')
			}
			b = append(b, `"new":`...)
			b = append(b, nv...)
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

var (
	typeTime    = reflect.TypeFor[time.Time]()
	typeTimePtr = reflect.TypeFor[*time.Time]()
	typeRaw     = reflect.TypeFor[json.RawMessage]()
	typeBytes   = reflect.TypeFor[[]byte]()
)

// equalFunc returns a comparison of the column's field in two structs,
// without boxing or marshalling, for the types the models use; nil for
// others, which diff compares by their JSON.
func equalFunc(c *column) func(a, b unsafe.Pointer) bool {
	off := c.offset
	switch c.typ {
	case typeTime:
		return func(a, b unsafe.Pointer) bool {
			return (*time.Time)(unsafe.Add(a, off)).Equal(*(*time.Time)(unsafe.Add(b, off)))
		}
	case typeTimePtr:
		return func(a, b unsafe.Pointer) bool {
			x, y := *(**time.Time)(unsafe.Add(a, off)), *(**time.Time)(unsafe.Add(b, off))
			return x == y || (x != nil && y != nil && x.Equal(*y))
		}
	case typeRaw, typeBytes:
		return func(a, b unsafe.Pointer) bool {
			return bytes.Equal(*(*[]byte)(unsafe.Add(a, off)), *(*[]byte)(unsafe.Add(b, off)))
		}
	}
	t := c.typ
	ptr := t.Kind() == reflect.Pointer
	if ptr {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return eqOf[string](off, ptr)
	case reflect.Bool:
		return eqOf[bool](off, ptr)
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64:
		return eqOf[int64](off, ptr)
	case reflect.Int32, reflect.Uint32:
		return eqOf[int32](off, ptr)
	case reflect.Int16, reflect.Uint16:
		return eqOf[int16](off, ptr)
	case reflect.Int8, reflect.Uint8:
		return eqOf[int8](off, ptr)
	}
	if t == reflect.TypeFor[netip.Addr]() {
		return eqOf[netip.Addr](off, ptr)
	}
	return nil
}

// eqOf compares two fields of a type with the memory layout of V, or of
// *V when ptr.
func eqOf[V comparable](off uintptr, ptr bool) func(a, b unsafe.Pointer) bool {
	if ptr {
		return func(a, b unsafe.Pointer) bool {
			x, y := *(**V)(unsafe.Add(a, off)), *(**V)(unsafe.Add(b, off))
			return x == y || (x != nil && y != nil && *x == *y)
		}
	}
	return func(a, b unsafe.Pointer) bool {
		return *(*V)(unsafe.Add(a, off)) == *(*V)(unsafe.Add(b, off))
	}
}

// appendJSON appends the JSON of the column's field in the struct at p,
// as json.Marshal writes it, without its allocations for the common types.
func appendJSON(b []byte, c *column, p unsafe.Pointer) ([]byte, error) {
	switch v := c.ptr(p).(type) {
	case *string:
		return appendString(b, *v), nil
	case **string:
		if *v == nil {
			return append(b, "null"...), nil
		}
		return appendString(b, **v), nil
	case *time.Time:
		return appendTime(b, *v), nil
	case **time.Time:
		if *v == nil {
			return append(b, "null"...), nil
		}
		return appendTime(b, **v), nil
	case *bool:
		return strconv.AppendBool(b, *v), nil
	case **bool:
		if *v == nil {
			return append(b, "null"...), nil
		}
		return strconv.AppendBool(b, **v), nil
	case *int64:
		return strconv.AppendInt(b, *v, 10), nil
	case *int:
		return strconv.AppendInt(b, int64(*v), 10), nil
	case *json.RawMessage:
		if len(*v) == 0 {
			return append(b, "null"...), nil
		}
		return append(b, *v...), nil
	}
	j, err := json.Marshal(c.value(p))
	return append(b, j...), err
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendString appends s as a JSON string, escaping as encoding/json does
// (HTML characters included), invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
