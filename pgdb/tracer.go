package pgdb

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Tracer logs queries, batches and COPY FROM through log/slog. Open installs
// one when Config.Logger is set; it can also be set as the Tracer of any
// pgx.ConnConfig. Its lines use the keys sql, duration, args and err.
// It is safe for concurrent use.
type Tracer struct {
	// Logger receives the lines. It must not be nil.
	Logger *slog.Logger
	// LogAll logs every query at Debug level.
	LogAll bool
	// LogArgs adds the arguments under the key args.
	LogArgs bool
	// SlowThreshold logs at Warn level every query that takes at least
	// this long, whatever LogAll says. Zero or negative turns it off.
	SlowThreshold time.Duration
}

var (
	_ pgx.QueryTracer    = (*Tracer)(nil)
	_ pgx.BatchTracer    = (*Tracer)(nil)
	_ pgx.CopyFromTracer = (*Tracer)(nil)
)

type traceKey struct{}

type traceStart struct {
	sql   string
	args  []any
	start time.Time
}

// TraceQueryStart implements pgx.QueryTracer.
func (t *Tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{sql: data.SQL, args: data.Args, start: time.Now()})
}

// TraceQueryEnd implements pgx.QueryTracer.
func (t *Tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	t.end(ctx, "query", data.Err)
}

// TraceBatchStart implements pgx.BatchTracer.
func (t *Tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{sql: "batch", start: time.Now()})
}

// TraceBatchQuery implements pgx.BatchTracer. Queries of a batch are logged
// one by one only when LogAll is set; the batch as a whole is timed.
func (t *Tracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	if !t.LogAll {
		return
	}
	attrs := []slog.Attr{slog.String("sql", data.SQL)}
	if t.LogArgs {
		attrs = append(attrs, slog.Any("args", data.Args))
	}
	if data.Err != nil {
		attrs = append(attrs, slog.Any("err", data.Err))
	}
	t.Logger.LogAttrs(ctx, slog.LevelDebug, "batch query", attrs...)
}

// TraceBatchEnd implements pgx.BatchTracer.
func (t *Tracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	t.end(ctx, "batch", data.Err)
}

// TraceCopyFromStart implements pgx.CopyFromTracer.
func (t *Tracer) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{sql: "COPY " + data.TableName.Sanitize() + " FROM STDIN", start: time.Now()})
}

// TraceCopyFromEnd implements pgx.CopyFromTracer.
func (t *Tracer) TraceCopyFromEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromEndData) {
	t.end(ctx, "copy from", data.Err)
}

func (t *Tracer) end(ctx context.Context, msg string, err error) {
	s, ok := ctx.Value(traceKey{}).(traceStart)
	if !ok {
		return
	}
	d := time.Since(s.start)
	level := slog.LevelDebug
	switch {
	case t.SlowThreshold > 0 && d >= t.SlowThreshold:
		level = slog.LevelWarn
		msg = "slow " + msg
	case !t.LogAll:
		return
	}
	if !t.Logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 4)
	attrs = append(attrs, slog.String("sql", s.sql), slog.Duration("duration", d))
	if t.LogArgs && s.args != nil {
		attrs = append(attrs, slog.Any("args", s.args))
	}
	if err != nil {
		attrs = append(attrs, slog.Any("err", err))
	}
	t.Logger.LogAttrs(ctx, level, msg, attrs...)
}
