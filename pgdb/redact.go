package pgdb

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted replaces every password that Redact and the errors of this
// package hide.
const redacted = "xxxxx"

// Redact returns connString with its password replaced by "xxxxx", ready to
// print or log. Both forms are handled: in a URL the password of the user
// info and a password query parameter; in the keyword/value form every
// password keyword, its value quoted or not. A string that cannot be parsed
// is redacted on a best-effort basis, erring on hiding too much.
func Redact(connString string) string {
	if isURL(connString) {
		return redactURL(connString)
	}
	out, _ := redactKeywordValue(connString)
	return out
}

func isURL(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// brokenUserInfo matches the user info of a URL that net/url refuses, for
// example because the password holds a bare '@', '/' or '#': everything from
// the first ':' after the scheme up to the last '@' is taken as the password.
var brokenUserInfo = regexp.MustCompile(`^(\s*postgres(?:ql)?://[^:@/]*:)(.*)@`)

func redactURL(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		s = brokenUserInfo.ReplaceAllString(s, "${1}"+redacted+"@")
		return redactQueryPassword(s)
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
	}
	if q := u.Query(); q.Has("password") {
		for i := range q["password"] {
			q["password"][i] = redacted
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

var queryPassword = regexp.MustCompile(`([?&]password=)[^&#]*`)

func redactQueryPassword(s string) string {
	return queryPassword.ReplaceAllString(s, "${1}"+redacted)
}

// redactKeywordValue walks "k=v k2='v 2'" the way libpq does, copying the
// text and swapping the value of every password keyword. It also returns
// the values it swapped.
func redactKeywordValue(s string) (string, []string) {
	var b strings.Builder
	var secrets []string
	i := 0
	for i < len(s) {
		// Whitespace between pairs.
		start := i
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		b.WriteString(s[start:i])
		if i == len(s) {
			break
		}
		// Keyword, up to '=' or whitespace.
		start = i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		b.WriteString(key)
		// Optional whitespace, '=', optional whitespace.
		start = i
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i < len(s) && s[i] == '=' {
			i++
		}
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		b.WriteString(s[start:i])
		// Value: quoted with backslash escapes, or up to whitespace.
		start = i
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			i++ // closing quote
			if i > len(s) {
				i = len(s)
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i > len(s) {
				i = len(s)
			}
		}
		if strings.EqualFold(key, "password") {
			b.WriteString(redacted)
			v := s[start:i]
			secrets = append(secrets, v, strings.Trim(v, "'"), unescapeValue(strings.Trim(v, "'")))
		} else {
			b.WriteString(s[start:i])
		}
	}
	return b.String(), secrets
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// passwords returns the passwords written in connString, as written and
// unescaped, so that error text that quotes any of them can be scrubbed.
func passwords(connString string) []string {
	var out []string
	add := func(p string) {
		if p != "" {
			out = append(out, p)
		}
	}
	if isURL(connString) {
		if u, err := url.Parse(strings.TrimSpace(connString)); err == nil {
			if u.User != nil {
				p, _ := u.User.Password()
				add(p)
				add(url.PathEscape(p))
				add(url.QueryEscape(p))
			}
			for _, p := range u.Query()["password"] {
				add(p)
				add(url.QueryEscape(p))
			}
		} else if m := brokenUserInfo.FindStringSubmatch(connString); m != nil {
			add(m[2])
			if p, err := url.PathUnescape(m[2]); err == nil {
				add(p)
			}
		}
		for _, m := range queryPassword.FindAllString(connString, -1) {
			_, p, _ := strings.Cut(m, "=")
			add(p)
		}
		return out
	}
	_, secrets := redactKeywordValue(connString)
	for _, p := range secrets {
		add(p)
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

// scrub hides secrets in the text of err while keeping it unwrappable.
func scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	var keep []string
	for _, s := range secrets {
		if s != "" {
			keep = append(keep, s)
		}
	}
	if len(keep) == 0 {
		return err
	}
	return &scrubbedError{err: err, secrets: keep}
}

type scrubbedError struct {
	err     error
	secrets []string
}

func (e *scrubbedError) Error() string {
	msg := e.err.Error()
	for _, s := range e.secrets {
		msg = strings.ReplaceAll(msg, s, redacted)
	}
	return msg
}

func (e *scrubbedError) Unwrap() error { return e.err }
