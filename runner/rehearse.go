package runner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/source"
)

// Rehearsal is what running one pending migration did, observed inside a
// transaction that was then rolled back.
type Rehearsal struct {
	Step Step
	// Skipped says why the migration was not rehearsed (a no-transaction
	// section cannot run inside the rehearsal's transaction).
	Skipped string
	Locks   []LockTaken
}

// LockTaken is a relation lock a rehearsed migration acquired.
type LockTaken struct {
	Relation string // schema-qualified, quoted where SQL needs it
	Kind     string // table, index, sequence, view, materialized view, …
	Mode     string // e.g. "ACCESS EXCLUSIVE"
	// Blocking is set for an ACCESS EXCLUSIVE lock on a table that holds
	// rows: every read and write of it waits for the migration.
	Blocking bool
}

type relLock struct {
	oid  uint32
	mode string
}

// rehearse runs each pending transactional section inside one transaction
// and rolls it back: later migrations see earlier ones, yet nothing
// persists and the history is not touched.
func (r *Runner) rehearse(ctx context.Context, s *session, todo []*source.Migration) (_ []Rehearsal, err error) {
	if _, err := s.conn.Exec(ctx, "BEGIN"); err != nil {
		return nil, fmt.Errorf("rehearse: %w", err)
	}
	defer func() {
		if _, rerr := s.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil && err == nil {
			err = fmt.Errorf("rehearse: roll back: %w", rerr)
		}
	}()
	setLock := ""
	if t := r.opts.DDLLockTimeout; t > 0 {
		setLock = fmt.Sprintf("SET LOCAL lock_timeout = '%dms'", t.Milliseconds())
		if _, err := s.conn.Exec(ctx, setLock); err != nil {
			return nil, fmt.Errorf("rehearse: %w", err)
		}
	}
	held, err := heldLocks(ctx, s.conn)
	if err != nil {
		return nil, err
	}
	var out []Rehearsal
	for _, m := range todo {
		reh := Rehearsal{Step: planned(m, Up)}
		if m.Up.NoTransaction {
			reh.Skipped = "no-transaction section: it cannot run inside a transaction, so it cannot be rehearsed"
			out = append(out, reh)
			continue
		}
		// No step events: a rehearsal applies nothing, and a listener
		// printing "applied" would mislead.
		start := time.Now()
		if _, err := execSimple(ctx, s.conn, m.Up.SQL+"\n;", nil); err != nil {
			return out, locate(m, Up, m.Up, err, sent{base: 0, index: -1})
		}
		// The next migration starts from the session pgmig opened, as in
		// a real run; the reset clears the lock_timeout too.
		if _, err := execSimple(ctx, s.conn, s.reset+setLock, nil); err != nil {
			return out, fmt.Errorf("rehearse: reset the session: %w", err)
		}
		reh.Step.Duration = time.Since(start)
		now, err := heldLocks(ctx, s.conn)
		if err != nil {
			return out, err
		}
		for l := range now {
			if _, ok := held[l]; !ok {
				reh.Locks = append(reh.Locks, now[l])
			}
		}
		for i := range reh.Locks {
			lk := &reh.Locks[i]
			if lk.Mode != "ACCESS EXCLUSIVE" || lk.Kind != "table" {
				continue
			}
			var rows bool
			// The migration already holds ACCESS EXCLUSIVE, so this waits for nothing.
			if err := s.conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM ONLY "+lk.Relation+")").Scan(&rows); err != nil {
				return out, fmt.Errorf("rehearse %s %s: %w", verOf(*m), m.Name, err)
			}
			lk.Blocking = rows
		}
		sortLocks(reh.Locks)
		if held, err = heldLocks(ctx, s.conn); err != nil {
			return out, err
		}
		out = append(out, reh)
	}
	return out, nil
}

// heldLocks lists the relation locks this session holds, outside the
// system catalogs (which any query locks).
func heldLocks(ctx context.Context, conn *pgx.Conn) (map[relLock]LockTaken, error) {
	rows, err := conn.Query(ctx, `SELECT l.relation, l.mode, c.relkind::text, quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')`)
	if err != nil {
		return nil, fmt.Errorf("rehearse: read locks: %w", err)
	}
	defer rows.Close()
	out := map[relLock]LockTaken{}
	for rows.Next() {
		var oid uint32
		var mode, kind, rel string
		if err := rows.Scan(&oid, &mode, &kind, &rel); err != nil {
			return nil, fmt.Errorf("rehearse: read locks: %w", err)
		}
		out[relLock{oid, mode}] = LockTaken{Relation: rel, Kind: relKind(kind), Mode: lockMode(mode)}
	}
	return out, rows.Err()
}

// lockMode turns "AccessExclusiveLock" into "ACCESS EXCLUSIVE", as the
// documentation and LOCK TABLE spell it.
func lockMode(m string) string {
	m = strings.TrimSuffix(m, "Lock")
	var b strings.Builder
	for i, r := range m {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

func relKind(k string) string {
	switch k {
	case "r":
		return "table"
	case "p":
		return "partitioned table"
	case "i", "I":
		return "index"
	case "S":
		return "sequence"
	case "v":
		return "view"
	case "m":
		return "materialized view"
	case "t":
		return "toast table"
	case "f":
		return "foreign table"
	}
	return k
}

func sortLocks(ls []LockTaken) {
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && ls[j].Relation+ls[j].Mode < ls[j-1].Relation+ls[j-1].Mode; j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
}
