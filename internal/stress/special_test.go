package stress

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// special is a kind of entry put where a migration file belongs.
type special struct {
	name string
	kind string // as the error names it
	make func(path string) error
}

var specials = []special{
	{"fifo", "a named pipe (FIFO)", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
	{"link to /dev/zero", "a symbolic link to a character device", func(p string) error { return os.Symlink("/dev/zero", p) }},
	{"link to /dev/null", "a symbolic link to a character device", func(p string) error { return os.Symlink("/dev/null", p) }},
	{"link to a fifo", "a symbolic link to a named pipe (FIFO)", func(p string) error {
		fifo := p + ".pipe"
		if err := syscall.Mkfifo(fifo, 0o644); err != nil {
			return err
		}
		return os.Symlink(filepath.Base(fifo), p)
	}},
}

// TestStressSpecialFiles puts a FIFO, a link to a device or a link to a
// FIFO where a migration file belongs (in place of an applied one, or as
// the next pending one) and runs validate, status, up or lint on the
// directory. Each run must end by itself within the trial's limit (a FIFO
// used to hang validate past SIGTERM, /dev/zero to eat all memory), exit
// 3 naming the file, and leave the database as it was. Trials:
// PGMIG_STRESS_SPECIAL_TRIALS, default 16 (every kind with every command,
// once).
func TestStressSpecialFiles(t *testing.T) {
	t.Parallel()
	rng, seed := newRand(t)
	trials := envCount(t, "PGMIG_STRESS_SPECIAL_TRIALS", len(specials)*4) * scale(t)
	commands := []string{"validate", "status", "up", "lint"}
	ms := []mig{{V: 1}, {V: 2}, {V: 3}}
	tg := newTarget(t, ms)
	c := connect(t, tg.url)
	tg.mustRun(0, "up", "--to", "2")
	before, ps := check(c, ms)
	if len(ps) > 0 || !slices.Equal(before.applied, []int{1, 2}) {
		t.Fatalf("setup: applied %v, problems %v", before.applied, ps)
	}

	failures := 0
	var longest time.Duration
	for i := range trials {
		sp := specials[i%len(specials)]
		cmd := commands[(i/len(specials))%len(commands)]
		// In place of applied 002, or as pending 004.
		v := 2 + 2*rng.IntN(2)
		file := fmt.Sprintf("%03d_stress_%03d.sql", v, v)
		path := filepath.Join(tg.src, file)
		saved, _ := os.ReadFile(path)
		os.Remove(path)
		if err := sp.make(path); err != nil {
			t.Fatalf("make %s: %v", sp.name, err)
		}
		r := tg.start(cmd).wait(t, 30*time.Second)
		longest = max(longest, r.dur)
		var problems []string
		if r.code != 3 {
			problems = append(problems, fmt.Sprintf("want exit 3, got %d", r.code))
		}
		if want := file + ": is " + sp.kind + ", not a regular file"; !strings.Contains(r.stderr, want) {
			problems = append(problems, fmt.Sprintf("stderr does not say %q", want))
		}
		after, ps := check(c, ms)
		problems = append(problems, ps...)
		if !slices.Equal(after.applied, before.applied) || len(after.dirty) > 0 {
			problems = append(problems, fmt.Sprintf("the database changed: applied %v, dirty %v", after.applied, after.dirty))
		}
		if len(problems) > 0 {
			failures++
			t.Errorf("trial %d: %s as %s, pgmig %s: %s\n%s", i, sp.name, file, cmd, strings.Join(problems, "; "), r)
		}
		os.Remove(path)
		os.Remove(path + ".pipe")
		if saved != nil {
			if err := os.WriteFile(path, saved, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	summary(t, "special-files", trials, failures, seed,
		fmt.Sprintf("%d kinds x validate, status, up, lint; longest run %s", len(specials), longest.Round(time.Millisecond)))
}
