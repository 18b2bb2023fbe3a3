package lint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// parser is the process's one instance of libpg_query, made by the first
// parse and then reused: making one compiles or loads machine code, while
// a parse takes microseconds. The mutex also serialises parsing, as an
// instance runs one call at a time.
var parser struct {
	mu  sync.Mutex
	q   *pgQuery
	err error // why the parser could not be made; not retried
}

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

// parse parses sql with PostgreSQL's grammar, making the parser first if
// this process has none (see Options.CacheDir). The JSON form is used, not
// the protobuf one, to keep the protobuf runtime and its descriptors, which
// every command would initialise at start-up, out of the binary.
func parse(sql string, opts *Options) ([]parsed, error) {
	ctx := context.Background()
	parser.mu.Lock()
	if parser.q == nil && parser.err == nil {
		parser.q, parser.err = startParser(ctx, opts)
	}
	q, err := parser.q, parser.err
	var out string
	if err == nil {
		out, err = q.parseJSON(ctx, sql)
		var se *syntaxError
		if err != nil && !errors.As(err, &se) {
			// A trap (say, the module out of memory on a huge statement)
			// may leave the instance half way through a call: start
			// afresh for the next statement.
			_ = q.close(ctx)
			parser.q = nil
		}
	}
	parser.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var tree struct {
		Stmts []parsed `json:"stmts"`
	}
	if err := json.Unmarshal([]byte(out), &tree); err != nil {
		return nil, fmt.Errorf("parse: reading the parse tree: %w", err)
	}
	return tree.Stmts, nil
}

// startParser makes the parser, saying in the log how it got its code.
func startParser(ctx context.Context, opts *Options) (*pgQuery, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	began := time.Now()
	q, err := newPgQuery(ctx, opts.CacheDir)
	if err != nil {
		return nil, err
	}
	took := slog.Duration("duration", time.Since(began))
	switch q.use {
	case cacheNone:
		log.Debug("lint: parser compiled; no cache directory", took)
	case cacheLoaded:
		log.Debug("lint: parser loaded from the cache", "dir", opts.CacheDir, took)
	case cacheStored:
		log.Debug("lint: parser compiled and cached", "dir", opts.CacheDir, took)
	case cacheUnusable:
		log.Info("lint: parser cache unusable; compiled in memory", "dir", opts.CacheDir, "err", q.cacheErr, took)
	}
	return q, nil
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
