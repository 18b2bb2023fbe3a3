package lint

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cacheEntry returns the one compiled module under dir, failing unless
// there is exactly one.
func cacheEntry(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, moduleKey(), "wazero-*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("cache %s holds %d entries, want 1: %q", dir, len(files), files)
	}
	return files[0]
}

// usingParser makes q the process's parser for the rest of the test, so
// that Lint runs on it.
func usingParser(t *testing.T, q *pgQuery) {
	t.Helper()
	parser.mu.Lock()
	old := parser.q
	parser.q, parser.err = q, nil
	parser.mu.Unlock()
	t.Cleanup(func() {
		parser.mu.Lock()
		parser.q = old
		parser.mu.Unlock()
		_ = q.close(context.Background())
	})
}

// checkLints asserts that Lint, on the parser now in use, finds what it
// should: a rule on a parsed statement and a syntax error at the parser's
// position (the latter exercises the setjmp/longjmp host functions).
func checkLints(t *testing.T) {
	t.Helper()
	ms := load(t, map[string]string{
		"001_a.sql": "CREATE TABLE t (a int);\n",
		"002_b.sql": up("CREATE INDEX i ON t (a);\nSELECT 'é' FRM x;\n"),
	})
	got := format(Lint(ms, Options{DDLLockTimeout: time.Second}).Findings)
	want := "002_b.sql:2:1: error[index-not-concurrent]: CREATE INDEX on existing table \"t\" blocks writes for the whole build\n" +
		"002_b.sql:3:16: error[parse-error]: syntax error at or near \"x\"\n"
	if got != want {
		t.Errorf("findings:\n%s\nwant:\n%s", got, want)
	}
}

// TestParserCache follows one cache directory through the lives of four
// processes: the first compiles and stores, the next loads, one finds the
// entry corrupt and replaces it, and one cannot use the directory at all.
// Each still lints correctly. (Sequential: each step needs the last.)
func TestParserCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	stale := filepath.Join(dir, "libpg_query-00000000")
	if err := os.MkdirAll(filepath.Join(stale, "wazero-v0-amd64-linux"), 0o700); err != nil {
		t.Fatal(err)
	}
	unrelated := filepath.Join(dir, "other")
	if err := os.Mkdir(unrelated, 0o700); err != nil {
		t.Fatal(err)
	}

	var entry string
	var first os.FileInfo
	t.Run("first run compiles and stores", func(t *testing.T) {
		q, err := newPgQuery(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		usingParser(t, q)
		if q.use != cacheStored {
			t.Errorf("cache use %d, want stored (%d); err %v", q.use, cacheStored, q.cacheErr)
		}
		entry = cacheEntry(t, dir)
		if first, err = os.Stat(entry); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("another build's cache %s was kept (%v)", stale, err)
		}
		if _, err := os.Stat(unrelated); err != nil {
			t.Errorf("a directory that is not a parser cache was touched: %v", err)
		}
		checkLints(t)
	})
	if t.Failed() {
		return
	}

	t.Run("next run loads the stored code", func(t *testing.T) {
		q, err := newPgQuery(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		usingParser(t, q)
		if q.use != cacheLoaded {
			t.Errorf("cache use %d, want loaded (%d); err %v", q.use, cacheLoaded, q.cacheErr)
		}
		// wazero writes an entry only after compiling, always to a new
		// file renamed into place: the same file means nothing compiled.
		now, err := os.Stat(cacheEntry(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(first, now) || !now.ModTime().Equal(first.ModTime()) {
			t.Errorf("the cache entry was rewritten: the parser was compiled again")
		}
		checkLints(t)
	})

	t.Run("a corrupt entry is compiled again and replaced", func(t *testing.T) {
		// One flipped byte in the code, as a torn write or a bad disk
		// leaves it: wazero's checksum refuses the entry.
		data, err := os.ReadFile(entry)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		if err := os.WriteFile(entry, data, 0o600); err != nil {
			t.Fatal(err)
		}
		corrupt, err := os.Stat(entry)
		if err != nil {
			t.Fatal(err)
		}
		q, err := newPgQuery(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		usingParser(t, q)
		if q.use != cacheStored {
			t.Errorf("cache use %d, want stored (%d); err %v", q.use, cacheStored, q.cacheErr)
		}
		now, err := os.Stat(cacheEntry(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		if os.SameFile(corrupt, now) {
			t.Errorf("the corrupt entry was kept")
		}
		checkLints(t)
	})

	t.Run("an unusable directory compiles in memory", func(t *testing.T) {
		// A directory under a regular file cannot be made, even by root,
		// as the tests may run.
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		q, err := newPgQuery(ctx, filepath.Join(file, "pgmig"))
		if err != nil {
			t.Fatal(err)
		}
		usingParser(t, q)
		if q.use != cacheUnusable || q.cacheErr == nil || !strings.Contains(q.cacheErr.Error(), file) {
			t.Errorf("cache use %d with error %v, want unusable (%d) naming %s", q.use, q.cacheErr, cacheUnusable, file)
		}
		checkLints(t)
	})
}

// BenchmarkParserStart is a warm start: making the parser from a cache
// entry, as every lint after the first does. Compare with
// BenchmarkParserCompile, a start with no cache.
func BenchmarkParserStart(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	q, err := newPgQuery(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	q.close(ctx)
	b.ResetTimer()
	for b.Loop() {
		q, err := newPgQuery(ctx, dir)
		if err != nil {
			b.Fatal(err)
		}
		if q.use != cacheLoaded {
			b.Fatalf("cache use %d, want loaded", q.use)
		}
		q.close(ctx)
	}
}

// BenchmarkParserCompile is a cold start, compiling in memory.
func BenchmarkParserCompile(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		q, err := newPgQuery(ctx, "")
		if err != nil {
			b.Fatal(err)
		}
		q.close(ctx)
	}
}
