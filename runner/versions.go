package runner

import (
	"slices"
	"strconv"
	"strings"

	"github.com/pgmig/pgmig/source"
)

// Versions in the runner: every type that names a migration keeps its
// int64 Version, which is all an integer-only project (every project
// before Flyway's dotted versions) has ever seen, and carries beside it a
// Ver of source's type, set for integer and dotted versions alike. The
// runner orders, pairs and bounds migrations by Ver only, so a dotted
// version (whose Version is 0) sorts as Flyway sorts it.

// verText is a version for messages: as the file spells it, or the
// integer when v is unset (a value built by a caller who set only the
// int64).
func verText(n int64, v source.Version) string {
	if v.IsZero() {
		return strconv.FormatInt(n, 10)
	}
	return v.String()
}

// orInt is v, or the integer version n when v is unset.
func orInt(n int64, v source.Version) source.Version {
	if v.IsZero() && n > 0 {
		return source.IntVersion(n)
	}
	return v
}

// intOf is v's int64 as the runner's types carry it: the integer, or 0
// for a dotted version.
func intOf(v source.Version) int64 {
	n, _ := v.Int()
	return n
}

// intPtr is the *int64 form of a current or planned version: nil when
// there is none, and when it is dotted (see Report.CurrentVer).
func intPtr(v source.Version) *int64 {
	n, ok := v.Int()
	if !ok {
		return nil
	}
	return &n
}

// needsText tells whether recording v needs the tracking table's upgraded
// layout (a text version): a dotted version has no bigint form.
func needsText(v source.Version) bool {
	_, ok := v.Int()
	return !v.IsZero() && !ok
}

// hasDotted tells whether a versioned migration of ms has a dotted version
// with no integer form.
func hasDotted(ms []source.Migration) bool {
	return slices.ContainsFunc(ms, func(m source.Migration) bool { return !m.Repeatable && needsText(m.Ver) })
}

// keyLiteral is v's parts as a bigint[] literal ('{1,2}'), the form of the
// upgraded table's version_key column.
func keyLiteral(v source.Version) string {
	return "'{" + strings.ReplaceAll(v.Canonical(), ".", ",") + "}'::bigint[]"
}

// logVersion is a migration's "version" in the log: the version as its
// file spells it, which a JSON handler writes as a number when whole (as
// the int64 always was) and as a string when dotted; 0 for a repeatable
// migration, as before.
func logVersion(m *source.Migration) any {
	if m.Repeatable {
		return m.Version
	}
	return verOf(*m)
}

// stepVersion is logVersion for a step.
func stepVersion(st Step) any {
	if st.Repeatable {
		return st.Version
	}
	return orInt(st.Version, st.Ver)
}
