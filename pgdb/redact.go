package pgdb

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// redacted replaces every password that Redact and the errors of this
// package hide.
const redacted = "xxxxx"

// Redact returns connString with its passwords replaced by "xxxxx", ready to
// print or log. It works on any string, well-formed or not, and errs on
// hiding too much: no part of a password survives it.
//
// In the keyword/value form it hides the value of every password and
// sslpassword keyword, quoted or not; when a bare word follows such a value
// ("password=ab cd"), the password's extent is ambiguous and everything from
// the value on is hidden. Any other string is read as a URL of any scheme,
// or none ("mysql://u:pw@h", "postgres//u:pw@h", "u:pw@h/db"): the password
// of the user info runs from the first ':' of the user info to the last '@'
// of the string, since an unescaped '@', '/', '#' or ':' inside a password
// makes any earlier end a guess (with no '@', a port that is not a number is
// taken for a password); a password or sslpassword query parameter
// hides everything from its value to the end of the string, for the same
// reason with '&'.
func Redact(connString string) string {
	if isKeywordValue(connString) {
		out, _ := redactKeywordValue(connString)
		return out
	}
	return redactURL(connString)
}

// isKeywordValue reports whether s starts like libpq's keyword/value form:
// a keyword and then '='. A URL has ':' or '/' before any '='.
func isKeywordValue(s string) bool {
	s = strings.TrimLeft(s, " \t\n\r\f\v")
	i := 0
	for i < len(s) && (s[i] == '_' || isAlnum(s[i])) {
		i++
	}
	if i == 0 {
		return false
	}
	s = strings.TrimLeft(s[i:], " \t\n\r\f\v")
	return strings.HasPrefix(s, "=")
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isSecretKey reports whether a connection parameter holds a secret.
func isSecretKey(key string) bool {
	return strings.EqualFold(key, "password") || strings.EqualFold(key, "sslpassword")
}

// redactURL hides the user info password and any secret query parameter of
// a URL-like string, copying the rest as it is.
func redactURL(s string) string {
	from, to, cut := urlSecrets(s)
	var b strings.Builder
	if from >= 0 {
		b.WriteString(s[:from])
		b.WriteString(redacted)
		b.WriteString(s[to:cut])
	} else {
		b.WriteString(s[:cut])
	}
	if cut < len(s) && to < cut {
		b.WriteString(redacted)
	}
	return b.String()
}

// urlSecrets finds the secrets of a URL-like string: the user info password
// s[from:to] (from is -1 when there is none), and s[cut:], which runs from
// the value of the first secret parameter to the end (cut is len(s) when
// there is none). to never exceeds cut.
func urlSecrets(s string) (from, to, cut int) {
	from, to, cut = -1, -1, len(s)
	if i := secretParam(s); i >= 0 {
		cut = i
	}
	at := strings.LastIndexByte(s, '@')
	// The user info starts after the scheme's "://", if the string opens
	// with a scheme; its password after the user info's first ':'.
	start := 0
	if i := strings.Index(s, "://"); i > 0 && isScheme(s[:i]) && (at < 0 || i < at) {
		start = i + len("://")
	}
	if at < 0 {
		// No user info; but "postgres://user:password" (the "@host" left
		// out) puts the password where a port goes. A port is digits: from
		// a ':' followed by anything else, all is hidden.
		for i := start; i < len(s); i++ {
			if s[i] != ':' {
				continue
			}
			port := s[i+1:]
			if j := strings.IndexAny(port, "/?,"); j >= 0 {
				port = port[:j]
			}
			if strings.Trim(port, "0123456789") != "" && i+1 <= cut {
				return i + 1, cut, cut
			}
		}
		return from, to, cut
	}
	colon := strings.IndexByte(s[start:at], ':')
	if colon < 0 || start+colon+1 > cut {
		return from, to, cut
	}
	return start + colon + 1, min(at, cut), cut
}

// isScheme reports whether s is a URL scheme: a letter, then letters,
// digits, '+', '-' or '.'.
func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return s != ""
}

// secretParam returns where the value of the first password or sslpassword
// parameter of s begins, or -1. A parameter is a key after '?', '&', ';',
// whitespace or the start, then '='; keys are percent-decoded as pgx
// decodes them, so "pass%77ord" counts too.
func secretParam(s string) int {
	for i := 0; i < len(s); i++ {
		if i > 0 && !strings.ContainsRune("?&; \t\n\r\f\v", rune(s[i-1])) {
			continue
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return -1
		}
		key := strings.TrimSpace(s[i : i+eq])
		if dec, err := url.QueryUnescape(key); err == nil {
			key = dec
		}
		if isSecretKey(key) {
			return i + eq + 1
		}
	}
	return -1
}

// redactKeywordValue walks "k=v k2='v 2'" the way libpq does, copying the
// text and swapping the value of every secret keyword. Values that look
// like URLs have their passwords hidden too. It also returns the values it
// swapped, as written and unescaped.
func redactKeywordValue(s string) (string, []string) {
	var b strings.Builder
	var secrets []string
	secretFrom := -1 // where the output of the last secret value begins
	i := 0
	for i < len(s) {
		start := i
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		b.WriteString(s[start:i])
		if i == len(s) {
			break
		}
		start = i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		j := i
		for j < len(s) && isSpace(s[j]) {
			j++
		}
		if j == len(s) || s[j] != '=' {
			// A bare word: the string is malformed here. After a secret it
			// may be the secret's own continuation, so hide all from there.
			if secretFrom >= 0 {
				return b.String()[:secretFrom] + redacted, append(secrets, s[start:])
			}
			b.WriteString(s[start:j])
			i = j
			continue
		}
		b.WriteString(key)
		b.WriteString(s[i : j+1])
		i = j + 1
		start = i
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		b.WriteString(s[start:i])
		start = i
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			i = min(i+1, len(s)) // the closing quote
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			i = min(i, len(s))
		}
		v := s[start:i]
		if isSecretKey(key) {
			secretFrom = b.Len()
			b.WriteString(redacted)
			inner := strings.Trim(v, "'")
			secrets = append(secrets, v, inner, unescapeValue(inner))
			continue
		}
		secretFrom = -1
		if strings.ContainsRune(v, '@') || strings.Contains(v, "://") || secretParam(v) >= 0 {
			b.WriteString(redactURL(v))
		} else {
			b.WriteString(v)
		}
	}
	return b.String(), secrets
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// passwords returns the passwords written in connString, as written and
// decoded, so that error text that quotes one can be scrubbed.
func passwords(connString string) []string {
	var out []string
	add := func(p string) {
		if p != "" {
			out = append(out, p)
		}
	}
	if isKeywordValue(connString) {
		_, secrets := redactKeywordValue(connString)
		for _, p := range secrets {
			add(p)
		}
		return out
	}
	from, to, cut := urlSecrets(connString)
	if from >= 0 {
		p := connString[from:to]
		add(p)
		if dec, err := url.PathUnescape(p); err == nil {
			add(dec)
		}
		// A driver splits an unescaped password at one of these and may
		// place what is before or after it in the host, port or database
		// name that its errors show.
		cuts := []int{-1}
		for k := 0; k < len(p); k++ {
			if strings.IndexByte("@/:?#,", p[k]) >= 0 {
				cuts = append(cuts, k)
			}
		}
		cuts = append(cuts, len(p))
		for i, a := range cuts {
			for _, b := range cuts[i+1:] {
				if a >= 0 || b < len(p) {
					add(p[a+1 : b])
					add(strings.TrimSpace(p[a+1 : b]))
				}
			}
		}
	}
	if cut < len(connString) {
		p := connString[cut:]
		add(p)
		if amp := strings.IndexByte(p, '&'); amp >= 0 {
			add(p[:amp])
		}
		if dec, err := url.QueryUnescape(p); err == nil {
			add(dec)
		}
	}
	return out
}

func unescapeValue(v string) string {
	var b strings.Builder
	for k := 0; k < len(v); k++ {
		if v[k] == '\\' && k+1 < len(v) {
			k++
		}
		b.WriteByte(v[k])
	}
	return b.String()
}

// minScrub is the shortest secret scrub hides in error text: a shorter one
// would overwrite unrelated letters ("b" in "database"), and error text
// never holds the connection string itself, only what a driver quoted.
const minScrub = 3

// scrub hides secrets in the text of err while keeping it unwrappable. The
// result keeps no copy of the secrets, so no verb of fmt can show them.
func scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	// Longest first: a secret's piece must not break up the whole.
	secrets = slices.Clone(secrets)
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, s := range secrets {
		if len(s) >= minScrub {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	return &scrubbedError{msg: msg, err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// Format prints the scrubbed text for every verb, %#v and %+v included,
// which would otherwise show the wrapped errors' fields.
func (e *scrubbedError) Format(f fmt.State, verb rune) { fmt.Fprint(f, e.msg) }

// ConnStringError is returned by Open for a connection string that cannot
// be parsed. It holds the string redacted, never as given, and wraps no
// driver error, whose fields would hold the string as given.
type ConnStringError struct {
	Redacted string // the connection string, passwords hidden by Redact
	Reason   string // why it was refused; it quotes nothing of the string
}

func (e *ConnStringError) Error() string {
	return fmt.Sprintf("cannot parse connection string %q: %s", e.Redacted, e.Reason)
}

// shapeError refuses a string that is neither a PostgreSQL URL nor
// keyword/value pairs before the driver reads it. pgx would read
// "Postgres://u:pw@h/db?x=1" or "postgres//u:pw@h&sslmode=disable" as one odd
// keyword and connect to the default server instead: the wrong database, in
// silence.
func shapeError(connString string) *ConnStringError {
	s := strings.TrimSpace(connString)
	e := &ConnStringError{Redacted: Redact(connString)}
	if isURL(s) {
		// A driver ends the user info at the first '@' or '/', not the
		// last '@': it would read a host or database out of the password,
		// and print them.
		if from, to, _ := urlSecrets(s); from >= 0 && strings.ContainsAny(s[from:to], "@/?#") {
			e.Reason = reasonURL
			return e
		}
		return nil
	}
	if s == "" || isKeywordValue(s) {
		return nil
	}
	scheme, _, ok := strings.Cut(s, "://")
	switch {
	case ok && isScheme(scheme) && (strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql")):
		e.Reason = fmt.Sprintf("the scheme %q must be lower case: postgres:// or postgresql://", scheme)
	case ok && isScheme(scheme):
		e.Reason = fmt.Sprintf("unsupported scheme %q: a PostgreSQL URL starts with postgres:// or postgresql://", scheme)
	default:
		e.Reason = reasonShape
	}
	return e
}

// The reasons a connection string is refused for, where the driver's own
// words could not be kept.
const (
	reasonURL          = "malformed URL: a password or name holding '@', '/', ':', '?' or '#' must be percent-encoded (%40, %2F, %3A, %3F, %23)"
	reasonKeywordValue = `malformed keyword=value pairs: quote a value holding spaces or quotes (password='a b'), with \' and \\ inside`
	reasonShape        = "neither a URL (postgres://user:password@host:port/database) nor keyword=value pairs (host=… dbname=…)"
)

// connStringError explains why the driver refused connString, in words
// that quote none of it. The driver's own message quotes the string,
// redacted on a best-effort basis only, and its causes quote fragments of it
// (`invalid port ":p@ss" after host`); what is kept of them is their fixed
// text, with quoted fragments cut out and checked against the secrets.
func connStringError(connString string, err error) *ConnStringError {
	e := &ConnStringError{Redacted: Redact(connString)}
	s := strings.TrimSpace(connString)
	e.Reason = driverReason(err, passwords(connString))
	switch {
	case e.Reason != "":
	case isURL(s):
		e.Reason = reasonURL
	case isKeywordValue(s):
		e.Reason = reasonKeywordValue
	default:
		e.Reason = reasonShape
	}
	return e
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// driverReason returns the fixed part of pgx's parse error, "failed to
// parse as URL (net/url: invalid userinfo)", or "" when no safe part is left.
func driverReason(err error, secrets []string) string {
	var pce *pgconn.ParseConfigError
	if !errors.As(err, &pce) {
		return ""
	}
	// pgx writes "cannot parse `STRING`: MSG" or "… MSG (CAUSE)".
	text := pce.Error()
	if i := strings.LastIndex(text, "`: "); i >= 0 {
		text = text[i+len("`: "):]
	} else {
		return ""
	}
	if cause := errors.Unwrap(pce); cause != nil {
		text = strings.TrimSuffix(text, " ("+cause.Error()+")")
		var ue *url.Error
		if errors.As(cause, &ue) {
			cause = ue.Err
		}
		text += " (" + cutQuoted(cause.Error()) + ")"
	}
	for _, sec := range secrets {
		for k := 0; k+minScrub <= len(sec); k++ {
			if strings.Contains(text, sec[k:k+minScrub]) {
				return ""
			}
		}
	}
	return text
}

// cutQuoted replaces every double-quoted part of s with "…".
func cutQuoted(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i+1:], '"')
		if j < 0 {
			b.WriteString(s[:i])
			b.WriteString(`"…"`)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(`"…"`)
		s = s[i+1+j+1:]
	}
}
