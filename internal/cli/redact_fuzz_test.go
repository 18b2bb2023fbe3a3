package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// Places a password can stand in a connection string as users pass one to
// pgmig, well-formed or not: each prefix ends where the password begins,
// each suffix begins where it ends. Every host is 127.0.0.1:1, where
// nothing listens, so a string that parses fails to connect at once.
var (
	cliSecretPrefixes = []struct {
		s  string
		kv bool // keyword/value form
	}{
		{s: "postgres://u:"}, {s: "postgresql://app:"}, {s: "Postgres://u:"}, {s: "mysql://u:"},
		{s: "mysql2://app:"}, {s: "postgres//u:"}, {s: "u:"}, {s: "postgres://127.0.0.1:1/app?password="},
		{s: "postgres://127.0.0.1:1/app?sslmode=disable&sslpassword="},
		{s: "host=127.0.0.1 port=1 password=", kv: true}, {s: "host=127.0.0.1 port=1 password='", kv: true},
		{s: "password = ", kv: true}, {s: "garbage password=", kv: true},
	}
	cliSecretSuffixes = []string{
		"@127.0.0.1:1/db", "@127.0.0.1:1/shop?sslmode=disable", "@127.0.0.1:1,127.0.0.1:2/db", "",
		" user=u", "' user=u", "&sslmode=disable", "@",
	}
)

// FuzzCLIRedaction passes connection-string-like inputs holding a known
// secret to the CLI, as --database-url and as PGMIG_DATABASE_URL, and
// asserts that nothing it prints (stdout and stderr, text with --verbose
// and JSON) holds three characters of the secret, save those that the same
// output shows when the secret is a single letter: text that was there
// anyway. The oracle is pgdb's FuzzRedactHidesSecret, one layer up: the
// CLI adds where the value came from and the target it names.
func FuzzCLIRedaction(f *testing.F) {
	for p := range cliSecretPrefixes {
		for s := range cliSecretSuffixes {
			f.Add(uint8(p), uint8(s), false, "hunter2")
		}
	}
	for _, secret := range []string{"S3cr@t/kEy9", "a#b/c?d", "p@ss:w/rd", "it's sec", `back\slash`, "with space", "x@y@z", "%40%2F%zz"} {
		f.Add(uint8(0), uint8(0), true, secret)
		f.Add(uint8(9), uint8(4), false, secret)
		f.Add(uint8(10), uint8(5), true, secret)
		f.Add(uint8(7), uint8(3), false, secret)
	}
	// Strings without a host fall back to the libpq defaults: keep them
	// away from the test server too.
	f.Setenv("PGHOST", "127.0.0.1")
	f.Setenv("PGPORT", "1")
	f.Fuzz(func(t *testing.T, p, s uint8, viaEnv bool, secret string) {
		prefix := cliSecretPrefixes[int(p)%len(cliSecretPrefixes)]
		suffix := cliSecretSuffixes[int(s)%len(cliSecretSuffixes)]
		if len(secret) < 3 || len(secret) > 64 {
			return
		}
		// Messages are mostly lower-case English: an upper-case secret
		// rarely meets its own letters in them by chance.
		secret = strings.ToUpper(secret)
		// As in pgdb's fuzz target: inputs where what follows the prefix
		// is not a password at all.
		if prefix.s == "u:" && strings.HasPrefix(secret, "//") {
			return
		}
		if strings.HasSuffix(prefix.s, ":") && !strings.Contains(suffix, "@") && (!(secret[0] >= 'A' && secret[0] <= 'Z') || strings.Contains(secret, "@")) {
			return
		}
		if strings.HasSuffix(prefix.s, "='") {
			secret = strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(secret)
		} else if prefix.kv {
			secret = strings.Map(func(r rune) rune {
				if strings.ContainsRune(" \t\n\r\f\v'", r) {
					return '_'
				}
				return r
			}, secret)
		}
		got := cliPrinted(t, prefix.s+secret+suffix, viaEnv)
		base := cliPrinted(t, prefix.s+"Q"+suffix, viaEnv)
		for k := 0; k+3 <= len(secret); k++ {
			w := secret[k : k+3]
			if !strings.ContainsAny(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") {
				continue
			}
			if strings.Contains(got, w) && !strings.Contains(base, w) {
				t.Fatalf("%q of the secret %q survives in\n%s", w, secret, got)
			}
		}
	})
}

// cliPrinted returns everything pgmig prints for `status` on connString,
// in text (verbose) and in JSON.
func cliPrinted(t *testing.T, connString string, viaEnv bool) string {
	var all strings.Builder
	for _, format := range []string{"text", "json"} {
		args := []string{"pgmig", "--format", format, "--connect-timeout", "20ms", "--source", "builtin"}
		if format == "text" {
			args = append(args, "--verbose")
		}
		if viaEnv {
			t.Setenv("PGMIG_DATABASE_URL", connString)
		} else {
			args = append(args, "--database-url", connString)
		}
		args = append(args, "status")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out, errOut bytes.Buffer
		code := Run(ctx, args, &out, &errOut)
		cancel()
		if code == 0 {
			t.Fatalf("status on %q (password redacted here by hand) succeeded", "…")
		}
		all.WriteString(out.String())
		all.WriteString(errOut.String())
	}
	return all.String()
}
