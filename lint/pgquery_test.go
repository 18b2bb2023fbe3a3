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

// startAs makes a parser on cacheDir, as a new process would, checks
// how it got its code, and makes it the process's parser for the rest of
// the test, so that Lint runs on it.
func startAs(t *testing.T, cacheDir string, want cacheUse) *pgQuery {
	t.Helper()
	q, err := newPgQuery(context.Background(), cacheDir)
	if err != nil {
		t.Fatal(err)
	}
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
	if q.use != want {
		t.Errorf("cache use %d, want %d; cache error: %v", q.use, want, q.cacheErr)
	}
	return q
}

// stat is os.Stat, failing the test on error.
func stat(t *testing.T, name string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi
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
		startAs(t, dir, cacheStored)
		entry = cacheEntry(t, dir)
		first = stat(t, entry)
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
		startAs(t, dir, cacheLoaded)
		// wazero writes an entry only after compiling, always to a new
		// file renamed into place: the same file means nothing compiled.
		if now := stat(t, cacheEntry(t, dir)); !os.SameFile(first, now) || !now.ModTime().Equal(first.ModTime()) {
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
		corrupt := stat(t, entry)
		startAs(t, dir, cacheStored)
		if os.SameFile(corrupt, stat(t, cacheEntry(t, dir))) {
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
		q := startAs(t, filepath.Join(file, "pgmig"), cacheUnusable)
		if q.cacheErr == nil || !strings.Contains(q.cacheErr.Error(), file) {
			t.Errorf("cache error %v, want one naming %s", q.cacheErr, file)
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
