package remote

import (
	"net/url"
	"strings"
)

const mask = "xxxxx"

// secretParams are substrings of query parameter names (compared in lower
// case) whose values are credentials: presigned S3, GCS and Azure URLs and
// the usual API tokens.
var secretParams = []string{"token", "signature", "key", "password", "passwd", "secret", "credential", "auth", "sig"}

// Redact returns rawURL ready to print or log: the userinfo password
// becomes "xxxxx", as do the values of query parameters named like a
// credential (token, signature, key, password, secret, credential, auth,
// sig, in any case: X-Amz-Signature, X-Goog-Credential, access_token).
// Parameter order and the fragment are kept. A string that does not parse
// keeps only what precedes its query and userinfo, erring on hiding too much.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		s := rawURL
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			s = s[:i] + "?" + mask
		}
		if i := strings.Index(s, "://"); i >= 0 {
			if j := strings.LastIndex(s[i+3:], "@"); j >= 0 {
				s = s[:i+3] + mask + "@" + s[i+3+j+1:]
			}
		}
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), mask)
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			name, _, hasValue := strings.Cut(p, "=")
			if dec, err := url.QueryUnescape(name); err == nil {
				name = dec
			}
			if hasValue && secretName(name) {
				parts[i] = p[:strings.IndexByte(p, '=')+1] + mask
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	return u.String()
}

func secretName(name string) bool {
	name = strings.ToLower(name)
	for _, s := range secretParams {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}
