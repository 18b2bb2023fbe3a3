package fleet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/internal/regfile"
	"github.com/pgmig/pgmig/pgdb"
)

// ErrNoTargets is returned by Resolve when the source it was given lists
// no target: an empty file, a query returning no row.
var ErrNoTargets = errors.New("no targets: the list is empty")

// ErrSpec is returned by Resolve for a Spec that names no source of
// targets, or more than one.
var ErrSpec = errors.New("want exactly one source of targets: a targets file, connection strings or a schemas query")

// Querier runs a query: *pgxpool.Pool, *pgx.Conn and pgx.Tx all do.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Spec says where the targets come from. Exactly one of File, URLs and
// SchemasQuery is set.
type Spec struct {
	// File is a targets file: one connection string per line, in either
	// form; blank lines and lines beginning with # are ignored.
	File string
	// URLs are connection strings, one target each.
	URLs []string
	// SchemasQuery is SQL returning one text column of schema names, run
	// with DB. Each schema becomes a target named after it, in the
	// database of ConnString, with Target.Schema set.
	SchemasQuery string
	DB           Querier
	ConnString   string
}

// Resolve returns the targets spec names, in the order given. A targets
// file that cannot be read gives its *fs.PathError (wrapped); an empty
// list, ErrNoTargets.
func Resolve(ctx context.Context, spec Spec) ([]Target, error) {
	n := 0
	for _, set := range []bool{spec.File != "", len(spec.URLs) > 0, spec.SchemasQuery != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, ErrSpec
	}
	var targets []Target
	var err error
	switch {
	case spec.File != "":
		targets, err = readFile(spec.File)
	case len(spec.URLs) > 0:
		targets = fromURLs(spec.URLs)
	default:
		targets, err = schemas(ctx, spec.DB, spec.ConnString, spec.SchemasQuery)
	}
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, ErrNoTargets
	}
	return targets, nil
}

// ParseTargets reads the targets file format from r: one connection
// string per line, surrounding spaces trimmed, blank lines and lines
// beginning with # ignored. Each target is named by its connection string
// with the password redacted.
func ParseTargets(r io.Reader) ([]Target, error) {
	var urls []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		urls = append(urls, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return fromURLs(urls), nil
}

func readFile(path string) ([]Target, error) {
	f, err := regfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("targets file: %w", err)
	}
	defer f.Close()
	ts, err := ParseTargets(f)
	if err != nil {
		return nil, fmt.Errorf("targets file %s: %w", path, err)
	}
	return ts, nil
}

func fromURLs(urls []string) []Target {
	ts := make([]Target, 0, len(urls))
	for _, u := range urls {
		ts = append(ts, Target{Name: pgdb.Redact(u), ConnString: u})
	}
	return ts
}

// schemas runs query with db: each schema it returns is a target in the
// database of connString.
func schemas(ctx context.Context, db Querier, connString, query string) ([]Target, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: a schemas query needs a database to run on", ErrSpec)
	}
	rows, err := db.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("schemas query: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("schemas query: want one text column of schema names: %w", err)
	}
	ts := make([]Target, 0, len(names))
	for _, s := range names {
		ts = append(ts, Target{Name: s, ConnString: connString, Schema: s})
	}
	return ts, nil
}
