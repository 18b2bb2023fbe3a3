package schema

import (
	"errors"
	"strings"
	"testing"
)

// TestSQLFor: every major from 13 to 18 gets its queries, each reading the
// columns that major has; older and newer servers are refused with a
// *ServerVersionError that names the supported range and the server. The
// queries themselves run on every major in scripts/matrix.sh.
func TestSQLFor(t *testing.T) {
	for _, tc := range []struct {
		server                                 int
		compression, locale, rules, multirange string
	}{
		{130023, "''", "NULL", "NULL", ""},
		{140020, "a.attcompression", "NULL", "NULL", "rngmultitypid"},
		{150014, "a.attcompression", "co.colliculocale", "NULL", "rngmultitypid"},
		{160010, "a.attcompression", "co.colliculocale", "co.collicurules", "rngmultitypid"},
		{170006, "a.attcompression", "co.colllocale", "co.collicurules", "rngmultitypid"},
		{180004, "a.attcompression", "co.colllocale", "co.collicurules", "rngmultitypid"},
	} {
		v, err := sqlFor(tc.server)
		if err != nil {
			t.Fatalf("%d: %v", tc.server, err)
		}
		if !strings.Contains(v.compression, tc.compression) || v.collLocale != tc.locale || v.collRules != tc.rules || !strings.Contains(v.multirangeAlias, tc.multirange) ||
			tc.multirange == "" && v.multirangeAlias != "" {
			t.Errorf("%d: %+v", tc.server, v)
		}
	}
	for server, want := range map[int]string{120022: "this server is 12.22", 190000: "this server is 19.0", 90624: "this server is 9.6.24"} {
		_, err := sqlFor(server)
		var ve *ServerVersionError
		if !errors.As(err, &ve) || ve.Server != server {
			t.Fatalf("%d: want a *ServerVersionError, got %v", server, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "needs PostgreSQL 13 to 18") || !strings.Contains(msg, want) {
			t.Errorf("%d: %q", server, msg)
		}
	}
}
