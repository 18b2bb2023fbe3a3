package schema

import "fmt"

// The majors whose catalogs Inspect's queries are written and tested for
// (scripts/matrix.sh runs them): 13 up to, not including, maxInspect. An
// older server lacks catalog columns the queries need (pg_trigger.tgparentid
// is 13's), and a newer one may have changed some; both are refused rather
// than read wrongly.
const (
	minInspect = 130000
	maxInspect = 190000
)

// ServerVersionError refuses a server whose catalogs Inspect does not read.
type ServerVersionError struct {
	Server int // server_version_num
}

func (e *ServerVersionError) Error() string {
	return fmt.Sprintf("inspecting a schema needs PostgreSQL %d to %d, whose catalogs its queries are written for; this server is %s",
		minInspect/10000, maxInspect/10000-1, versionText(e.Server))
}

// versionText writes a server_version_num as PostgreSQL does: 180004 is
// 18.4, and before 10, 90624 is 9.6.24.
func versionText(num int) string {
	if num < 100000 {
		return fmt.Sprintf("%d.%d.%d", num/10000, num/100%100, num%100)
	}
	return fmt.Sprintf("%d.%d", num/10000, num%10000)
}

// versionSQL is the parts of Inspect's queries that differ between the
// majors it reads; everything else, and all that Plan sees, is the same
// on every one.
type versionSQL struct {
	// compression is a column's compression method (column a).
	compression string
	// collLocale is a collation's ICU (or builtin) locale, and collRules
	// its ICU tailoring rules (collation co).
	collLocale, collRules string
	// multirangeAlias maps a multirange type to its range type in the
	// aliases query.
	multirangeAlias string
}

// sqlFor builds the query parts for server (server_version_num), or
// refuses it.
func sqlFor(server int) (versionSQL, error) {
	if server < minInspect || server >= maxInspect {
		return versionSQL{}, &ServerVersionError{Server: server}
	}
	v := versionSQL{
		compression:     "CASE a.attcompression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4' ELSE '' END",
		collLocale:      "co.colllocale",
		collRules:       "co.collicurules",
		multirangeAlias: "UNION ALL SELECT 'pg_type', mr.rngmultitypid, 'pg_type', mr.rngtypid, 0 FROM pg_range mr",
	}
	if server < 170000 {
		// 17 renamed colliculocale to colllocale, when it added the
		// builtin provider whose locale it also holds.
		v.collLocale = "co.colliculocale"
	}
	if server < 160000 {
		// ICU rules came with 16.
		v.collRules = "NULL"
	}
	if server < 150000 {
		// ICU locales of their own came with 15; before, an ICU
		// collation's locale is its collcollate.
		v.collLocale = "NULL"
	}
	if server < 140000 {
		// Compression methods (pg_attribute.attcompression) and
		// multirange types (pg_range.rngmultitypid) came with 14: before,
		// every column is compressed with pglz and no range has a
		// multirange.
		v.compression = "''"
		v.multirangeAlias = ""
	}
	return v, nil
}
