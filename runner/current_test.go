package runner_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// historyTracer closes read when a query naming the tracking table ends.
type historyTracer struct{ read chan struct{} }

func (h *historyTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, "pgmig_migrations") {
		return context.WithValue(ctx, h, true)
	}
	return ctx
}

func (h *historyTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if ctx.Value(h) != nil {
		select {
		case <-h.read:
		default:
			close(h.read)
		}
	}
}

// waitingSource returns its migrations once the history has been read.
type waitingSource struct {
	history <-chan struct{}
	ms      []source.Migration
}

func (w waitingSource) Migrations(ctx context.Context) ([]source.Migration, error) {
	select {
	case <-w.history:
		return w.ms, nil
	case <-time.After(30 * time.Second): // a deadlock breaker, not a timing bound
		return nil, errors.New("the history was not read while the files were")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestStatusReadsHistoryWhileFilesLoad: Status and Validate query the
// history while the files are still being read, rather than after.
func TestStatusReadsHistoryWhileFilesLoad(t *testing.T) {
	e := newEnv(t)
	files := fstest.MapFS{"001_a.sql": mig("CREATE TABLE a (id int);", "DROP TABLE a;")}
	if _, err := e.runner(files, runner.Options{}).Up(context.Background(), runner.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	ms, err := source.FromFS(files).Migrations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"Status", "Validate"} {
		cfg, err := pgxpool.ParseConfig(e.url)
		if err != nil {
			t.Fatal(err)
		}
		tr := &historyTracer{read: make(chan struct{})}
		cfg.ConnConfig.Tracer = tr
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		r, err := runner.New(pool, waitingSource{history: tr.read, ms: ms}, runner.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var st runner.Status
		if op == "Status" {
			st, err = r.Status(context.Background())
		} else {
			st, err = r.Validate(context.Background())
		}
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if len(st.Migrations) != 1 || st.Migrations[0].State != runner.Applied {
			t.Errorf("%s: %+v, want migration 1 applied", op, st.Migrations)
		}
	}
}

// TestStatusFilesErrorWins: when both the files and the history fail,
// Status reports the files' error, as it did when it read them first.
func TestStatusFilesErrorWins(t *testing.T) {
	e := newEnv(t)
	// A tracking table the history query cannot read.
	if _, err := e.pool.Exec(context.Background(), "CREATE TABLE pgmig_migrations (x int)"); err != nil {
		t.Fatal(err)
	}
	bad := fstest.MapFS{"001_a.sql": mig("SELECT 1;", ""), "001_b.sql": mig("SELECT 1;", "")}
	_, err := e.runner(bad, runner.Options{}).Status(context.Background())
	if !errors.Is(err, source.ErrInvalid) {
		t.Fatalf("Status: %v, want the files' error (source.ErrInvalid)", err)
	}
	if strings.Contains(err.Error(), `column "version" does not exist`) || strings.Contains(err.Error(), "SQLSTATE") {
		t.Errorf("Status: the history's error reached the caller: %v", err)
	}
	// The history's error alone is still reported.
	good := fstest.MapFS{"001_a.sql": mig("SELECT 1;", "")}
	if _, err := e.runner(good, runner.Options{}).Status(context.Background()); err == nil {
		t.Fatal("Status over an unreadable tracking table: no error")
	}
}
