package diff

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ServerCasts is Options.Castable answered by the server behind pool (one
// that knows the types both schemas name), as PostgreSQL resolves
// from::to: the same type after domains, a string type on either side (an
// I/O conversion), a pg_cast entry, or arrays whose elements cast. A
// question the server cannot answer counts as castable: the proof on the
// scratch database has the last word.
func ServerCasts(ctx context.Context, pool *pgxpool.Pool) func(from, to string) bool {
	type info struct {
		base, elem uint32
		cat        string
	}
	lookup := func(q string, arg any) (info, error) {
		var i info
		err := pool.QueryRow(ctx, q, arg).Scan(&i.base, &i.cat, &i.elem)
		return i, err
	}
	const byName = `SELECT b.oid, b.typcategory::text, b.typelem FROM pg_type t
JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
WHERE t.oid = $1::regtype`
	const byOID = `SELECT b.oid, b.typcategory::text, b.typelem FROM pg_type t
JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
WHERE t.oid = $1`
	var castable func(a, b info, depth int) bool
	castable = func(a, b info, depth int) bool {
		if a.base == b.base || a.cat == "S" || b.cat == "S" {
			return true
		}
		var found bool
		if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_cast WHERE castsource = $1 AND casttarget = $2)", a.base, b.base).Scan(&found); err != nil || found {
			return true
		}
		if a.cat == "A" && b.cat == "A" && a.elem != 0 && b.elem != 0 && depth < 4 {
			ae, err1 := lookup(byOID, a.elem)
			be, err2 := lookup(byOID, b.elem)
			return err1 != nil || err2 != nil || castable(ae, be, depth+1)
		}
		return false
	}
	return func(from, to string) bool {
		a, err1 := lookup(byName, from)
		b, err2 := lookup(byName, to)
		if err1 != nil || err2 != nil {
			return true
		}
		return castable(a, b, 0)
	}
}
