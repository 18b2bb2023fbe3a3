package runner

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Blocker is a session holding a lock that a migration waits for.
type Blocker struct {
	PID             int           `json:"pid"`
	User            string        `json:"user"`
	ApplicationName string        `json:"application_name"`
	State           string        `json:"state"`
	Query           string        `json:"query"` // its current or last query, cut to 200 characters
	InTransaction   time.Duration `json:"-"`     // how long its transaction has been open: an upper bound on how long it has held the lock
	XactAgeMS       float64       `json:"xact_age_ms"`
}

// Progress is a sample of a running step, taken from another connection.
type Progress struct {
	Elapsed   time.Duration
	Statement int    // 1-based statement of a no-transaction section; 0 in a transactional one
	WaitEvent string // e.g. "Lock:relation" when waiting for a lock
	Blockers  []Blocker
	// Index build progress from pg_stat_progress_create_index, when one runs.
	Phase              string
	BlocksDone, Blocks int64
	TuplesDone, Tuples int64
	Index, Relation    string
}

// monitor samples the migration connection's backend from the lock's
// connection, which is otherwise idle while a step runs.
type monitor struct {
	conn *pgx.Conn // the lock connection
	pid  uint32    // the work connection's backend
}

const sampleSQL = `
SELECT coalesce(a.wait_event_type || ':' || a.wait_event, ''),
  (SELECT coalesce(json_agg(json_build_object(
      'pid', b.pid, 'user', coalesce(b.usename, ''), 'application_name', coalesce(b.application_name, ''),
      'state', coalesce(b.state, ''), 'query', left(coalesce(b.query, ''), 200),
      'xact_age_ms', coalesce(extract(epoch FROM now() - b.xact_start) * 1000, 0))), '[]')
   FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(a.pid))),
  coalesce(p.phase, ''), coalesce(p.blocks_done, 0), coalesce(p.blocks_total, 0),
  coalesce(p.tuples_done, 0), coalesce(p.tuples_total, 0),
  coalesce(p.index_relid::regclass::text, ''), coalesce(p.relid::regclass::text, '')
FROM pg_stat_activity a
LEFT JOIN pg_stat_progress_create_index p ON p.pid = a.pid
WHERE a.pid = $1`

func (m *monitor) sample(ctx context.Context) (Progress, error) {
	var p Progress
	var blockers []byte
	err := m.conn.QueryRow(ctx, sampleSQL, int64(m.pid)).Scan(&p.WaitEvent, &blockers,
		&p.Phase, &p.BlocksDone, &p.Blocks, &p.TuplesDone, &p.Tuples, &p.Index, &p.Relation)
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(blockers, &p.Blockers); err != nil {
		return p, err
	}
	for i := range p.Blockers {
		p.Blockers[i].InTransaction = time.Duration(p.Blockers[i].XactAgeMS * float64(time.Millisecond))
	}
	return p, nil
}

// watch samples every interval until the returned stop is called, passing
// samples to onSample, and remembers the last blockers seen. stop waits for
// the sampler to finish, so the lock connection is free again and no
// callback runs after it returns.
func (m *monitor) watch(ctx context.Context, interval time.Duration, onSample func(Progress)) (stop func() []Blocker) {
	if m == nil || interval <= 0 {
		return func() []Blocker { return nil }
	}
	// Stopping never cancels a sample in flight: on the lock's connection a
	// cancelled query may close the connection, and with it the lock.
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var last []Blocker
	start := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			p, err := m.sample(ctx)
			if err != nil {
				// A hiccup: the step itself reports what matters.
				continue
			}
			p.Elapsed = time.Since(start)
			if len(p.Blockers) > 0 {
				mu.Lock()
				last = p.Blockers
				mu.Unlock()
			}
			if onSample != nil {
				onSample(p)
			}
		}
	}()
	return func() []Blocker {
		close(done)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}
