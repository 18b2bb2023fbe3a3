package repo

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/pgmig/pgmig/pgdb"
)

// Op is a filter operator.
type Op string

// The operators of Filter. In takes a slice; IsNull and NotNull take no
// value; Like and ILike take a pattern with % and _ wildcards.
const (
	Eq      Op = "="
	Ne      Op = "!="
	Lt      Op = "<"
	Le      Op = "<="
	Gt      Op = ">"
	Ge      Op = ">="
	In      Op = "in"
	Like    Op = "like"
	ILike   Op = "ilike"
	IsNull  Op = "is null"
	NotNull Op = "is not null"
)

// Filter is one condition of a list: Field Op Value. Field is a column of
// the entity; Value is always sent as a parameter, never written into the
// SQL. Conditions of a list are joined with AND.
type Filter struct {
	Field string
	Op    Op
	Value any
}

// Sort orders a list by a column of the entity, one with the sort tag
// option.
type Sort struct {
	Field string
	Desc  bool
	// Nulls places the NULLs of a nullable column. Zero means the server's
	// default: last when ascending, first when descending.
	Nulls Nulls
}

// Nulls places NULLs in an order (Sort.Nulls).
type Nulls uint8

// The placements of Sort.Nulls.
const (
	NullsDefault Nulls = iota // last ascending, first descending
	NullsFirst
	NullsLast
)

// first resolves the placement for a direction.
func (n Nulls) first(desc bool) bool {
	if n == NullsDefault {
		return desc
	}
	return n == NullsFirst
}

// ErrInvalidQuery is matched (errors.Is) by every error about the filters,
// sort, cursor, keys or values a caller gave (*FieldError, *OperatorError,
// *SortError, *CursorError), and by the server's rejection of a value
// (*pgdb.DataError): a client's mistake, to answer with 400, not a
// failure. It is pgdb.ErrInvalidInput.
var ErrInvalidQuery = pgdb.ErrInvalidInput

// FieldError reports a field that is not a column of the entity, one that
// cannot be used as asked (not filterable, not sortable, not writable), or
// a value that does not suit the column's type. Reason never quotes the
// value: it is a client's, of any length.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return fmt.Sprintf("field %q: %s", e.Field, e.Reason)
}

// Is matches ErrInvalidQuery.
func (e *FieldError) Is(target error) bool { return target == ErrInvalidQuery }

// OperatorError reports an unknown operator, or a value that does not suit
// the operator (In without a slice, Eq with nil, Like without a string).
type OperatorError struct {
	Field  string
	Op     Op
	Reason string
}

func (e *OperatorError) Error() string {
	return fmt.Sprintf("field %q: operator %q: %s", e.Field, string(e.Op), e.Reason)
}

// Is matches ErrInvalidQuery.
func (e *OperatorError) Is(target error) bool { return target == ErrInvalidQuery }

// SortError reports a sort term ParseSort cannot read.
type SortError struct {
	Term string
}

func (e *SortError) Error() string {
	return fmt.Sprintf("sort %q: want a column name, optionally with a leading '-' or a trailing asc/desc", e.Term)
}

// Is matches ErrInvalidQuery.
func (e *SortError) Is(target error) bool { return target == ErrInvalidQuery }

// CursorError reports a keyset cursor that this list did not issue: a
// damaged or edited string, one signed with another key or issued for
// another table or sort, or one whose values no longer suit the columns.
type CursorError struct {
	Reason string
}

func (e *CursorError) Error() string { return "cursor: " + e.Reason }

// Is matches ErrInvalidQuery.
func (e *CursorError) Is(target error) bool { return target == ErrInvalidQuery }

// ParseSort reads a sort as an API takes it in a query string:
// comma-separated terms "email", "-created_at", "email desc", "email ASC",
// each optionally followed by "nulls first" or "nulls last". It checks the
// syntax only; List checks that the fields exist and may be sorted on.
func ParseSort(s string) ([]Sort, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []Sort
	for term := range strings.SplitSeq(s, ",") {
		f := strings.Fields(term)
		nulls := NullsDefault
		if n := len(f); n >= 3 && strings.EqualFold(f[n-2], "nulls") {
			switch {
			case strings.EqualFold(f[n-1], "first"):
				nulls = NullsFirst
			case strings.EqualFold(f[n-1], "last"):
				nulls = NullsLast
			default:
				return nil, &SortError{Term: strings.TrimSpace(term)}
			}
			f = f[:n-2]
		}
		var st Sort
		switch {
		case len(f) == 1 && strings.HasPrefix(f[0], "-"):
			st = Sort{Field: f[0][1:], Desc: true}
		case len(f) == 1:
			st = Sort{Field: f[0]}
		case len(f) == 2 && strings.EqualFold(f[1], "asc"):
			st = Sort{Field: f[0]}
		case len(f) == 2 && strings.EqualFold(f[1], "desc"):
			st = Sort{Field: f[0], Desc: true}
		default:
			return nil, &SortError{Term: strings.TrimSpace(term)}
		}
		if st.Field == "" {
			return nil, &SortError{Term: strings.TrimSpace(term)}
		}
		st.Nulls = nulls
		out = append(out, st)
	}
	return out, nil
}

// Page sizes of List and ListKeyset.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

func limit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// ListOptions selects a page of a list.
type ListOptions struct {
	// Filters are joined with AND; each names a column with the filter tag
	// option.
	Filters []Filter
	// Sort orders the rows by columns with the sort tag option; the
	// primary key always ends the order, so that pages are stable. Empty
	// means by primary key.
	Sort []Sort
	// Limit is the page size. Zero (or negative) means DefaultLimit (50);
	// more than MaxLimit (1000) means MaxLimit.
	Limit int
	// Offset is the number of rows to skip. Negative means zero.
	Offset int
	// IncludeDeleted lists soft-deleted rows too.
	IncludeDeleted bool
	// SkipCount leaves out the count(*) of matching rows, which reads all
	// of them: Page.Total is then -1, and Page.More still tells whether
	// another page follows. Use it on large tables.
	SkipCount bool
}

// Page is one page of a list.
type Page[T any] struct {
	Items []T
	// Total is the number of rows matching the filters over all pages, or
	// -1 with ListOptions.SkipCount.
	Total  int64
	Limit  int // page size used
	Offset int
	// More is true when rows follow this page.
	More bool
}

// List returns the page of rows matching opts.Filters in opts.Sort order,
// with the total count of matching rows unless opts.SkipCount. Filters and
// sorts on anything but the entity's filterable and sortable columns,
// unknown operators and values that do not suit their column's type are
// rejected with an error matching ErrInvalidQuery before any SQL runs.
func (b *Base[T]) List(ctx context.Context, opts ListOptions) (Page[T], error) {
	page := Page[T]{Limit: limit(opts.Limit), Offset: max(opts.Offset, 0), Total: -1}
	q := b.q(ctx)
	var w strings.Builder
	_, args, err := b.filter(ctx, q, &w, opts.Filters, opts.IncludeDeleted)
	if err != nil {
		return page, err
	}
	order, err := b.m.orderBy(opts.Sort)
	if err != nil {
		return page, fmt.Errorf("list %s: %w", b.m.rawName, err)
	}
	where := w.String()
	fetch := page.Limit
	if opts.SkipCount {
		fetch++ // one more tells whether there is a next page
	} else {
		if err := q.QueryRow(ctx, "SELECT count(*) FROM "+b.m.table+where, args...).Scan(&page.Total); err != nil {
			return page, b.wrap(ctx, "list", nil, err)
		}
		if page.Total <= int64(page.Offset) {
			page.Items = []T{}
			return page, nil
		}
	}
	n := len(args)
	args = append(args, fetch, page.Offset)
	sql := "SELECT " + b.m.selectList + " FROM " + b.m.table + where + order +
		" LIMIT $" + strconv.Itoa(n+1) + " OFFSET $" + strconv.Itoa(n+2)
	page.Items, err = b.collect(ctx, q, sql, args, fetch)
	if opts.SkipCount {
		if len(page.Items) > page.Limit {
			page.Items, page.More = page.Items[:page.Limit], true
		}
	} else {
		page.More = int64(page.Offset+len(page.Items)) < page.Total
	}
	return page, err
}

// filter writes to w the WHERE clause of List and ListKeyset for filters,
// checked against the columns' types on q, and returns the types and the
// clause's arguments. Its errors are theirs: a server's wrapped as every
// list error, a bad filter naming the table.
func (b *Base[T]) filter(ctx context.Context, q DBTX, w *strings.Builder, filters []Filter, includeDeleted bool) ([]colType, []any, error) {
	types, err := b.m.colTypes(ctx, q)
	if err != nil {
		return nil, nil, b.wrap(ctx, "list", nil, err)
	}
	args, err := b.m.where(w, types, filters, includeDeleted, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("list %s: %w", b.m.rawName, err)
	}
	return types, args, nil
}

// collect runs sql on q and scans every row, straight into the result
// slice.
func (b *Base[T]) collect(ctx context.Context, q DBTX, sql string, args []any, capacity int) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, b.wrap(ctx, "list", nil, err)
	}
	defer rows.Close()
	items := make([]T, 0, capacity)
	dest := make([]any, len(b.m.cols))
	for rows.Next() {
		var zero T
		items = append(items, zero)
		b.m.fill(dest, base(&items[len(items)-1]))
		if err := rows.Scan(dest...); err != nil {
			return nil, b.wrap(ctx, "list", nil, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, b.wrap(ctx, "list", nil, err)
	}
	return items, nil
}

// where writes " WHERE ..." (or nothing) for filters to w and returns the
// arguments, after those in args. Only column names known to the entity
// and open to filters reach the SQL, as quoted identifiers; every value is
// a parameter, checked against the column's type first.
func (m *meta) where(w *strings.Builder, types []colType, filters []Filter, includeDeleted bool, args []any) ([]any, error) {
	n := 0
	and := func() {
		if n == 0 {
			w.WriteString(" WHERE ")
		} else {
			w.WriteString(" AND ")
		}
		n++
	}
	if m.soft >= 0 && !includeDeleted {
		and()
		w.WriteString(m.cols[m.soft].quoted + " IS NULL")
	}
	for _, f := range filters {
		i, ok := m.byName[f.Field]
		if !ok {
			return nil, &FieldError{Field: f.Field, Reason: "unknown field"}
		}
		if !m.cols[i].filter {
			return nil, &FieldError{Field: f.Field, Reason: "not filterable"}
		}
		t := &types[i]
		col := m.cols[i].quoted
		switch f.Op {
		case Eq, Ne, Lt, Le, Gt, Ge:
			if f.Value == nil {
				return nil, &OperatorError{Field: f.Field, Op: f.Op, Reason: "nil value; use IsNull or NotNull"}
			}
			if bad := t.check(f.Value); bad != "" {
				return nil, &FieldError{Field: f.Field, Reason: string(bad)}
			}
			args = append(args, f.Value)
			and()
			op := string(f.Op)
			if f.Op == Ne {
				op = "<>"
			}
			fmt.Fprintf(w, "%s %s $%d", col, op, len(args))
		case In:
			v := reflect.ValueOf(f.Value)
			if !v.IsValid() || (v.Kind() != reflect.Slice && v.Kind() != reflect.Array) || v.Type().Elem().Kind() == reflect.Uint8 {
				return nil, &OperatorError{Field: f.Field, Op: f.Op, Reason: "value is not a slice"}
			}
			for j := range v.Len() {
				if bad := t.check(v.Index(j).Interface()); bad != "" {
					return nil, &FieldError{Field: f.Field, Reason: fmt.Sprintf("element %d: %s", j, bad)}
				}
			}
			args = append(args, f.Value)
			and()
			fmt.Fprintf(w, "%s = ANY($%d)", col, len(args))
		case Like, ILike:
			p, ok := f.Value.(string)
			if !ok {
				return nil, &OperatorError{Field: f.Field, Op: f.Op, Reason: "pattern is not a string"}
			}
			if !t.textual() {
				return nil, &OperatorError{Field: f.Field, Op: f.Op, Reason: "pattern match needs a text column, not " + t.name}
			}
			if !utf8.ValidString(p) || strings.IndexByte(p, 0) >= 0 {
				return nil, &FieldError{Field: f.Field, Reason: "not valid UTF-8 text"}
			}
			args = append(args, f.Value)
			and()
			fmt.Fprintf(w, "%s %s $%d", col, strings.ToUpper(string(f.Op)), len(args))
		case IsNull, NotNull:
			and()
			w.WriteString(col + " " + strings.ToUpper(string(f.Op)))
		default:
			return nil, &OperatorError{Field: f.Field, Op: f.Op, Reason: "unknown operator"}
		}
	}
	return args, nil
}

// sortable returns the column of a sort term, if the entity opens it to
// sorting.
func (m *meta) sortable(s Sort) (int, error) {
	i, ok := m.byName[s.Field]
	if !ok {
		return -1, &FieldError{Field: s.Field, Reason: "unknown field"}
	}
	if !m.cols[i].sort {
		return -1, &FieldError{Field: s.Field, Reason: "not sortable"}
	}
	if s.Nulls > NullsLast {
		return -1, &FieldError{Field: s.Field, Reason: "unknown nulls placement"}
	}
	return i, nil
}

// orderBy returns " ORDER BY ..." for sorts with the primary key last.
func (m *meta) orderBy(sorts []Sort) (string, error) {
	var w strings.Builder
	w.WriteString(" ORDER BY ")
	pkSeen := false
	for _, s := range sorts {
		i, err := m.sortable(s)
		if err != nil {
			return "", err
		}
		if pkSeen {
			continue // the primary key is unique: later terms never apply
		}
		pkSeen = i == m.pk
		w.WriteString(m.cols[i].quoted)
		if s.Desc {
			w.WriteString(" DESC")
		}
		switch s.Nulls {
		case NullsFirst:
			w.WriteString(" NULLS FIRST")
		case NullsLast:
			w.WriteString(" NULLS LAST")
		}
		w.WriteString(", ")
	}
	if pkSeen {
		return strings.TrimSuffix(w.String(), ", "), nil
	}
	w.WriteString(m.cols[m.pk].quoted)
	return w.String(), nil
}

// KeysetOptions selects a page of a keyset (cursor) list.
type KeysetOptions struct {
	// Filters are as in ListOptions.
	Filters []Filter
	// Sort orders the rows by sortable columns; the primary key always
	// ends the order, so that the cursor points at exactly one row.
	// Nullable columns (pointer fields) order with their NULLs first or
	// last as Sort.Nulls says. Empty means by primary key.
	Sort []Sort
	// Limit is the page size: zero means DefaultLimit (50), more than
	// MaxLimit (1000) means MaxLimit.
	Limit int
	// After is the Next cursor of the previous page; empty starts at the
	// first row.
	After string
	// IncludeDeleted lists soft-deleted rows too.
	IncludeDeleted bool
}

// KeysetPage is one page of a keyset list.
type KeysetPage[T any] struct {
	Items []T
	// Next is the cursor of the following page, empty on the last page.
	// It is opaque and signed (see Config.CursorKey): clients pass it back
	// as it is.
	Next string
}

// ListKeyset returns the rows after opts.After in opts.Sort order. Unlike
// List it reads no more rows than it returns, however deep the page, and
// rows inserted or deleted meanwhile never shift it: use it for large
// tables and for feeds. It does not count the total. A cursor this
// repository did not sign for this table and order is a *CursorError.
func (b *Base[T]) ListKeyset(ctx context.Context, opts KeysetOptions) (KeysetPage[T], error) {
	var page KeysetPage[T]
	keys, err := b.m.keysetColumns(opts.Sort)
	if err != nil {
		return page, fmt.Errorf("list %s: %w", b.m.rawName, err)
	}
	q := b.q(ctx)
	var w strings.Builder
	types, args, err := b.filter(ctx, q, &w, opts.Filters, opts.IncludeDeleted)
	if err != nil {
		return page, err
	}
	spec := keysetSpec(b.m, keys)
	if opts.After != "" {
		vals, err := b.m.decodeCursor(opts.After, spec, keys, types)
		if err != nil {
			return page, fmt.Errorf("list %s: %w", b.m.rawName, err)
		}
		if w.Len() == 0 {
			w.WriteString(" WHERE ")
		} else {
			w.WriteString(" AND ")
		}
		args = b.m.after(&w, keys, vals, args)
	}
	n := limit(opts.Limit)
	args = append(args, n+1) // one more tells whether there is a next page
	sql := "SELECT " + b.m.selectList + " FROM " + b.m.table + w.String() + keysetOrder(b.m, keys) + " LIMIT $" + strconv.Itoa(len(args))
	page.Items, err = b.collect(ctx, q, sql, args, n+1)
	if err != nil {
		return page, err
	}
	if len(page.Items) > n {
		page.Items = page.Items[:n]
		page.Next, err = b.m.encodeCursor(spec, keys, base(&page.Items[n-1]))
		if err != nil {
			return page, fmt.Errorf("list %s: %w", b.m.rawName, err)
		}
	}
	return page, nil
}

// keyCol is one column of a keyset order.
type keyCol struct {
	col        int
	desc       bool
	nullable   bool
	nullsFirst bool // resolved: where NULLs go for a nullable column
}

func (m *meta) keysetColumns(sorts []Sort) ([]keyCol, error) {
	var keys []keyCol
	pkSeen := false
	for _, s := range sorts {
		i, err := m.sortable(s)
		if err != nil {
			return nil, err
		}
		if pkSeen {
			continue // the primary key is unique: later terms never apply
		}
		k := keyCol{col: i, desc: s.Desc, nullable: m.cols[i].nullable && i != m.pk}
		if k.nullable {
			k.nullsFirst = s.Nulls.first(s.Desc)
		}
		keys = append(keys, k)
		pkSeen = i == m.pk
	}
	if pkSeen {
		return keys, nil
	}
	return append(keys, keyCol{col: m.pk}), nil
}

// keysetOrder is the ORDER BY of a keyset list: NULLS placed explicitly
// on nullable columns, so that it agrees with the predicate of after.
func keysetOrder(m *meta, keys []keyCol) string {
	var w strings.Builder
	w.WriteString(" ORDER BY ")
	for i, k := range keys {
		if i > 0 {
			w.WriteString(", ")
		}
		w.WriteString(m.cols[k.col].quoted)
		if k.desc {
			w.WriteString(" DESC")
		}
		if k.nullable {
			if k.nullsFirst {
				w.WriteString(" NULLS FIRST")
			} else {
				w.WriteString(" NULLS LAST")
			}
		}
	}
	return w.String()
}

// keysetSpec names the order a cursor belongs to: "-created_at~first,id".
func keysetSpec(m *meta, keys []keyCol) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		if k.desc {
			b.WriteByte('-')
		}
		b.WriteString(m.cols[k.col].name)
		if k.nullable {
			if k.nullsFirst {
				b.WriteString("~first")
			} else {
				b.WriteString("~last")
			}
		}
	}
	return b.String()
}

// after writes the rows strictly after the cursor's: the OR over i of
// (k1 = v1 AND ... AND k(i-1) = v(i-1) AND ki after vi), with < for
// descending columns so that mixed directions work. A nullable column's
// NULL compares by its place: "= NULL" is IS NULL, nothing is after a NULL
// placed last, and every non-NULL is after a NULL placed first. Which
// values are NULL is known here, so the SQL says IS NULL rather than
// IS NOT DISTINCT FROM, which no index serves.
func (m *meta) after(w *strings.Builder, keys []keyCol, vals []any, args []any) []any {
	param := make([]int, len(keys)) // $n of each non-NULL value
	for i, v := range vals {
		if v != nil {
			args = append(args, v)
			param[i] = len(args)
		}
	}
	w.WriteByte('(')
	terms := 0
	for i, k := range keys {
		col := m.cols[k.col].quoted
		var gt string
		switch {
		case vals[i] == nil && !k.nullsFirst:
			continue // NULLs are last: no row is after one in this column
		case vals[i] == nil:
			gt = col + " IS NOT NULL"
		default:
			op := ">"
			if k.desc {
				op = "<"
			}
			gt = fmt.Sprintf("%s %s $%d", col, op, param[i])
			if k.nullable && !k.nullsFirst {
				gt = "(" + gt + " OR " + col + " IS NULL)"
			}
		}
		if terms > 0 {
			w.WriteString(" OR ")
		}
		terms++
		w.WriteByte('(')
		for j := range i {
			c := m.cols[keys[j].col].quoted
			if vals[j] == nil {
				w.WriteString(c + " IS NULL AND ")
			} else {
				fmt.Fprintf(w, "%s = $%d AND ", c, param[j])
			}
		}
		w.WriteString(gt + ")")
	}
	if terms == 0 {
		w.WriteString("false")
	}
	w.WriteByte(')')
	return args
}

// A cursor is base64url(mac || payload), payload the JSON of cursor and
// mac the first 16 bytes of HMAC-SHA256(key, table NUL payload): an edited
// cursor, or one of another key or table, fails the MAC before any of it
// is read.
type cursor struct {
	Sort   string            `json:"s"`
	Values []json.RawMessage `json:"v"`
}

const macLen = 16

func (m *meta) mac(payload []byte) []byte {
	h := hmac.New(sha256.New, m.cursorKey)
	h.Write([]byte(m.rawName))
	h.Write([]byte{0})
	h.Write(payload)
	return h.Sum(nil)[:macLen]
}

func (m *meta) encodeCursor(spec string, keys []keyCol, row unsafe.Pointer) (string, error) {
	c := cursor{Sort: spec, Values: make([]json.RawMessage, 0, len(keys))}
	for _, k := range keys {
		v, err := json.Marshal(m.cols[k.col].value(row))
		if err != nil {
			return "", fmt.Errorf("cursor: %w", err)
		}
		c.Values = append(c.Values, v)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(append(m.mac(payload), payload...)), nil
}

// decodeCursor checks the cursor's signature, then reads its values back
// into the columns' Go types, so that pgx encodes them as it encodes the
// fields, and checks them against the columns' SQL types.
func (m *meta) decodeCursor(s, spec string, keys []keyCol, types []colType) ([]any, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) <= macLen {
		return nil, &CursorError{Reason: "not a cursor"}
	}
	payload := raw[macLen:]
	if !hmac.Equal(raw[:macLen], m.mac(payload)) {
		return nil, &CursorError{Reason: "not issued by this list (edited, or signed with another key)"}
	}
	var c cursor
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, &CursorError{Reason: "not a cursor"}
	}
	if c.Sort != spec || len(c.Values) != len(keys) {
		return nil, &CursorError{Reason: "issued for another order"}
	}
	vals := make([]any, len(keys))
	for i, k := range keys {
		col := &m.cols[k.col]
		p := reflect.New(col.typ)
		if err := json.Unmarshal(c.Values[i], p.Interface()); err != nil {
			return nil, &CursorError{Reason: "bad value for " + col.name}
		}
		v := p.Elem()
		if v.Kind() == reflect.Pointer && v.IsNil() {
			if !k.nullable {
				return nil, &CursorError{Reason: "bad value for " + col.name}
			}
			continue // vals[i] stays nil: the SQL says IS NULL
		}
		vals[i] = v.Interface()
		if bad := types[k.col].check(vals[i]); bad != "" {
			return nil, &CursorError{Reason: "bad value for " + col.name + ": " + string(bad)}
		}
	}
	return vals, nil
}
