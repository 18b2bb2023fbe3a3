package source

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestNextFileName(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		migName string
		want    string
		wantErr string
	}{
		{name: "empty directory", files: map[string]string{}, migName: "init", want: "001_init.sql"},
		{name: "three digits", files: map[string]string{"001_a.sql": "", "004_b.sql": ""}, migName: "add_orders", want: "005_add_orders.sql"},
		{name: "four digits", files: map[string]string{"0001_a.up.sql": "", "0001_a.down.sql": ""}, migName: "x", want: "0002_x.sql"},
		{name: "unpadded", files: map[string]string{"1_a.sql": "", "2_b.sql": ""}, migName: "x", want: "3_x.sql"},
		{name: "width of the newest file", files: map[string]string{"1_a.sql": "", "0002_b.sql": ""}, migName: "x", want: "0003_x.sql"},
		{name: "widest spelling of the newest version", files: map[string]string{"9_a.up.sql": "", "009_a.down.sql": ""}, migName: "x", want: "010_x.sql"},
		{name: "grows past the padding", files: map[string]string{"999_a.sql": ""}, migName: "x", want: "1000_x.sql"},
		{name: "timestamps", files: map[string]string{"20240101120000_a.sql": ""}, migName: "x", want: "20240101120001_x.sql"},
		{name: "ignores other files", files: map[string]string{"002_a.sql": "", "README.md": "", "notes.sql": "", "sub/900_z.sql": ""}, migName: "x", want: "003_x.sql"},
		{name: "spaces become underscores", files: map[string]string{}, migName: "  add  user\temail ", want: "001_add_user_email.sql"},
		{name: "dash allowed", files: map[string]string{}, migName: "add-Email2", want: "001_add-Email2.sql"},
		{name: "empty name", files: map[string]string{}, migName: " ", wantErr: "migration name is empty"},
		{name: "slash", files: map[string]string{}, migName: "a/b", wantErr: `'/' is not allowed`},
		{name: "dot dot", files: map[string]string{}, migName: "..", wantErr: `'.' is not allowed`},
		{name: "extension", files: map[string]string{}, migName: "x.sql", wantErr: `'.' is not allowed`},
		{name: "non-ASCII letter", files: map[string]string{}, migName: "café", wantErr: `'é' is not allowed`},
		{name: "last version", files: map[string]string{"9223372036854775807_a.sql": ""}, migName: "x", wantErr: "no version left"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NextFileName(mapFS(tc.files), tc.migName)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NextFileName = %q, %v; want %q", got, err, tc.want)
			}
			if _, err := parseFileName(got, false); err != nil {
				t.Errorf("the new name does not parse: %v", err)
			}
		})
	}
}

func TestNextFileNameMissingRoot(t *testing.T) {
	got, err := NextFileName(fstest.MapFS{"other/001_a.sql": {}}, "x")
	if err != nil || got != "001_x.sql" {
		t.Fatalf("NextFileName = %q, %v", got, err)
	}
}

func TestTemplateParses(t *testing.T) {
	migs, err := parseOne(t, "001_x.sql", Template())
	if err != nil {
		t.Fatal(err)
	}
	if migs.Down == nil || strings.TrimSpace(migs.Up.SQL) != "" {
		t.Errorf("template parses as %+v", migs)
	}
}

func parseOne(t *testing.T, name, body string) (Migration, error) {
	t.Helper()
	migs, err := FromFS(mapFS(map[string]string{name: body})).Migrations(t.Context())
	if err != nil {
		return Migration{}, err
	}
	return migs[0], nil
}
