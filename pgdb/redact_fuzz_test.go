package pgdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Places a password can stand in a connection string, well-formed or not:
// each prefix ends where the password begins, each suffix begins where it
// ends. The schemes are ones users really pass by mistake.
var (
	secretPrefixes = []string{
		"postgres://u:", "postgresql://app:", "Postgres://u:", "mysql://u:", "mysql2://app:",
		"postgres//u:", "u:", "postgres://u:", "postgres://db/app?sslmode=disable&password=",
		"postgres://db/app?password=", "postgres://db/app?sslpassword=", "host=h user=u password=",
		"host=h password='", "password = ", "dbname=app sslpassword=", "garbage password=",
		"x=postgres://u:", " postgres://u:",
	}
	secretSuffixes = []string{
		"@h/db", "@db:5432/shop?sslmode=disable", "@127.0.0.1:1,127.0.0.1:2/db", "", " user=u",
		"' user=u", "@h/db?application_name=x", "&sslmode=disable", "@",
	}
)

// FuzzRedactHidesSecret feeds connection-string-like inputs holding a known
// secret through every path of this package that can print one (Redact,
// Open's errors for a string that cannot be parsed and for a server that
// cannot be reached, with %v, %+v, %#v and slog) and asserts that no three
// characters of the secret survive, save those that the same output shows
// when the secret is a single letter: text that was there anyway.
func FuzzRedactHidesSecret(f *testing.F) {
	for p := range secretPrefixes {
		for s := range secretSuffixes {
			f.Add(uint8(p), uint8(s), "hunter2")
		}
	}
	for _, secret := range []string{"S3cr@t/kEy9", "a#b/c?d", "p@ss:w/rd", "it's sec", `back\slash`, "with space", "xq@", "ab cd=ef", "%40%2F%zz", "q'q q", "x@y@z"} {
		f.Add(uint8(0), uint8(0), secret)
		f.Add(uint8(12), uint8(4), secret)
		f.Add(uint8(13), uint8(5), secret)
		f.Add(uint8(6), uint8(1), secret)
	}
	f.Fuzz(func(t *testing.T, p, s uint8, secret string) {
		prefix := secretPrefixes[int(p)%len(secretPrefixes)]
		suffix := secretSuffixes[int(s)%len(secretSuffixes)]
		if len(secret) < minScrub || len(secret) > 64 {
			return
		}
		// Messages are lower-case English: an upper-case secret cannot
		// meet its own letters in them by chance ("cte" in "connection").
		secret = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' {
				return r - 'a' + 'A'
			}
			return r
		}, secret)
		// A scheme-less "u:" followed by "//" reads as the URL scheme "u"
		// with no password at all; keyword/value forms end an unquoted
		// value at whitespace and a quoted one at a bare quote, and a
		// later keyword=value pair is a setting, not the password's rest.
		if prefix == "u:" && strings.HasPrefix(secret, "//") {
			return
		}
		// With no '@' after it, what follows "user:" is a port list
		// ("h:5432,h2:5433") unless it starts with what no port does.
		// Likewise, an '@' of its own ends the user info there.
		if strings.HasSuffix(prefix, ":") && !strings.Contains(suffix, "@") && (!(secret[0] >= 'A' && secret[0] <= 'z') || strings.Contains(secret, "@")) {
			return
		}
		if strings.HasSuffix(prefix, "='") {
			secret = strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(secret)
		} else if isKeywordValue(prefix) {
			secret = strings.Map(func(r rune) rune {
				if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v' || r == '\'' {
					return '_'
				}
				return r
			}, secret)
		}
		got := printed(prefix + secret + suffix)
		base := printed(prefix + "Q" + suffix)
		for _, r := range []string{reasonURL, reasonKeywordValue, reasonShape} {
			base += r + fmt.Sprintf("%q", r) // as Error and as %#v show it
		}
		// %#v spells the error's type and field names, which a secret's
		// window can meet (", R" of ", Reason:") whatever the secret was.
		base += fmt.Sprintf("%#v", &ConnStringError{Redacted: "Q", Reason: "Q"})
		for k := 0; k+minScrub <= len(secret); k++ {
			w := secret[k : k+minScrub]
			// A window of punctuation alone also forms where the fixed
			// text of a message meets a one-letter piece (`string " x`):
			// only windows holding a letter or digit tell.
			if !strings.ContainsAny(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") {
				continue
			}
			if strings.Contains(got, w) && !strings.Contains(base, w) {
				t.Fatalf("%q of the secret %q survives in\n%s", w, secret, got)
			}
		}
	})
}

// printed returns everything this package prints about connString.
func printed(connString string) string {
	var b strings.Builder
	b.WriteString(Redact(connString))
	b.WriteByte('\n')
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := open(ctx, connString, Config{ConnectTimeout: time.Second}, dialNowhere)
	if err == nil {
		return b.String()
	}
	fmt.Fprintf(&b, "%v\n%+v\n%#v\n%s\n", err, err, err, err)
	for e := err; e != nil; e = errors.Unwrap(e) {
		// What a caller unwrapping to our own types can print.
		var cse *ConnStringError
		if errors.As(e, &cse) {
			fmt.Fprintf(&b, "%#v\n", cse)
		}
	}
	// No time: its digits would differ between the two runs compared.
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: noTime})).Error("open", "err", err)
	return b.String()
}

// dialNowhere makes every connection attempt fail at once, without a DNS
// lookup or a packet: the test needs only the error path.
func dialNowhere(c *pgxpool.Config) {
	refuse := func(context.Context, string, string) (net.Conn, error) {
		// Not retryable, so the error is the same on every run.
		return nil, errors.New("refused by the test")
	}
	c.ConnConfig.DialFunc = refuse
	c.ConnConfig.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	for _, fb := range c.ConnConfig.Fallbacks {
		fb.Host = "127.0.0.1"
	}
}
