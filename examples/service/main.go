// Command service is a small notes service written against pgdb and repo
// the way their docs teach: embedded migrations applied at start under
// pgmig's lock, a pool, /healthz, a repository with soft delete and audit,
// and a handler that turns the library's errors into HTTP status codes.
//
//	DATABASE_URL=postgres://localhost/notes CURSOR_KEY=$(openssl rand -hex 32) go run ./examples/service
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(ctx, log); err != nil {
		log.Error("service stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	cfg := Config{DatabaseURL: os.Getenv("DATABASE_URL"), Logger: log}
	if k := os.Getenv("CURSOR_KEY"); k != "" {
		key, err := hex.DecodeString(k)
		if err != nil {
			return fmt.Errorf("CURSOR_KEY: want hex: %w", err)
		}
		cfg.CursorKey = key
	} else {
		log.Warn("CURSOR_KEY unset: list cursors will not survive a restart or reach another instance")
	}
	svc, err := Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	srv := &http.Server{Addr: addr, Handler: svc.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("listening", "addr", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
