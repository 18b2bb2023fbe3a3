package diff_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/diff"
	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/schema"
	"github.com/pgmig/pgmig/source"
)

// TestRealSets checks diff on real migration sets, the directories listed
// in PGMIG_DIFF_REALSETS (separated by ':'; they are public projects' files,
// so they are not in this repository). Each set is cut at a quarter, a
// half and three quarters of its migrations; the migrations before the
// cut are the source, the pg_dump of the schema one and five migrations
// later is the desired schema. Each case counts whether the plan was
// made, its up gave the desired dump, its down gave the current one, and
// lint found no error; the counts are logged.
func TestRealSets(t *testing.T) {
	sets := os.Getenv("PGMIG_DIFF_REALSETS")
	if sets == "" {
		t.Skip("PGMIG_DIFF_REALSETS names no real migration sets to check")
	}
	pgtest.RequirePgDump(t, "the real sets' desired schemas, written by pg_dump,")
	for _, dir := range strings.Split(sets, ":") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			migs, err := source.Dir(dir).Migrations(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			n := len(migs)
			var total, planned, up, down, clean int
			for _, frac := range []int{1, 2, 3} {
				k := n * frac / 4
				for _, step := range []int{1, 5} {
					k2 := min(k+step, n)
					if k2 <= k {
						continue
					}
					total++
					r := realCase(t, dir, migs, k, k2)
					if r.planned {
						planned++
					}
					if r.up {
						up++
					}
					if r.down {
						down++
					}
					if r.lint {
						clean++
					}
					t.Logf("%s: %d -> %d: planned %v, up %v, down %v, lint-clean %v %s", filepath.Base(dir), k, k2, r.planned, r.up, r.down, r.lint, r.note)
				}
			}
			t.Logf("%s (%d migrations): %d cases, %d planned, %d equal after up, %d equal after down, %d lint-clean",
				filepath.Base(dir), n, total, planned, up, down, clean)
			if up != total || down != total || clean != total {
				t.Errorf("%s: not every case held", filepath.Base(dir))
			}
		})
	}
}

type realResult struct {
	planned, up, down, lint bool
	note                    string
}

// subset is the files of dir that hold the first k migrations.
func subset(t *testing.T, dir string, migs []source.Migration, k int) fstest.MapFS {
	t.Helper()
	keep := map[string]bool{}
	for _, m := range migs[:k] {
		keep[m.Up.File] = true
		if m.Down != nil {
			keep[m.Down.File] = true
		}
	}
	out := fstest.MapFS{}
	for f := range keep {
		b, err := fs.ReadFile(os.DirFS(dir), f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = &fstest.MapFile{Data: b}
	}
	return out
}

// build applies the up sections of the migrations in files to a new
// database, each as one simple query, as psql -f would: real sets hold
// BEGIN and COMMIT of their own, which pgmig's runner refuses.
func build(t *testing.T, files fs.FS) (string, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	url := pgtest.NewDB(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	migs, err := source.FromFS(files).Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// What golang-migrate makes before the first migration; some sets
	// (Harbor's) use it.
	if _, err := pool.Exec(ctx, `CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range migs {
		if _, err := pool.Exec(ctx, m.Up.SQL); err != nil {
			t.Fatalf("build %s: %v", m.Up.File, err)
		}
	}
	return url, pool
}

func realDump(t *testing.T, url string) string {
	t.Helper()
	pgDump := pgtest.RequirePgDump(t, "the real sets' desired schemas, written by pg_dump,")
	out, err := exec.Command(pgDump, "--schema-only", "--exclude-table="+runner.DefaultTable, "-d", url).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	return dumpText(out)
}

func realCase(t *testing.T, dir string, migs []source.Migration, k, k2 int) (res realResult) {
	t.Helper()
	ctx := context.Background()
	curFiles := subset(t, dir, migs, k)
	urlA, a := build(t, curFiles)
	urlB, b := build(t, subset(t, dir, migs, k2))
	before, want := realDump(t, urlA), realDump(t, urlB)
	opts := schema.Options{Exclude: []string{runner.DefaultTable}}
	curCat, err := schema.Inspect(ctx, a, opts)
	if err != nil {
		t.Fatal(err)
	}
	desCat, err := schema.Inspect(ctx, b, opts)
	if err != nil {
		t.Fatal(err)
	}
	m, err := diff.Plan(curCat, desCat, diff.Options{AllowDestructive: true, Castable: diff.ServerCasts(ctx, b)})
	if err != nil {
		res.note = oneLine(err.Error())
		return res
	}
	res.planned = true
	file := m.File()
	mig := parseFile(t, file)
	all, err := source.FromFS(curFiles).Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mig.Version = all[len(all)-1].Version + 1
	res.lint = len(lintErrorsAfter(all, mig)) == 0
	if !res.lint {
		res.note += fmt.Sprintf("lint: %v; ", lintErrorsAfter(all, mig))
	}
	c := pgtest.Connect(t, urlA)
	if err := apply(t, c, mig.Up); err != nil {
		res.note += "up: " + oneLine(err.Error())
		return res
	}
	got := realDump(t, urlA)
	res.up = got == want
	if !res.up {
		res.note += "up differs: " + oneLine(lineDiff(got, want))
	}
	if err := apply(t, c, *mig.Down); err != nil {
		res.note += " down: " + oneLine(err.Error())
		return res
	}
	got = realDump(t, urlA)
	if len(m.DownReorders) > 0 {
		got, before = sortColumns(got), sortColumns(before)
	}
	res.down = got == before
	if !res.down {
		res.note += " down differs: " + oneLine(lineDiff(got, before))
	}
	return res
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}
