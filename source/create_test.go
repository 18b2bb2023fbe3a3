package source

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestNewMigration(t *testing.T) {
	now := time.Date(2026, 12, 3, 11, 5, 9, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name    string
		files   []string
		migName string
		opts    CreateOptions
		want    []string
		wantErr string
	}{
		{name: "empty directory", migName: "init", want: []string{"001_init.sql"}},
		{name: "three digits", files: []string{"001_a.sql", "004_b.sql"}, migName: "add_orders", want: []string{"005_add_orders.sql"}},
		{name: "pairs give a pair", files: []string{"0001_a.up.sql", "0001_a.down.sql"}, migName: "x", want: []string{"0002_x.up.sql", "0002_x.down.sql"}},
		{name: "golang-migrate pairs", files: []string{"1_a.up.sql", "1_a.down.sql", "2_b.up.sql"}, migName: "x", want: []string{"3_x.up.sql", "3_x.down.sql"}},
		{name: "unpadded", files: []string{"1_a.sql", "2_b.sql"}, migName: "x", want: []string{"3_x.sql"}},
		{name: "width of the newest file", files: []string{"1_a.sql", "0002_b.sql"}, migName: "x", want: []string{"0003_x.sql"}},
		{name: "widest spelling of the newest version", files: []string{"9_a.sql", "009_b.sql"}, migName: "x", want: []string{"010_x.sql"}},
		{name: "style of the newest file", files: []string{"001_a.up.sql", "002_b.sql"}, migName: "x", want: []string{"003_x.sql"}},
		{name: "grows past the padding", files: []string{"999_a.sql"}, migName: "x", want: []string{"1000_x.sql"}},
		{name: "timestamps give the UTC time", files: []string{"20240101120000_a.sql"}, migName: "x", want: []string{"20261203100509_x.sql"}},
		{name: "timestamped pairs", files: []string{"20240101120000_a.up.sql", "20240101120000_a.down.sql"}, migName: "x", want: []string{"20261203100509_x.up.sql", "20261203100509_x.down.sql"}},
		{name: "a timestamp never sorts before the newest", files: []string{"20261203100509_a.sql"}, migName: "x", want: []string{"20261203100510_x.sql"}},
		{name: "14 digits that are no time", files: []string{"99999999999999_a.sql"}, migName: "x", want: []string{"100000000000000_x.sql"}},
		{name: "--timestamp", files: []string{"001_a.sql"}, migName: "x", opts: CreateOptions{Timestamp: true}, want: []string{"20261203100509_x.sql"}},
		{name: "--sequential in a timestamped directory", files: []string{"20240101120000_a.sql"}, migName: "x", opts: CreateOptions{Sequential: true}, want: []string{"20240101120001_x.sql"}},
		{name: "Flyway", files: []string{"V1__init.sql", "V2__users.sql", "U2__users.sql", "R__views.sql"}, migName: "next", want: []string{"V3__next.sql"}},
		{name: "Flyway dotted", files: []string{"V1.2__a.sql", "V1.10__b.sql"}, migName: "x", want: []string{"V2__x.sql"}},
		{name: "Flyway underscore dots", files: []string{"V1_1__a.sql"}, migName: "x", want: []string{"V2__x.sql"}},
		{name: "ignores other files", files: []string{"002_a.sql", "README.md", "notes.sql", "sub/900_z.sql"}, migName: "x", want: []string{"003_x.sql"}},
		{name: "spaces become underscores", migName: "  add  user\temail ", want: []string{"001_add_user_email.sql"}},
		{name: "dash allowed", migName: "add-Email2", want: []string{"001_add-Email2.sql"}},
		{name: "empty name", migName: " ", wantErr: "migration name is empty"},
		{name: "slash", migName: "a/b", wantErr: `'/' is not allowed`},
		{name: "dot dot", migName: "..", wantErr: `'.' is not allowed`},
		{name: "extension", migName: "x.sql", wantErr: `'.' is not allowed`},
		{name: "non-ASCII letter", migName: "café", wantErr: `'é' is not allowed`},
		{name: "both numberings", migName: "x", opts: CreateOptions{Timestamp: true, Sequential: true}, wantErr: "choose one"},
		{name: "last version", files: []string{"9223372036854775807_a.sql"}, migName: "x", wantErr: "no version left"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tc.files {
				fsys[f] = &fstest.MapFile{}
			}
			if tc.opts.Now.IsZero() {
				tc.opts.Now = now
			}
			files, err := NewMigration(fsys, tc.migName, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			var got []string
			for _, f := range files {
				got = append(got, f.Name)
				if _, err := parseFileName(f.Name, flywayExt{}); err != nil {
					t.Errorf("the new name %s does not parse: %v", f.Name, err)
				}
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("NewMigration = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestNewMigrationsRead: what NewMigration writes next to the files that
// gave it its style reads back as one more migration.
func TestNewMigrationsRead(t *testing.T) {
	for _, existing := range [][]string{{"001_a.sql"}, {"1_a.up.sql", "1_a.down.sql"}, {"V1__a.sql"}, {"20240101120000_a.sql"}} {
		fsys := fstest.MapFS{}
		for _, f := range existing {
			fsys[f] = &fstest.MapFile{Data: []byte("SELECT 1;\n")}
		}
		files, err := NewMigration(fsys, "next", CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			fsys[f.Name] = &fstest.MapFile{Data: []byte(f.Body)}
		}
		ms, err := FromFS(fsys).Migrations(t.Context())
		if err != nil || len(ms) != 2 || ms[1].Name != "next" {
			t.Errorf("%v + %v: read %d migrations, %v", existing, files, len(ms), err)
		}
	}
}

func TestNewMigrationMissingRoot(t *testing.T) {
	got, err := NextFileName(fstest.MapFS{"other/001_a.sql": {}}, "x")
	if err != nil || got != "001_x.sql" {
		t.Fatalf("NextFileName = %q, %v", got, err)
	}
}

func TestTemplateParses(t *testing.T) {
	m := migrations(t, FromFS(mapFS(map[string]string{"001_x.sql": Template()})))[0]
	if m.Down == nil || strings.TrimSpace(m.Up.SQL) != "" {
		t.Errorf("template parses as %+v", m)
	}
}
