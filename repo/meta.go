package repo

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/pgdb"
)

// column is one mapped struct field, worked out once by New.
type column struct {
	name     string       // column name, from the db tag
	quoted   string       // name as a quoted SQL identifier
	offset   uintptr      // field offset from the start of the struct
	typ      reflect.Type // field type
	def      bool         // tag option default: INSERT writes DEFAULT when the field is zero
	readonly bool         // tag option readonly: never written
	noUpdate bool         // tag option noupdate: written by INSERT only
	filter   bool         // tag option filter: a list may filter on it
	sort     bool         // tag option sort: a list may order by it
	nullable bool         // the field is a pointer, so NULL is a value
}

// ptr returns a pointer to the field in the struct at base, typed as the
// field's pointer type so that pgx scans into and encodes from it directly.
func (c *column) ptr(base unsafe.Pointer) any {
	return reflect.NewAt(c.typ, unsafe.Add(base, c.offset)).Interface()
}

func (c *column) isZero(base unsafe.Pointer) bool {
	return reflect.NewAt(c.typ, unsafe.Add(base, c.offset)).Elem().IsZero()
}

func (c *column) value(base unsafe.Pointer) any {
	return reflect.NewAt(c.typ, unsafe.Add(base, c.offset)).Elem().Interface()
}

// meta holds what New learns about an entity and its table: the column
// mapping and every statement that does not depend on a call's input.
type meta struct {
	table   string // quoted, possibly schema-qualified
	rawName string // as configured
	cols    []column
	byName  map[string]int
	pk      int
	soft    int // soft delete column, -1 for none
	updated int // updated_at column, -1 for none

	selectList string // "id", "email", ... in cols order
	notDeleted string // " AND deleted_at IS NULL", or empty

	getSQL        string // by pk, live rows only
	getAnySQL     string // by pk, soft-deleted rows too
	lockSQL       string // by pk, FOR UPDATE
	lockAnySQL    string // by pk, soft-deleted rows too, FOR UPDATE
	updateSQL     string
	updateCols    []int // columns set by updateSQL, in $n order
	softDeleteSQL string
	restoreSQL    string
	hardDeleteSQL string

	defaults []int    // columns with the default option, in mask bit order
	inserts  sync.Map // mask of zero default columns -> *insertStmt
	patches  sync.Map // sorted column names joined by "," -> UPDATE of Patch

	cursorKey []byte // HMAC key of keyset cursors

	// The columns' SQL types, read from the catalog on first use (see
	// colTypes): New has no connection to read them with.
	types   atomic.Pointer[[]colType]
	typesMu sync.Mutex
}

type insertStmt struct {
	sql  string
	cols []int // columns bound to $1..$n
}

func buildMeta(t reflect.Type, cfg Config) (*meta, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("repo: entity %s is not a struct", t)
	}
	if cfg.Table == "" {
		return nil, fmt.Errorf("repo: entity %s: no table", t)
	}
	m := &meta{
		table:   pgx.Identifier(strings.Split(cfg.Table, ".")).Sanitize(),
		rawName: cfg.Table,
		byName:  map[string]int{},
		soft:    -1,
		updated: -1,
	}
	if err := m.addFields(t); err != nil {
		return nil, err
	}
	if len(m.cols) == 0 {
		return nil, fmt.Errorf("repo: entity %s has no field with a db tag", t)
	}
	find := func(name, what string) (int, error) {
		i, ok := m.byName[name]
		if !ok {
			return -1, fmt.Errorf("repo: entity %s has no column %q (%s)", t, name, what)
		}
		return i, nil
	}
	var err error
	if m.pk, err = find(cmp(cfg.PrimaryKey, "id"), "primary key"); err != nil {
		return nil, err
	}
	if cfg.SoftDelete != "" {
		if m.soft, err = find(cfg.SoftDelete, "soft delete"); err != nil {
			return nil, err
		}
		m.notDeleted = " AND " + m.cols[m.soft].quoted + " IS NULL"
	}
	if cfg.UpdatedAt != "-" {
		if i, ok := m.byName[cmp(cfg.UpdatedAt, "updated_at")]; ok {
			m.updated = i
		} else if cfg.UpdatedAt != "" {
			return nil, fmt.Errorf("repo: entity %s has no column %q (updated at)", t, cfg.UpdatedAt)
		}
	}
	m.buildStatements()
	return m, nil
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (m *meta) addFields(t reflect.Type) error {
	fields, err := pgdb.StructFields(t)
	if err != nil {
		return err
	}
	for _, f := range fields {
		c := column{
			name:     f.Column,
			quoted:   pgx.Identifier{f.Column}.Sanitize(),
			offset:   f.Offset,
			typ:      f.Type,
			nullable: f.Type.Kind() == reflect.Pointer,
		}
		for o := range strings.SplitSeq(f.Options, ",") {
			switch o {
			case "":
			case "default":
				c.def = true
			case "readonly":
				c.readonly = true
			case "noupdate":
				c.noUpdate = true
			case "filter":
				c.filter = true
			case "sort":
				c.sort = true
			default:
				return fmt.Errorf("repo: field %s: unknown db tag option %q", f.Name, o)
			}
		}
		m.byName[f.Column] = len(m.cols)
		m.cols = append(m.cols, c)
	}
	return nil
}

func (m *meta) buildStatements() {
	names := make([]string, len(m.cols))
	for i, c := range m.cols {
		names[i] = c.quoted
		if c.def && !c.readonly {
			m.defaults = append(m.defaults, i)
		}
	}
	m.selectList = strings.Join(names, ", ")
	pk := m.cols[m.pk].quoted
	from := "SELECT " + m.selectList + " FROM " + m.table + " WHERE " + pk + " = $1"
	m.getAnySQL = from
	m.getSQL = from + m.notDeleted
	m.lockSQL = from + m.notDeleted + " FOR UPDATE"
	m.lockAnySQL = from + " FOR UPDATE"

	var set []string
	for i, c := range m.cols {
		switch {
		case i == m.pk || i == m.soft || c.readonly || c.noUpdate:
		case i == m.updated:
			set = append(set, c.quoted+" = now()")
		default:
			m.updateCols = append(m.updateCols, i)
			set = append(set, fmt.Sprintf("%s = $%d", c.quoted, len(m.updateCols)))
		}
	}
	if len(set) > 0 {
		m.updateSQL = fmt.Sprintf("UPDATE %s SET %s WHERE %s = $%d%s RETURNING %s",
			m.table, strings.Join(set, ", "), pk, len(m.updateCols)+1, m.notDeleted, m.selectList)
	}
	m.hardDeleteSQL = "DELETE FROM " + m.table + " WHERE " + pk + " = $1 RETURNING " + m.selectList
	if m.soft >= 0 {
		sc := m.cols[m.soft].quoted
		touch := ""
		if m.updated >= 0 {
			touch = ", " + m.cols[m.updated].quoted + " = now()"
		}
		m.softDeleteSQL = "UPDATE " + m.table + " SET " + sc + " = now()" + touch +
			" WHERE " + pk + " = $1 AND " + sc + " IS NULL RETURNING " + m.selectList
		m.restoreSQL = "UPDATE " + m.table + " SET " + sc + " = NULL" + touch +
			" WHERE " + pk + " = $1 AND " + sc + " IS NOT NULL RETURNING " + m.selectList
	}
	// The statement with no zero default column is the common one.
	m.insert(0)
}

// insert returns the INSERT statement for the mask of default columns that
// are zero (bit i for m.defaults[i]): those get DEFAULT. Each mask's
// statement is built once.
func (m *meta) insert(mask uint64) *insertStmt {
	if s, ok := m.inserts.Load(mask); ok {
		return s.(*insertStmt)
	}
	var cols []int
	var names, values []string
	for i, c := range m.cols {
		if c.readonly {
			continue
		}
		if j := slices.Index(m.defaults, i); j >= 0 && j < 64 && mask&(1<<j) != 0 {
			continue
		}
		cols = append(cols, i)
		names = append(names, c.quoted)
		values = append(values, fmt.Sprintf("$%d", len(cols)))
	}
	s := &insertStmt{cols: cols}
	if len(cols) == 0 {
		s.sql = "INSERT INTO " + m.table + " DEFAULT VALUES RETURNING " + m.selectList
	} else {
		s.sql = "INSERT INTO " + m.table + " (" + strings.Join(names, ", ") + ") VALUES (" +
			strings.Join(values, ", ") + ") RETURNING " + m.selectList
	}
	v, _ := m.inserts.LoadOrStore(mask, s)
	return v.(*insertStmt)
}

// zeroDefaults returns the mask of default columns whose field is zero.
func (m *meta) zeroDefaults(base unsafe.Pointer) uint64 {
	var mask uint64
	for j, i := range m.defaults {
		if j < 64 && m.cols[i].isZero(base) {
			mask |= 1 << j
		}
	}
	return mask
}

// dest returns pointers to every mapped field of the struct at base, in
// column order, for Scan.
func (m *meta) dest(base unsafe.Pointer) []any {
	d := make([]any, len(m.cols))
	m.fill(d, base)
	return d
}

// fill is dest into a slice of the caller's, reused from row to row.
func (m *meta) fill(d []any, base unsafe.Pointer) {
	for i := range m.cols {
		d[i] = m.cols[i].ptr(base)
	}
}

// patch builds the UPDATE of the columns named in changes, in sorted order
// so that equal key sets give equal statements (and share pgx's statement
// cache). Each key set's statement is built once: the keys are checked
// column names, so there are no more sets than the callers use.
func (m *meta) patch(types []colType, id any, changes map[string]any) (string, []any, error) {
	if len(changes) == 0 {
		return "", nil, &FieldError{Reason: "no column to change"}
	}
	var one [1]string
	keys := one[:0]
	if len(changes) == 1 {
		for k := range changes {
			keys = append(keys, k)
		}
	} else {
		keys = slices.Sorted(maps.Keys(changes))
	}
	args := make([]any, 0, len(keys)+1)
	for _, k := range keys {
		i, ok := m.byName[k]
		if !ok {
			return "", nil, &FieldError{Field: k, Reason: "unknown column"}
		}
		c := &m.cols[i]
		if i == m.pk || i == m.soft || i == m.updated || c.readonly || c.noUpdate {
			return "", nil, &FieldError{Field: k, Reason: "column cannot be changed"}
		}
		if bad := types[i].check(changes[k]); bad != "" {
			return "", nil, &FieldError{Field: k, Reason: string(bad)}
		}
		args = append(args, changes[k])
	}
	args = append(args, id)
	cacheKey := keys[0]
	if len(keys) > 1 {
		cacheKey = strings.Join(keys, ",")
	}
	if sql, ok := m.patches.Load(cacheKey); ok {
		return sql.(string), args, nil
	}
	var set strings.Builder
	for n, k := range keys {
		if n > 0 {
			set.WriteString(", ")
		}
		fmt.Fprintf(&set, "%s = $%d", m.cols[m.byName[k]].quoted, n+1)
	}
	if m.updated >= 0 {
		set.WriteString(", " + m.cols[m.updated].quoted + " = now()")
	}
	sql := fmt.Sprintf("UPDATE %s SET %s WHERE %s = $%d%s RETURNING %s",
		m.table, set.String(), m.cols[m.pk].quoted, len(args), m.notDeleted, m.selectList)
	m.patches.Store(cacheKey, sql)
	return sql, args, nil
}
