package lint

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	_ "unsafe" // go:linkname, for the parser's WebAssembly module

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/wasilibs/wazero-helpers/allocator"

	// The module holding libpg_query's WebAssembly build, linked in for
	// libPGQuery below.
	_ "github.com/wasilibs/go-pgquery/parser"
)

// libPGQuery is libpg_query (PostgreSQL's own parser) compiled to
// WebAssembly, as go-pgquery embeds it. go-pgquery runs it only through a
// runtime of its own that compiles the module anew in every process
// (a second or more of CPU and some 250 MB); running it here lets the
// compiled code be kept on disk between processes. The grammar stays the
// one go.sum pins: if go-pgquery ever moves the variable, the build fails
// at link time rather than linting with something else.
//
//go:linkname libPGQuery github.com/wasilibs/go-pgquery/internal/wasm.LibPGQuery
var libPGQuery []byte

// moduleKey names the cache directory of this build of the parser after a
// checksum of its module, so that old builds' directories can be told
// apart and removed. (wazero keys each entry by the module's SHA-256
// besides: a pgmig with another libpg_query never loads foreign code.
// CRC-32C because it takes a fraction of a millisecond, where a second
// SHA-256 of the 2 MB module would cost a few on every start.)
func moduleKey() string {
	return fmt.Sprintf("libpg_query-%08x", crc32.Checksum(libPGQuery, crc32.MakeTable(crc32.Castagnoli)))
}

// cacheUse says how a pgQuery got its compiled code.
type cacheUse int

const (
	cacheNone     cacheUse = iota // no cache directory was given
	cacheLoaded                   // read from the cache directory
	cacheStored                   // compiled, and written to the cache directory
	cacheUnusable                 // compiled in memory: the directory could not be used
)

// pgQuery is one instance of libpg_query in a wazero runtime. It is not
// safe for concurrent use.
type pgQuery struct {
	rt  wazero.Runtime
	mod api.Module
	mem api.Memory

	malloc, free, parse, freeParse api.Function

	// checkpoints are the setjmp points of the call in progress (see
	// stackCheckpoint); libpg_query reports a syntax error by longjmp.
	checkpoints []checkpoint
	use         cacheUse
	cacheErr    error // why the cache directory was not used
}

// newPgQuery compiles and starts libpg_query. With cacheDir set, the
// compiled code is read from it or, the first time, written to it, so that
// later processes skip the compilation; a directory that cannot be created,
// read or written costs only that: the module is then compiled in memory.
func newPgQuery(ctx context.Context, cacheDir string) (*pgQuery, error) {
	q := &pgQuery{}
	// Compiling is the slow part of a cold start, and its functions are
	// independent: use every core the process may.
	ctx = experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0))
	code, err := q.compile(ctx, cacheDir)
	if err != nil {
		return nil, err
	}
	// The module's memory is shared (it is built with threads), which
	// wazero allocates at its maximum size; the non-moving allocator only
	// reserves that address space, and commits pages as the module grows.
	ctx = experimental.WithMemoryAllocator(ctx, allocator.NewNonMoving())
	// No stdout or stderr: libpg_query writes nothing useful there, and the
	// linter never prints.
	cfg := wazero.NewModuleConfig().WithSysNanotime().WithStartFunctions("_initialize")
	mod, err := q.rt.InstantiateModule(ctx, code, cfg)
	if err != nil {
		_ = q.rt.Close(ctx)
		return nil, fmt.Errorf("start the parser: %w", err)
	}
	q.mod, q.mem = mod, mod.Memory()
	fns := map[string]*api.Function{
		"malloc": &q.malloc, "free": &q.free,
		"pg_query_parse": &q.parse, "pg_query_free_parse_result": &q.freeParse,
	}
	for name, f := range fns {
		if *f = mod.ExportedFunction(name); *f == nil {
			_ = q.rt.Close(ctx)
			return nil, fmt.Errorf("start the parser: libpg_query exports no %s", name)
		}
	}
	init := mod.ExportedFunction("pg_query_init")
	if init == nil {
		_ = q.rt.Close(ctx)
		return nil, fmt.Errorf("start the parser: libpg_query exports no pg_query_init")
	}
	if _, err := init.Call(ctx); err != nil {
		_ = q.rt.Close(ctx)
		return nil, fmt.Errorf("start the parser: %w", err)
	}
	return q, nil
}

// compile makes q's runtime and compiles the module in it, through the
// cache in dir when it can.
func (q *pgQuery) compile(ctx context.Context, dir string) (wazero.CompiledModule, error) {
	if dir == "" {
		q.use = cacheNone
		return q.compileIn(ctx, nil)
	}
	dir = filepath.Join(dir, moduleKey())
	if code := q.compileCached(ctx, dir); code != nil {
		if q.use != cacheUnusable {
			pruneSiblings(dir)
		}
		return code, nil
	}
	return q.compileIn(ctx, nil)
}

// compileCached compiles through the cache in dir, setting q.use, or
// returns nil with q.cacheErr saying why it could not. wazero reads an
// entry if there is one, else compiles and writes one (to a temporary file
// renamed into place, so concurrent processes each see a whole entry or
// none).
func (q *pgQuery) compileCached(ctx context.Context, dir string) wazero.CompiledModule {
	q.use = cacheUnusable
	before := cacheEntries(dir)
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		q.cacheErr = fmt.Errorf("parser cache %s: %w", dir, err)
		return nil
	}
	code, err := q.compileIn(ctx, cache)
	if err == nil {
		// Stored also when wazero found an entry of another wazero
		// version, which it deletes and compiles again.
		q.use = cacheLoaded
		if wrote(before, cacheEntries(dir)) {
			q.use = cacheStored
		}
		return code
	}
	q.cacheErr = fmt.Errorf("parser cache %s: %w", dir, err)
	// When only writing the entry failed (a directory another user owns,
	// a full disk), wazero still holds what it compiled in memory, and
	// returns it at once.
	if code, err := q.rt.CompileModule(ctx, libPGQuery); err == nil {
		return code
	}
	_ = q.rt.Close(ctx)
	// An entry that does not decode (a torn or foreign file; wazero checks
	// a checksum of the code) makes wazero fail rather than compile.
	// Remove this build's directory and compile once more through a fresh
	// one, which also writes a good entry for the next process.
	if err := os.RemoveAll(dir); err != nil {
		return nil
	}
	if cache, err = wazero.NewCompilationCacheWithDir(dir); err != nil {
		q.cacheErr = fmt.Errorf("parser cache %s: %w", dir, err)
		return nil
	}
	if code, err = q.compileIn(ctx, cache); err != nil {
		_ = q.rt.Close(ctx)
		q.cacheErr = fmt.Errorf("parser cache %s: %w", dir, err)
		return nil
	}
	q.use, q.cacheErr = cacheStored, nil
	return code
}

// compileIn makes q.rt, with the host modules libpg_query imports, and
// compiles the module in it.
func (q *pgQuery) compileIn(ctx context.Context, cache wazero.CompilationCache) (wazero.CompiledModule, error) {
	// Without debug info, wazero neither decodes the module's DWARF nor
	// keeps a source map, which it would read back from the cache 8 bytes
	// per read() (half a million system calls, most of a warm start). It
	// only named C functions in the stack trace of a trap.
	cfg := wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesThreads).
		WithDebugInfoEnabled(false)
	if cache != nil {
		cfg = cfg.WithCompilationCache(cache)
	}
	q.rt = wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, q.rt); err != nil {
		_ = q.rt.Close(ctx)
		return nil, fmt.Errorf("start the parser: %w", err)
	}
	if err := q.instantiateWASIX(ctx); err != nil {
		_ = q.rt.Close(ctx)
		return nil, fmt.Errorf("start the parser: %w", err)
	}
	code, err := q.rt.CompileModule(ctx, libPGQuery)
	if err != nil {
		return nil, fmt.Errorf("compile the parser: %w", err)
	}
	return code, nil
}

// cacheEntries lists the compiled modules under dir (wazero keeps them
// one level down), to tell afterwards whether one was written.
func cacheEntries(dir string) map[string]os.FileInfo {
	files, _ := filepath.Glob(filepath.Join(dir, "wazero-*", "*"))
	out := map[string]os.FileInfo{}
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() && !strings.HasSuffix(f, ".tmp") {
			out[f] = fi
		}
	}
	return out
}

// wrote reports whether an entry in after is not one of before: wazero
// writes an entry only once it has compiled, always as a new file renamed
// into place.
func wrote(before, after map[string]os.FileInfo) bool {
	for f, fi := range after {
		if old, ok := before[f]; !ok || !os.SameFile(old, fi) || !old.ModTime().Equal(fi.ModTime()) {
			return true
		}
	}
	return false
}

// pruneSiblings removes the cache directories of other builds of the
// parser: after an upgrade they are never read again. Best effort; a
// process of the old build still running has its code in memory.
func pruneSiblings(dir string) {
	parent, self := filepath.Split(dir)
	subs, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, s := range subs {
		if s.IsDir() && s.Name() != self && strings.HasPrefix(s.Name(), "libpg_query-") {
			_ = os.RemoveAll(filepath.Join(parent, s.Name()))
		}
	}
}

// parseJSON parses sql and returns libpg_query's JSON parse tree, or a
// *syntaxError.
func (q *pgQuery) parseJSON(ctx context.Context, sql string) (string, error) {
	ctx = experimental.WithSnapshotter(ctx)
	q.checkpoints = q.checkpoints[:0]

	in, err := q.cString(ctx, sql)
	if err != nil {
		return "", err
	}
	defer q.call(ctx, q.free, in) //nolint:errcheck // freeing cannot fail in a way we could act on
	// struct PgQueryParseResult { char *parse_tree; char *stderr_buffer; PgQueryError *error; }
	res, err := q.call(ctx, q.malloc, 12)
	if err != nil {
		return "", err
	}
	defer q.call(ctx, q.free, res) //nolint:errcheck
	if _, err := q.call(ctx, q.parse, res, in); err != nil {
		return "", err
	}
	defer q.call(ctx, q.freeParse, res) //nolint:errcheck
	buf, ok := q.mem.Read(uint32(res), 12)
	if !ok {
		return "", errMemory
	}
	if e := binary.LittleEndian.Uint32(buf[8:]); e != 0 {
		// struct PgQueryError { char *message; char *funcname; char *filename; int lineno; int cursorpos; char *context; }
		msg, err := q.cStringAt(e)
		if err != nil {
			return "", err
		}
		cursor, ok := q.mem.ReadUint32Le(e + 16)
		if !ok {
			return "", errMemory
		}
		return "", &syntaxError{Msg: msg, Cursor: int(cursor)}
	}
	return q.cStringAt(uint32(res))
}

var errMemory = errors.New("parse: address outside the parser's memory")

// call calls f, one result.
func (q *pgQuery) call(ctx context.Context, f api.Function, args ...uint64) (uint64, error) {
	out, err := f.Call(ctx, args...)
	if err != nil {
		return 0, fmt.Errorf("parse: %w", err)
	}
	if len(out) == 0 {
		return 0, nil
	}
	return out[0], nil
}

// cString copies s into the module's memory, NUL-terminated.
func (q *pgQuery) cString(ctx context.Context, s string) (uint64, error) {
	p, err := q.call(ctx, q.malloc, uint64(len(s))+1)
	if err != nil {
		return 0, err
	}
	if p == 0 {
		return 0, fmt.Errorf("parse: a statement of %d bytes does not fit in the parser's memory", len(s))
	}
	if !q.mem.WriteString(uint32(p), s) || !q.mem.WriteByte(uint32(p)+uint32(len(s)), 0) {
		return 0, errMemory
	}
	return p, nil
}

// cStringAt reads the NUL-terminated string whose address is at ptrptr.
func (q *pgQuery) cStringAt(ptrptr uint32) (string, error) {
	p, ok := q.mem.ReadUint32Le(ptrptr)
	if !ok {
		return "", errMemory
	}
	if p == 0 {
		return "", nil
	}
	size := q.mem.Size()
	if p >= size {
		return "", errMemory
	}
	all, _ := q.mem.Read(p, size-p)
	n := bytes.IndexByte(all, 0)
	if n < 0 {
		return "", errMemory
	}
	return string(all[:n]), nil
}

// close frees the runtime and its memory.
func (q *pgQuery) close(ctx context.Context) error { return q.rt.Close(ctx) }
