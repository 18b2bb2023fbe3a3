package pgdb

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Health is the outcome of Check, shaped for JSON.
type Health struct {
	// Healthy is true when the server answered a query.
	Healthy bool `json:"healthy"`
	// Status is "ok" when Healthy, else "unavailable".
	Status string `json:"status"`
	// Latency is the time taken to acquire a connection and run one query.
	Latency time.Duration `json:"-"`
	// LatencyMS is Latency in milliseconds, for JSON.
	LatencyMS float64 `json:"latency_ms"`
	// ServerVersion is the server's server_version, e.g. "15.8".
	ServerVersion string `json:"server_version,omitempty"`
	// ServerVersionNum is server_version_num, e.g. 150008.
	ServerVersionNum int `json:"server_version_num,omitempty"`
	// Pool holds the pool's statistics at the time of the check.
	Pool PoolStats `json:"pool"`
	// Error is the text of the error that made the check fail.
	Error string `json:"error,omitempty"`
}

// PoolStats is a snapshot of pgxpool statistics.
type PoolStats struct {
	AcquiredConns           int32   `json:"acquired_conns"`
	IdleConns               int32   `json:"idle_conns"`
	ConstructingConns       int32   `json:"constructing_conns"`
	TotalConns              int32   `json:"total_conns"`
	MaxConns                int32   `json:"max_conns"`
	AcquireCount            int64   `json:"acquire_count"`
	EmptyAcquireCount       int64   `json:"empty_acquire_count"`
	CanceledAcquireCount    int64   `json:"canceled_acquire_count"`
	NewConnsCount           int64   `json:"new_conns_count"`
	AcquireDurationMS       float64 `json:"acquire_duration_ms"`
	MaxLifetimeDestroyCount int64   `json:"max_lifetime_destroy_count"`
	MaxIdleDestroyCount     int64   `json:"max_idle_destroy_count"`
}

const (
	statusOK          = "ok"
	statusUnavailable = "unavailable"
)

// Check asks the server for its version through pool and reports the
// outcome, the round-trip latency and the pool's statistics. It never
// returns an error: a failure is a Health that is not Healthy, with Error
// set. The check is bounded by ctx; give it a deadline.
func Check(ctx context.Context, pool *pgxpool.Pool) Health {
	start := time.Now()
	var h Health
	err := pool.QueryRow(ctx,
		"SELECT current_setting('server_version'), current_setting('server_version_num')::int",
	).Scan(&h.ServerVersion, &h.ServerVersionNum)
	h.Latency = time.Since(start)
	h.LatencyMS = float64(h.Latency.Microseconds()) / 1000
	h.Pool = poolStats(pool)
	if err != nil {
		h.Status = statusUnavailable
		h.Error = err.Error()
		return h
	}
	h.Healthy = true
	h.Status = statusOK
	return h
}

func poolStats(pool *pgxpool.Pool) PoolStats {
	s := pool.Stat()
	return PoolStats{
		AcquiredConns:           s.AcquiredConns(),
		IdleConns:               s.IdleConns(),
		ConstructingConns:       s.ConstructingConns(),
		TotalConns:              s.TotalConns(),
		MaxConns:                s.MaxConns(),
		AcquireCount:            s.AcquireCount(),
		EmptyAcquireCount:       s.EmptyAcquireCount(),
		CanceledAcquireCount:    s.CanceledAcquireCount(),
		NewConnsCount:           s.NewConnsCount(),
		AcquireDurationMS:       float64(s.AcquireDuration().Microseconds()) / 1000,
		MaxLifetimeDestroyCount: s.MaxLifetimeDestroyCount(),
		MaxIdleDestroyCount:     s.MaxIdleDestroyCount(),
	}
}

// DefaultHealthTimeout bounds a check made by HealthHandler when
// HealthOptions.Timeout is zero.
const DefaultHealthTimeout = 5 * time.Second

// HealthOptions tunes HealthHandler. Its zero value serves the public form.
type HealthOptions struct {
	// Detailed serves the whole Health: latency, server version, pool
	// figures and the error text. Off by default: those help an attacker
	// more than a load balancer, so serve them only on an internal port or
	// behind authentication.
	Detailed bool
	// Timeout bounds each check. Zero means DefaultHealthTimeout (5s).
	Timeout time.Duration
}

// HealthHandler serves Check as JSON: 200 when healthy, 503 when not. The
// public form's body is {"status":"ok"} or {"status":"unavailable"} and
// nothing else; with opts.Detailed it is the whole Health. Each request
// runs its own check, bounded by the request's context and opts.Timeout.
// It is safe for concurrent use.
func HealthHandler(pool *pgxpool.Pool, opts HealthOptions) http.Handler {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultHealthTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		h := Check(ctx, pool)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !h.Healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		var body any = struct {
			Status string `json:"status"`
		}{h.Status}
		if opts.Detailed {
			body = h
		}
		_ = json.NewEncoder(w).Encode(body) // the client has gone if this fails
	})
}
