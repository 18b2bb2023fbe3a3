package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/lock"
)

func TestServerLost(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Code: code} }
	step := func(err error) error { return &MigrationError{Version: 3, Name: "x", Err: err} }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection broke mid-query", step(fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF)), true},
		{"connection reset", step(&net.OpError{Op: "read", Err: syscall.ECONNRESET}), true},
		{"server shutting down", step(pg("57P01")), true},
		{"server crashed", pg("57P02"), true},
		{"read only: a standby or a demoted primary", step(pg("25006")), true},
		{"connection failure class", pg("08006"), true},
		{"lock gone with its session", fmt.Errorf("%w: session ended", lock.ErrLost), true},
		{"conn closed", fmt.Errorf("x: %w", pgconn.ErrConnClosed), true},
		{"the migration's own SQL", step(pg("42P07")), false},
		{"a protocol violation", pg("08P01"), false},
		{"lock not acquired in time", &lock.TimeoutError{Name: "public.pgmig_migrations"}, false},
		{"cancelled", step(fmt.Errorf("x: %w", context.Canceled)), false},
		{"validation", &DirtyError{Version: 2}, false},
		{"other", errors.New("boom"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := serverLost(tc.err); got != tc.want {
				t.Errorf("serverLost(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
