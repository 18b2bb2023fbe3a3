package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// kind is what the value checks know of a column's SQL type.
type kind uint8

const (
	kindOther kind = iota // no client-side check; the server's class 22 error is still invalid input
	kindText              // text, varchar, char, name, and other string types (citext, domains)
	kindEnum              // values are checked by the server; not a pattern-match target
	kindUUID              //
	kindInt               // int2, int4, int8: bits says which
	kindFloat             // float4, float8, numeric
	kindBool              //
	kindTime              // timestamptz, timestamp, date
	kindInet              // inet, cidr
	kindJSON              // json, jsonb
)

// colType is a column's SQL type as the value checks use it.
type colType struct {
	kind   kind
	bits   int    // kindInt: 16, 32 or 64
	maxLen int    // kindText: varchar(n)/char(n) length, 0 for none
	name   string // for messages: "uuid", "integer"...
}

// typesSQL reads the type of every column of a table, domains resolved to
// their base type, from the catalog: what the values of filters, keys,
// patches and cursors are checked against before they reach the server.
const typesSQL = `SELECT a.attname::text,
       CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END,
       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
       CASE WHEN t.typtype = 'd' THEN bt.typcategory ELSE t.typcategory END::text,
       format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END, NULL)
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`

// colTypes returns the SQL types of the entity's columns, by column index,
// reading them on q on first use: they are the table's, so every copy of
// the repository shares them. A column missing from the table is kindOther.
func (m *meta) colTypes(ctx context.Context, q DBTX) ([]colType, error) {
	if t := m.types.Load(); t != nil {
		return *t, nil
	}
	m.typesMu.Lock()
	defer m.typesMu.Unlock()
	if t := m.types.Load(); t != nil {
		return *t, nil
	}
	rows, err := q.Query(ctx, typesSQL, m.table)
	if err != nil {
		return nil, fmt.Errorf("column types of %s: %w", m.rawName, err)
	}
	defer rows.Close()
	types := make([]colType, len(m.cols))
	for rows.Next() {
		var name, category, typName string
		var oid uint32
		var typmod int32
		if err := rows.Scan(&name, &oid, &typmod, &category, &typName); err != nil {
			return nil, fmt.Errorf("column types of %s: %w", m.rawName, err)
		}
		if i, ok := m.byName[name]; ok {
			types[i] = typeOf(oid, typmod, category, typName)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("column types of %s: %w", m.rawName, err)
	}
	m.types.Store(&types)
	return types, nil
}

func typeOf(oid uint32, typmod int32, category, name string) colType {
	t := colType{name: name}
	switch oid {
	case pgtype.UUIDOID:
		t.kind = kindUUID
	case pgtype.Int2OID:
		t.kind, t.bits = kindInt, 16
	case pgtype.Int4OID:
		t.kind, t.bits = kindInt, 32
	case pgtype.Int8OID:
		t.kind, t.bits = kindInt, 64
	case pgtype.Float4OID, pgtype.Float8OID, pgtype.NumericOID:
		t.kind = kindFloat
	case pgtype.BoolOID:
		t.kind = kindBool
	case pgtype.TimestamptzOID, pgtype.TimestampOID, pgtype.DateOID:
		t.kind = kindTime
	case pgtype.InetOID, pgtype.CIDROID:
		t.kind = kindInet
	case pgtype.JSONOID, pgtype.JSONBOID:
		t.kind = kindJSON
	case pgtype.VarcharOID, pgtype.BPCharOID:
		t.kind = kindText
		if typmod >= 4 {
			t.maxLen = int(typmod - 4)
		}
	default:
		switch category {
		case "S":
			t.kind = kindText
		case "E":
			t.kind = kindEnum
		}
	}
	return t
}

// badValue is why a value does not suit a column; the caller names the
// field.
type badValue string

// check returns why v cannot be a value of the column, or "" when it can
// (or when only the server can tell). Strings, the form client input
// takes, are checked against what the type's input function accepts;
// Go numbers and booleans against the kind; other Go types are left to
// pgx, which encodes them or fails before sending.
func (t *colType) check(v any) badValue {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return t.checkString(x)
	case bool:
		if t.kind == kindBool || t.kind == kindText || t.kind == kindJSON || t.kind == kindOther {
			return ""
		}
		return t.want()
	case int:
		return t.checkInt(int64(x), false)
	case int8:
		return t.checkInt(int64(x), false)
	case int16:
		return t.checkInt(int64(x), false)
	case int32:
		return t.checkInt(int64(x), false)
	case int64:
		return t.checkInt(x, false)
	case uint8:
		return t.checkInt(int64(x), false)
	case uint16:
		return t.checkInt(int64(x), false)
	case uint32:
		return t.checkInt(int64(x), false)
	case uint, uint64:
		u := reflect.ValueOf(x).Uint()
		return t.checkInt(int64(u), u > math.MaxInt64)
	case float32:
		return t.checkFloat(float64(x))
	case float64:
		return t.checkFloat(x)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return ""
		}
		return t.check(rv.Elem().Interface())
	}
	return ""
}

func (t *colType) want() badValue {
	return badValue("not a valid " + t.name)
}

func (t *colType) checkInt(n int64, overflow bool) badValue {
	switch t.kind {
	case kindInt:
		if overflow || (t.bits < 64 && (n < -1<<(t.bits-1) || n >= 1<<(t.bits-1))) {
			return badValue("out of range for " + t.name)
		}
	case kindFloat, kindText, kindJSON, kindOther, kindEnum:
	default:
		return t.want()
	}
	return ""
}

func (t *colType) checkFloat(f float64) badValue {
	switch t.kind {
	case kindInt:
		if f != math.Trunc(f) {
			return t.want()
		}
		return t.checkInt(int64(f), f >= math.MaxInt64 || f < math.MinInt64)
	case kindFloat, kindText, kindJSON, kindOther, kindEnum:
		return ""
	}
	return t.want()
}

func (t *colType) checkString(s string) badValue {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return "not valid UTF-8 text"
	}
	ok := true
	switch t.kind {
	case kindText:
		if t.maxLen > 0 && utf8.RuneCountInString(s) > t.maxLen {
			return badValue(fmt.Sprintf("longer than %d characters", t.maxLen))
		}
	case kindUUID:
		ok = validUUID(s)
	case kindInt:
		_, err := strconv.ParseInt(strings.TrimSpace(s), 10, t.bits)
		ok = err == nil
	case kindFloat:
		_, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		ok = err == nil || errors.Is(err, strconv.ErrRange)
	case kindBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "t", "true", "f", "false", "y", "yes", "n", "no", "on", "off", "1", "0":
		default:
			ok = false
		}
	case kindTime:
		ok = validTime(strings.TrimSpace(s))
	case kindInet:
		_, err := netip.ParsePrefix(s)
		if err != nil {
			_, err = netip.ParseAddr(s)
		}
		ok = err == nil
	case kindJSON:
		ok = json.Valid([]byte(s))
	}
	if !ok {
		return t.want()
	}
	return ""
}

// validUUID accepts what PostgreSQL's uuid input does: 32 hex digits,
// optionally in braces, with a hyphen allowed after any group of four.
func validUUID(s string) bool {
	_, ok := uuidDigits(s)
	return ok
}

// timeLayouts are the forms of timestamps and dates accepted from clients:
// RFC 3339 and PostgreSQL's own output, with or without a zone, and dates
// alone. Fractional seconds are accepted after the seconds of any of them.
var timeLayouts = [...]string{
	time.RFC3339,
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05Z07",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	// Without seconds, as people type them and PostgreSQL reads them.
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

func validTime(s string) bool {
	if s == "infinity" || s == "-infinity" {
		return true
	}
	for _, l := range timeLayouts {
		if _, err := time.Parse(l, s); err == nil {
			return true
		}
	}
	return false
}

// textual reports whether LIKE and ILIKE apply to the column.
func (t *colType) textual() bool { return t.kind == kindText }
