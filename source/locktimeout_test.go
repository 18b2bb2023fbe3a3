package source

import (
	"testing"
	"testing/fstest"
	"time"
)

func TestLockTimeoutDirective(t *testing.T) {
	fsys := fstest.MapFS{
		"001_a.sql": {Data: []byte("-- pgmig:up\n-- pgmig:lock-timeout 2s\nALTER TABLE a ADD COLUMN b int;\n-- pgmig:down\nALTER TABLE a DROP COLUMN b;\n")},
		"002_b.sql": {Data: []byte("-- pgmig:lock-timeout 750ms\n-- pgmig:up\nSELECT 1;\n-- pgmig:down\nSELECT 2;\n")},
	}
	ms := migrations(t, FromFS(fsys))
	if got := ms[0].Up.LockTimeout; got != 2*time.Second {
		t.Errorf("001 up lock timeout %s, want 2s", got)
	}
	if got := ms[0].Down.LockTimeout; got != 0 {
		t.Errorf("001 down lock timeout %s, want none: the directive governs its own section", got)
	}
	if ms[1].Up.LockTimeout != 750*time.Millisecond || ms[1].Down.LockTimeout != 750*time.Millisecond {
		t.Errorf("002 header directive: up %s, down %s, want 750ms for both", ms[1].Up.LockTimeout, ms[1].Down.LockTimeout)
	}
}
