package connstr_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/internal/connstr"
)

// Whatever the form and whatever the values hold, pgx reads back what was
// set, and keeps what was not.
func TestWith(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		base string
		set  map[string]string
	}{
		{"url dbname", "postgres://u:p%40ss@db.example:6543/app?sslmode=disable", map[string]string{"dbname": "scratch_1"}},
		{"url dbname query", "postgres://u@h/app?dbname=other&sslmode=disable", map[string]string{"dbname": "x"}},
		{"url host port", "postgresql://u:pw@127.0.0.1:5432/app?sslmode=disable", map[string]string{"host": "127.0.0.1", "port": "6432"}},
		{"url port only", "postgres://u@localhost/app?sslmode=disable", map[string]string{"port": "7000"}},
		{"url ipv6", "postgres://u@[::1]:5432/app?sslmode=disable", map[string]string{"dbname": "d"}},
		{"url search_path", "postgres://u@h/app?sslmode=disable", map[string]string{"search_path": `"Tenant C", public`}},
		{"url plus and percent", "postgres://u@h/app?sslmode=disable", map[string]string{"search_path": `a+b%20c`}},
		{"keyword", "host=h port=5432 user=u password='p w' dbname=app sslmode=disable", map[string]string{"dbname": "scratch", "search_path": `it's \ "x"`}},
		{"keyword empty", "", map[string]string{"host": "127.0.0.1", "dbname": "d", "sslmode": "disable"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := connstr.With(tc.base, tc.set)
			if err != nil {
				t.Fatal(err)
			}
			before, err := pgconn.ParseConfig(tc.base)
			if err != nil {
				t.Fatal(err)
			}
			after, err := pgconn.ParseConfig(out)
			if err != nil {
				t.Fatalf("%q does not parse: %v", out, err)
			}
			for k, v := range tc.set {
				var have string
				switch k {
				case "dbname":
					have = after.Database
				case "host":
					have = after.Host
				case "port":
					have = strconv.Itoa(int(after.Port))
				case "sslmode":
					// Read into a TLS setting, not kept as a parameter.
					if have = "disable"; after.TLSConfig != nil || len(after.Fallbacks) > 0 {
						have = "not disable"
					}
				default:
					have = after.RuntimeParams[k]
				}
				if have != v {
					t.Errorf("%s: read back %q from %q, want %q", k, have, out, v)
				}
			}
			if _, ok := tc.set["dbname"]; !ok && after.Database != before.Database {
				t.Errorf("dbname changed: %q, was %q", after.Database, before.Database)
			}
			if after.User != before.User || after.Password != before.Password {
				t.Errorf("user/password changed: %q/%q, were %q/%q", after.User, after.Password, before.User, before.Password)
			}
		})
	}
}

func TestWithMalformed(t *testing.T) {
	t.Parallel()
	_, err := connstr.With("postgres://u:sec%zzret@h/db", map[string]string{"dbname": "x"})
	if !errors.Is(err, connstr.ErrMalformed) || strings.Contains(err.Error(), "sec") {
		t.Fatalf("got %v, want ErrMalformed without the string", err)
	}
}
