package check_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgmig/pgmig/check"
	"github.com/pgmig/pgmig/internal/pgtest"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// dottedFiles is a Flyway set with dotted versions whose int64 Version is
// 0 for all but the whole ones: drift and verify must tell them apart.
func dottedFiles() source.Source {
	files := fstest.MapFS{}
	for _, f := range [][2]string{{"1", "a"}, {"1.1", "b"}, {"1.2", "c"}, {"1.10", "d"}} {
		files["V"+f[0]+"__"+f[1]+".sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE " + f[1] + " (id int);\n")}
		files["U"+f[0]+"__"+f[1]+".sql"] = &fstest.MapFile{Data: []byte("DROP TABLE " + f[1] + ";\n")}
	}
	return source.FromFSWith(files, source.Options{FlywayVersions: true})
}

func TestDriftAndVerifyWithDottedVersions(t *testing.T) {
	t.Parallel()
	pool := open(t, pgtest.NewDB(t))
	src := dottedFiles()
	up(t, pool, src, runner.Options{}, runner.UpOptions{})
	rep, err := check.Drift(context.Background(), pool, src, check.DriftOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Drifted() || rep.Applied != 4 || rep.Current != nil || rep.CurrentVer.String() != "1.10" {
		t.Errorf("drift %+v, want no drift, 4 applied, up to 1.10", rep)
	}
	exec(t, pool, "DROP TABLE c")
	if rep, err = check.Drift(context.Background(), pool, src, check.DriftOptions{}); err != nil || !rep.Drifted() || !strings.Contains(rep.Diff, "migrations up to 1.10") {
		t.Errorf("drift after dropping 1.2's table: %+v, %v", rep, err)
	}

	vr, err := check.Verify(context.Background(), open(t, pgtest.NewDB(t)), src, check.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vr.Verified {
		got = append(got, v.Ver.String())
	}
	if strings.Join(got, ",") != "1,1.1,1.2,1.10" {
		t.Errorf("verified %v, want 1,1.1,1.2,1.10", got)
	}
}
