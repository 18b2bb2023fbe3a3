package runner

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)

// ParseTable reads name, "table" or "schema.table", as PostgreSQL reads a
// qualified name: an unquoted part is folded to lower case, a "quoted" one
// is taken as written, dots included, with "" standing for a quote. It
// returns one part, or two (schema, table), ready for Sanitize.
func ParseTable(name string) (pgx.Identifier, error) {
	var parts pgx.Identifier
	rest := name
	for {
		var part string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for {
				j := strings.IndexByte(rest[i:], '"')
				if j < 0 {
					return nil, errors.New("unterminated quoted identifier")
				}
				b.WriteString(rest[i : i+j])
				i += j + 1
				if i < len(rest) && rest[i] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			part, rest = b.String(), rest[i:]
			if part == "" {
				return nil, errors.New("empty quoted identifier")
			}
		} else {
			end := strings.IndexByte(rest, '.')
			if end < 0 {
				end = len(rest)
			}
			part, rest = rest[:end], rest[end:]
			if !identRE.MatchString(part) {
				return nil, fmt.Errorf("%q is not an identifier: quote it (\"%s\") or use letters, digits, _ and $", part, part)
			}
			part = strings.ToLower(part)
		}
		if len(part) > 63 {
			return nil, fmt.Errorf("%q is longer than 63 bytes", part)
		}
		parts = append(parts, part)
		if rest == "" {
			break
		}
		if rest[0] != '.' || len(parts) == 2 {
			return nil, errors.New("want table or schema.table")
		}
		rest = rest[1:]
	}
	return parts, nil
}
