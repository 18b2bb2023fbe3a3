package runner

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/source"
)

// InvalidIndexError reports an index a no-transaction section left
// INVALID: a CREATE INDEX CONCURRENTLY that failed part-way earlier, then
// "succeeded" through IF NOT EXISTS, or a build interrupted. Queries do not
// use such an index, but writes still maintain it.
type InvalidIndexError struct {
	Version int64
	Ver     source.Version // may be unset (then Version)
	Name    string
	Indexes []string // schema-qualified, quoted where SQL needs it
}

func (e *InvalidIndexError) Error() string { return e.Text(goName) }

// Text is the message with the remedies it advises, Runner methods
// (MethodRepair, MethodUp), named as name renders them, as
// ChecksumMismatchError's.
func (e *InvalidIndexError) Text(name func(method string) string) string {
	return fmt.Sprintf("migration %s %s %s, run %s, then %s to build it again",
		verText(e.Version, e.Ver), e.Name, e.left(), name(MethodRepair), name(MethodUp))
}

// left is what the section left behind and the SQL that removes it: what
// the history row records, which outlives the message and its remedies.
func (e *InvalidIndexError) left() string {
	drops := make([]string, len(e.Indexes))
	for i, ix := range e.Indexes {
		drops[i] = "DROP INDEX CONCURRENTLY " + ix + ";"
	}
	return fmt.Sprintf("left INVALID index %s; drop it (%s)", strings.Join(e.Indexes, ", "), strings.Join(drops, " "))
}

// checkIndexes finds INVALID indexes that the section names: an index
// built concurrently is only usable once pg_index.indisvalid is set, and
// CREATE INDEX CONCURRENTLY IF NOT EXISTS succeeds silently over an invalid
// leftover of an earlier attempt.
func checkIndexes(ctx context.Context, s *session, m *source.Migration, sec source.Section) error {
	rows, err := s.conn.Query(ctx, `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relname FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid ORDER BY 1, 2`)
	if err != nil {
		return fmt.Errorf("check indexes of %s %s: %w", verOf(*m), m.Name, err)
	}
	names, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]string, error) {
		var n [2]string
		err := row.Scan(&n[0], &n[1])
		return n, err
	})
	if err != nil {
		return fmt.Errorf("check indexes of %s %s: %w", verOf(*m), m.Name, err)
	}
	var bad []string
	lower := strings.ToLower(sec.SQL)
	for _, n := range names {
		re := regexp.MustCompile(`(^|[^a-z0-9_$])"?` + regexp.QuoteMeta(strings.ToLower(n[1])) + `"?($|[^a-z0-9_$])`)
		if re.MatchString(lower) {
			bad = append(bad, n[0])
		}
	}
	if len(bad) > 0 {
		return &InvalidIndexError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Indexes: bad}
	}
	return nil
}
