package pgdb

import (
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	"github.com/jackc/pgx/v5"
)

// Field is one struct field mapped to a column. The mapping rule, shared
// by Query, QueryOne and the repo package, is:
//
//   - an exported field with a `db:"column"` tag maps to that column; what
//     follows a comma in the tag is left to the caller (repo reads its
//     options there, Query ignores them);
//   - `db:"-"`, unexported fields and fields without a db tag map to
//     nothing;
//   - an embedded struct without a db tag is flattened: its fields are the
//     outer struct's;
//   - a column name mapped twice is an error.
//
// Column names compare exactly, as the server reports them: unquoted
// identifiers are lower case.
type Field struct {
	Column  string       // column name
	Options string       // tag text after the first comma, "" when none
	Name    string       // Go field, for messages: "User.Email"
	Type    reflect.Type // field type
	Offset  uintptr      // from the start of the outer struct
}

// StructFields returns the mapped fields of the struct type t, in field
// order, by the rule of Field.
func StructFields(t reflect.Type) ([]Field, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("pgdb: %s is not a struct", t)
	}
	var out []Field
	seen := map[string]bool{}
	if err := addFields(&out, seen, t, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func addFields(out *[]Field, seen map[string]bool, t reflect.Type, base uintptr) error {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, hasTag := f.Tag.Lookup("db")
		if f.Anonymous && !hasTag && f.Type.Kind() == reflect.Struct {
			if err := addFields(out, seen, f.Type, base+f.Offset); err != nil {
				return err
			}
			continue
		}
		if !hasTag || tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			return fmt.Errorf("pgdb: field %s.%s: empty column name", t, f.Name)
		}
		if seen[name] {
			return fmt.Errorf("pgdb: field %s.%s: column %q mapped twice", t, f.Name, name)
		}
		seen[name] = true
		*out = append(*out, Field{Column: name, Options: opts, Name: t.Name() + "." + f.Name, Type: f.Type, Offset: base + f.Offset})
	}
	return nil
}

// FieldPtr returns a pointer to the field f of the struct at p, typed as
// the field's pointer type, so that pgx scans into and encodes from it
// directly. p must point to a value of the struct type f came from.
func FieldPtr(f *Field, p unsafe.Pointer) any {
	return reflect.NewAt(f.Type, unsafe.Add(p, f.Offset)).Interface()
}

// rowPlan scans the rows of one result into T: for each result column,
// the field it goes to.
type rowPlan struct {
	fields []*Field
	dest   []any
}

func planRows[T any](rows pgx.Rows) (*rowPlan, error) {
	t := reflect.TypeFor[T]()
	fields, err := StructFields(t)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]*Field, len(fields))
	for i := range fields {
		byName[fields[i].Column] = &fields[i]
	}
	fds := rows.FieldDescriptions()
	p := &rowPlan{fields: make([]*Field, len(fds)), dest: make([]any, len(fds))}
	for i, fd := range fds {
		f, ok := byName[fd.Name]
		if !ok {
			return nil, fmt.Errorf("pgdb: result column %q has no field in %s (want a `db:%q` tag)", fd.Name, t, fd.Name)
		}
		p.fields[i] = f
	}
	return p, nil
}

func (p *rowPlan) scan(rows pgx.Rows, v unsafe.Pointer) error {
	for i, f := range p.fields {
		p.dest[i] = FieldPtr(f, v)
	}
	return rows.Scan(p.dest...)
}
