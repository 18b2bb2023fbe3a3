package repo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unsafe"
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

// Sort orders a list by a column of the entity.
type Sort struct {
	Field string
	Desc  bool
}

// ErrInvalidQuery is matched (errors.Is) by every error about the filters,
// sort or cursor a caller gave (*FieldError, *OperatorError, *SortError,
// *CursorError): a client's mistake, to answer with 400, not a failure.
var ErrInvalidQuery = errors.New("invalid query")

// FieldError reports a field that is not a column of the entity, or one
// that cannot be used as asked.
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
// damaged string, or one issued for another sort.
type CursorError struct {
	Reason string
}

func (e *CursorError) Error() string { return "cursor: " + e.Reason }

// Is matches ErrInvalidQuery.
func (e *CursorError) Is(target error) bool { return target == ErrInvalidQuery }

// ParseSort reads a sort as an API takes it in a query string:
// comma-separated terms "email", "-created_at", "email desc", "email ASC".
// It checks the syntax only; List checks that the fields exist.
func ParseSort(s string) ([]Sort, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []Sort
	for term := range strings.SplitSeq(s, ",") {
		f := strings.Fields(term)
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
	Filters []Filter
	// Sort orders the rows; the primary key always ends the order, so that
	// pages are stable. Empty means by primary key.
	Sort []Sort
	// Limit is the page size. Zero (or negative) means DefaultLimit (50);
	// more than MaxLimit (1000) means MaxLimit.
	Limit int
	// Offset is the number of rows to skip. Negative means zero.
	Offset int
	// IncludeDeleted lists soft-deleted rows too.
	IncludeDeleted bool
}

// Page is one page of a list.
type Page[T any] struct {
	Items  []T
	Total  int64 // rows matching the filters, over all pages
	Limit  int   // page size used
	Offset int
}

// List returns the page of rows matching opts.Filters in opts.Sort order,
// with the total count of matching rows. Filters and sorts on anything but
// the entity's columns, and unknown operators, are rejected with an error
// matching ErrInvalidQuery before any SQL runs.
func (b *Base[T]) List(ctx context.Context, opts ListOptions) (Page[T], error) {
	page := Page[T]{Limit: limit(opts.Limit), Offset: max(opts.Offset, 0)}
	var w strings.Builder
	args, err := b.m.where(&w, opts.Filters, opts.IncludeDeleted, nil)
	if err != nil {
		return page, fmt.Errorf("list %s: %w", b.m.rawName, err)
	}
	order, err := b.m.orderBy(opts.Sort)
	if err != nil {
		return page, fmt.Errorf("list %s: %w", b.m.rawName, err)
	}
	where := w.String()
	if err := b.db.QueryRow(ctx, "SELECT count(*) FROM "+b.m.table+where, args...).Scan(&page.Total); err != nil {
		return page, b.wrap(ctx, "list", nil, err)
	}
	if page.Total <= int64(page.Offset) {
		page.Items = []T{}
		return page, nil
	}
	n := len(args)
	args = append(args, page.Limit, page.Offset)
	sql := "SELECT " + b.m.selectList + " FROM " + b.m.table + where + order +
		" LIMIT $" + strconv.Itoa(n+1) + " OFFSET $" + strconv.Itoa(n+2)
	page.Items, err = b.collect(ctx, sql, args, page.Limit)
	return page, err
}

// collect runs sql and scans every row, straight into the result slice.
func (b *Base[T]) collect(ctx context.Context, sql string, args []any, capacity int) ([]T, error) {
	rows, err := b.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, b.wrap(ctx, "list", nil, err)
	}
	defer rows.Close()
	items := make([]T, 0, capacity)
	for rows.Next() {
		var zero T
		items = append(items, zero)
		if err := rows.Scan(b.m.dest(base(&items[len(items)-1]))...); err != nil {
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
// reach the SQL, as quoted identifiers; every value is a parameter.
func (m *meta) where(w *strings.Builder, filters []Filter, includeDeleted bool, args []any) ([]any, error) {
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
		col := m.cols[i].quoted
		switch f.Op {
		case Eq, Ne, Lt, Le, Gt, Ge:
			if f.Value == nil {
				return nil, &OperatorError{Field: f.Field, Op: f.Op, Reason: "nil value; use IsNull or NotNull"}
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
			args = append(args, f.Value)
			and()
			fmt.Fprintf(w, "%s = ANY($%d)", col, len(args))
		case Like, ILike:
			if _, ok := f.Value.(string); !ok {
				return nil, &OperatorError{Field: f.Field, Op: f.Op, Reason: "pattern is not a string"}
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

// orderBy returns " ORDER BY ..." for sorts with the primary key last.
func (m *meta) orderBy(sorts []Sort) (string, error) {
	var w strings.Builder
	w.WriteString(" ORDER BY ")
	pkSeen := false
	for _, s := range sorts {
		i, ok := m.byName[s.Field]
		if !ok {
			return "", &FieldError{Field: s.Field, Reason: "unknown field"}
		}
		w.WriteString(m.cols[i].quoted)
		if s.Desc {
			w.WriteString(" DESC")
		}
		w.WriteString(", ")
		pkSeen = pkSeen || i == m.pk
	}
	if !pkSeen {
		w.WriteString(m.cols[m.pk].quoted)
		return w.String(), nil
	}
	return strings.TrimSuffix(w.String(), ", "), nil
}

// KeysetOptions selects a page of a keyset (cursor) list.
type KeysetOptions struct {
	Filters []Filter
	// Sort orders the rows; the primary key always ends the order, so that
	// the cursor points at exactly one row. Sort columns must not be
	// nullable (pointer fields are refused). Empty means by primary key.
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
	// It is opaque: clients pass it back as it is.
	Next string
}

// ListKeyset returns the rows after opts.After in opts.Sort order. Unlike
// List it reads no more rows than it returns, however deep the page, and
// rows inserted or deleted meanwhile never shift it: use it for large
// tables and for feeds. It does not count the total.
func (b *Base[T]) ListKeyset(ctx context.Context, opts KeysetOptions) (KeysetPage[T], error) {
	var page KeysetPage[T]
	keys, err := b.m.keysetColumns(opts.Sort)
	if err != nil {
		return page, fmt.Errorf("list %s: %w", b.m.rawName, err)
	}
	var w strings.Builder
	args, err := b.m.where(&w, opts.Filters, opts.IncludeDeleted, nil)
	if err != nil {
		return page, fmt.Errorf("list %s: %w", b.m.rawName, err)
	}
	spec := keysetSpec(b.m, keys)
	if opts.After != "" {
		vals, err := b.m.decodeCursor(opts.After, spec, keys)
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
	order, _ := b.m.orderBy(sortsOf(b.m, keys))
	n := limit(opts.Limit)
	args = append(args, n+1) // one more tells whether there is a next page
	sql := "SELECT " + b.m.selectList + " FROM " + b.m.table + w.String() + order + " LIMIT $" + strconv.Itoa(len(args))
	page.Items, err = b.collect(ctx, sql, args, n+1)
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
	col  int
	desc bool
}

func (m *meta) keysetColumns(sorts []Sort) ([]keyCol, error) {
	var keys []keyCol
	pkSeen := false
	for _, s := range sorts {
		i, ok := m.byName[s.Field]
		if !ok {
			return nil, &FieldError{Field: s.Field, Reason: "unknown field"}
		}
		if m.cols[i].nullable {
			return nil, &FieldError{Field: s.Field, Reason: "nullable column cannot order a keyset list"}
		}
		keys = append(keys, keyCol{col: i, desc: s.Desc})
		if i == m.pk {
			pkSeen = true
			break // the primary key is unique: later terms never apply
		}
	}
	if !pkSeen {
		keys = append(keys, keyCol{col: m.pk})
	}
	return keys, nil
}

func sortsOf(m *meta, keys []keyCol) []Sort {
	out := make([]Sort, len(keys))
	for i, k := range keys {
		out[i] = Sort{Field: m.cols[k.col].name, Desc: k.desc}
	}
	return out
}

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
	}
	return b.String()
}

// after writes (k1 > $a) OR (k1 = $a AND k2 > $b) OR ..., with < for
// descending columns, so that mixed directions work.
func (m *meta) after(w *strings.Builder, keys []keyCol, vals []any, args []any) []any {
	first := len(args) + 1
	args = append(args, vals...)
	w.WriteByte('(')
	for i := range keys {
		if i > 0 {
			w.WriteString(" OR ")
		}
		w.WriteByte('(')
		for j := 0; j < i; j++ {
			fmt.Fprintf(w, "%s = $%d AND ", m.cols[keys[j].col].quoted, first+j)
		}
		op := ">"
		if keys[i].desc {
			op = "<"
		}
		fmt.Fprintf(w, "%s %s $%d)", m.cols[keys[i].col].quoted, op, first+i)
	}
	w.WriteByte(')')
	return args
}

type cursor struct {
	Sort   string            `json:"s"`
	Values []json.RawMessage `json:"v"`
}

func (m *meta) encodeCursor(spec string, keys []keyCol, row unsafe.Pointer) (string, error) {
	c := cursor{Sort: spec}
	for _, k := range keys {
		v, err := json.Marshal(m.cols[k.col].value(row))
		if err != nil {
			return "", fmt.Errorf("cursor: %w", err)
		}
		c.Values = append(c.Values, v)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// decodeCursor reads the values back into the columns' Go types, so that
// pgx encodes them as it encodes the fields.
func (m *meta) decodeCursor(s, spec string, keys []keyCol) ([]any, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, &CursorError{Reason: "not a cursor"}
	}
	var c cursor
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, &CursorError{Reason: "not a cursor"}
	}
	if c.Sort != spec || len(c.Values) != len(keys) {
		return nil, &CursorError{Reason: "issued for another order"}
	}
	vals := make([]any, len(keys))
	for i, k := range keys {
		p := reflect.New(m.cols[k.col].typ)
		if err := json.Unmarshal(c.Values[i], p.Interface()); err != nil {
			return nil, &CursorError{Reason: "bad value for " + m.cols[k.col].name}
		}
		vals[i] = p.Elem().Interface()
	}
	return vals, nil
}
