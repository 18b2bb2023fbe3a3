// Package connstr rewrites PostgreSQL connection strings, in either form
// libpq and pgx accept: a URL (postgres://…) or keyword/value pairs.
//
//	s, err := connstr.With(base, map[string]string{"dbname": "scratch", "sslmode": "disable"})
package connstr

import (
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
)

// ErrMalformed is matched by the error of a URL that cannot be parsed. The
// error never holds the connection string: it may hold a password.
var ErrMalformed = errors.New("malformed connection URL")

// With returns connString with each keyword of set given its value,
// whatever it had before. In a URL, dbname is the path and host and port
// are the authority (a port alone keeps the host; IPv6 hosts are
// bracketed); other keywords are query parameters, escaped so that pgx and
// libpq read them back unchanged. In the keyword/value form the pairs are
// appended, quoted: there the last setting of a keyword wins. An empty
// connString (the libpq defaults) becomes keyword/value pairs.
func With(connString string, set map[string]string) (string, error) {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a stable result, for tests and logs
	trimmed := strings.TrimSpace(connString)
	if !strings.HasPrefix(trimmed, "postgres://") && !strings.HasPrefix(trimmed, "postgresql://") {
		var b strings.Builder
		b.WriteString(trimmed)
		for _, k := range keys {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(k + "=" + quote(set[k]))
		}
		return b.String(), nil
	}
	u, err := url.Parse(trimmed)
	if err != nil {
		return "", ErrMalformed
	}
	q := u.Query()
	host, port := u.Hostname(), u.Port()
	for _, k := range keys {
		v := set[k]
		switch k {
		case "dbname":
			u.Path, u.RawPath = "/"+v, ""
			q.Del("dbname")
		case "host":
			host = v
			q.Del("host")
		case "port":
			port = v
			q.Del("port")
		default:
			q.Set(k, v)
		}
	}
	switch {
	case port != "":
		u.Host = net.JoinHostPort(host, port)
	case strings.Contains(host, ":"):
		u.Host = "[" + host + "]"
	default:
		u.Host = host
	}
	// pgx and libpq unescape query values as paths: '+' is no space there.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String(), nil
}

// quote quotes a keyword/value value as libpq reads it: in single quotes,
// with backslash and quote escaped by a backslash.
func quote(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `'`, `\'`)
	return "'" + v + "'"
}
