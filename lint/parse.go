package lint

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/wasilibs/go-pgquery/parser"
)

// parseMu serialises parsing. go-pgquery compiles a fresh copy of the
// parser (seconds of CPU, some 250 MB) for each call that finds none idle,
// so concurrent calls would each pay for their own; one at a time, the
// first copy is reused and a parse takes microseconds.
var parseMu sync.Mutex

// node is one node of libpg_query's JSON parse tree: {"TypeName": {...}}
// for a tagged node, or the fields of a struct.
type node = map[string]any

// parsed is one statement of a parse.
type parsed struct {
	Stmt     node `json:"stmt"`
	Location int  `json:"stmt_location"` // byte offset in the parsed text
}

// syntaxError is a statement PostgreSQL's grammar refuses.
type syntaxError struct {
	Msg    string
	Cursor int // 1-based position in characters; 0 when unknown
}

func (e *syntaxError) Error() string { return e.Msg }

// parse parses sql with PostgreSQL's grammar. The JSON form is used, not
// the protobuf one, to keep the protobuf runtime and its descriptors, which
// every command would initialise at start-up, out of the binary.
func parse(sql string) ([]parsed, error) {
	parseMu.Lock()
	out, err := parser.ParseToJSON(sql)
	parseMu.Unlock()
	var pe *parser.Error
	if errors.As(err, &pe) {
		return nil, &syntaxError{Msg: pe.Message, Cursor: pe.Cursorpos}
	}
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	var tree struct {
		Stmts []parsed `json:"stmts"`
	}
	if err := json.Unmarshal([]byte(out), &tree); err != nil {
		return nil, fmt.Errorf("parse: reading the parse tree: %w", err)
	}
	return tree.Stmts, nil
}

// tagged returns the type and fields of a tagged node such as
// {"IndexStmt": {...}}.
func tagged(v any) (string, node) {
	n, _ := v.(node)
	if len(n) != 1 {
		return "", nil
	}
	for k, f := range n {
		if fn, ok := f.(node); ok && isTag(k) {
			return k, fn
		}
	}
	return "", nil
}

// sub returns the struct field key of n, unwrapping a tagged node.
func sub(n node, key string) node {
	v, _ := n[key].(node)
	if t, inner := tagged(v); t != "" {
		return inner
	}
	return v
}

// isTag reports whether k names a node type (they are capitalised) rather
// than a field.
func isTag(k string) bool { return k != "" && k[0] >= 'A' && k[0] <= 'Z' }

func str(n node, key string) string {
	s, _ := n[key].(string)
	return s
}

func flag(n node, key string) bool {
	b, _ := n[key].(bool)
	return b
}

func list(n node, key string) []any {
	l, _ := n[key].([]any)
	return l
}

// names returns the strings of a list of String nodes, such as a qualified
// name: [{"String":{"sval":"pg_catalog"}},{"String":{"sval":"int4"}}].
func names(l []any) []string {
	var out []string
	for _, v := range l {
		if t, f := tagged(v); t == "String" {
			out = append(out, str(f, "sval"))
		}
	}
	return out
}

// walk calls fn for every tagged node under v, depth first, fields in name
// order so that findings come out in the same order every time.
func walk(v any, fn func(tag string, n node)) {
	switch v := v.(type) {
	case node:
		if t, f := tagged(v); t != "" {
			fn(t, f)
			walk(f, fn)
			return
		}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			walk(v[k], fn)
		}
	case []any:
		for _, f := range v {
			walk(f, fn)
		}
	}
}
