package runner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgmig/pgmig/source"
)

func TestParseServerVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"15.20 (Debian 15.20-1.pgdg120+1)", 150020},
		{"11.22", 110022},
		{"17beta1", 170000},
		{"9.6.24", 90624},
		{"", 0},
		{"x", 0},
	} {
		got, ok := parseServerVersion(tc.in)
		if got != tc.want || ok != (tc.want != 0) {
			t.Errorf("parseServerVersion(%q) = %d, %v; want %d", tc.in, got, ok, tc.want)
		}
	}
}

// TestOnServerDecidesAddValue: ALTER TYPE … ADD VALUE in a transactional
// section runs in its transaction from PostgreSQL 12 on; before, a Flyway
// file runs outside one (as Flyway does) and a pgmig file is refused with
// its file, line and fix. Servers older than 12 are not in the test
// matrix: this is the decision the runner makes for them.
func TestOnServerDecidesAddValue(t *testing.T) {
	ms, err := source.FromFSWith(fstest.MapFS{
		"001_mood.sql":      {Data: []byte("-- pgmig:up\nCREATE TYPE mood AS ENUM ('sad');\nALTER TYPE mood ADD VALUE 'happy';\n-- pgmig:down\nDROP TYPE mood;\n")},
		"V2__more_mood.sql": {Data: []byte("ALTER TYPE mood ADD VALUE 'ok';\nSELECT 1;\n")},
	}, source.Options{FlywayVersions: true}).Migrations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	on12, err := onServer(ms, 120000)
	if err != nil || on12[0].Up.NoTransaction || on12[1].Up.NoTransaction {
		t.Fatalf("on 12: %v; no-transaction %v %v, want both in a transaction", err, on12[0].Up.NoTransaction, on12[1].Up.NoTransaction)
	}
	on11, err := onServer(ms, 110009)
	var fe *source.FileError
	if !errors.As(err, &fe) || fe.File != "001_mood.sql" || fe.Line != 3 || !errors.Is(err, source.ErrInvalid) ||
		!strings.Contains(err.Error(), "PostgreSQL 11.9; from 12 on it can") {
		t.Fatalf("pgmig file on 11: %v, want a *FileError at 001_mood.sql:3", err)
	}
	if !on11[1].Up.NoTransaction || !strings.Contains(on11[1].Up.NoTransactionReason, "Flyway") {
		t.Errorf("Flyway file on 11: %+v, want it run outside a transaction, as Flyway does", on11[1].Up)
	}
	if ms[1].Up.NoTransaction {
		t.Error("onServer changed the source's migrations")
	}
}
