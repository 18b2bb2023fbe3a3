package source

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is a migration's version as its file name spells it: a whole
// number (1, 001 and 0001 are the same version), or one of Flyway's dotted
// versions (1.2.3; in a file name V1_2_3 reads the same). Versions compare
// part by part as integers, a missing part counting as 0, as Flyway
// compares them: 1 < 1.1 < 1.2 < 1.10 < 2, and 1.0 is the same version as
// 1. The zero Version is no version at all, that of a repeatable
// migration; it sorts before every other.
//
// Version is comparable with ==, but two spellings of one version (1 and
// 1.0) differ under ==: use Compare.
type Version struct {
	key  string // the parts in canonical decimal, '.'-separated, trailing zero parts dropped
	text string // as written, '_' read as '.'; for messages and the tracking table
}

// IntVersion returns the whole-number version n, n ≥ 1.
func IntVersion(n int64) Version {
	s := strconv.FormatInt(n, 10)
	return Version{key: s, text: s}
}

// ParseVersion parses a version written with digits and dots ("12",
// "1.2.3", "001.02"). Each part is at most 18 digits without its leading
// zeros. A version equal to zero ("0", "0.0") is refused, since versions
// start at 1 and `rollback --to 0` means all; one below 1 ("0.1", as
// Flyway projects often begin) sorts first.
func ParseVersion(s string) (Version, error) {
	if s == "" {
		return Version{}, errors.New("empty version")
	}
	parts := strings.Split(s, ".")
	canon := make([]string, len(parts))
	for i, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return Version{}, fmt.Errorf("version %q: want digits separated by single dots", s)
		}
		p = strings.TrimLeft(p, "0")
		if p == "" {
			p = "0"
		}
		// 18 digits always fit an int64, so the integer form of a
		// one-part version, and the parts' comparison by length, hold.
		if len(p) > 18 {
			return Version{}, fmt.Errorf("version %s: part %s is too large (at most 18 digits)", s, p)
		}
		canon[i] = p
	}
	for len(canon) > 1 && canon[len(canon)-1] == "0" {
		canon = canon[:len(canon)-1]
	}
	if canon[0] == "0" && len(canon) == 1 {
		return Version{}, fmt.Errorf("version %s is not allowed: versions start at 1", s)
	}
	return Version{key: strings.Join(canon, "."), text: s}, nil
}

// IsZero reports whether v is no version, that of a repeatable migration.
func (v Version) IsZero() bool { return v.key == "" }

// String returns the version as written, with '_' read as '.' ("1.2.3",
// "001"), or "" for the zero Version.
func (v Version) String() string { return v.text }

// Canonical returns the version without leading zeros in its parts and
// without trailing zero parts ("1.2", "1"): two versions are the same
// exactly when their canonical forms are equal.
func (v Version) Canonical() string { return v.key }

// Int returns the version as an integer when it has one part (a whole
// number, or a dotted one such as 3.0 that equals one).
func (v Version) Int() (int64, bool) {
	if v.key == "" || strings.Contains(v.key, ".") {
		return 0, false
	}
	n, err := strconv.ParseInt(v.key, 10, 64)
	return n, err == nil
}

// Dotted reports whether the version has more than one part, so that it
// has no integer form.
func (v Version) Dotted() bool { return strings.Contains(v.key, ".") }

// Compare returns -1, 0 or +1 as v sorts before, with or after w.
func (v Version) Compare(w Version) int {
	a, b := v.key, w.key
	switch {
	case a == b:
		return 0
	case a == "":
		return -1
	case b == "":
		return 1
	}
	for a != "" || b != "" {
		var pa, pb string
		pa, a, _ = strings.Cut(a, ".")
		pb, b, _ = strings.Cut(b, ".")
		if pa == "" {
			pa = "0"
		}
		if pb == "" {
			pb = "0"
		}
		// Canonical parts have no leading zeros: the longer is larger.
		if len(pa) != len(pb) {
			if len(pa) < len(pb) {
				return -1
			}
			return 1
		}
		if c := strings.Compare(pa, pb); c != 0 {
			return c
		}
	}
	return 0
}

// MarshalJSON writes a version with an integer form as a JSON number, as
// pgmig has always written versions, and a dotted one as a string.
func (v Version) MarshalJSON() ([]byte, error) {
	if n, ok := v.Int(); ok && !strings.Contains(v.text, ".") {
		return strconv.AppendInt(nil, n, 10), nil
	}
	if v.key == "" {
		return []byte("null"), nil
	}
	return strconv.AppendQuote(nil, v.text), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (v *Version) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*v = Version{}
		return nil
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	pv, err := ParseVersion(s)
	if err != nil {
		return err
	}
	*v = pv
	return nil
}
