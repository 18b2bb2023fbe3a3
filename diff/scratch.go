package diff

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// scratch is a database created on the server of another pool for one
// proof, dropped when it is done.
//
// It is a minimal stand-in for the scratch database of package check,
// which was not yet on main when this was written; Prove should move to
// check.NewScratch once it is.
type scratch struct {
	name   string
	pool   *pgxpool.Pool
	server *pgxpool.Pool
	log    *slog.Logger
}

func newScratch(ctx context.Context, server *pgxpool.Pool, prefix string, logger *slog.Logger) (*scratch, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	s := &scratch{name: prefix + hex.EncodeToString(rnd[:]), server: server, log: logger}
	if _, err := server.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.name}.Sanitize()); err != nil {
		s.drop() // it may exist all the same, if ctx ended as the server created it
		return nil, fmt.Errorf("create scratch database %s: %w", s.name, err)
	}
	logger.Info("created scratch database", "name", s.name)
	cfg := server.Config()
	cfg.ConnConfig.Database = s.name
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		if err = pool.Ping(ctx); err != nil {
			pool.Close()
		}
	}
	if err != nil {
		s.drop()
		return nil, fmt.Errorf("connect to scratch database %s: %w", s.name, err)
	}
	s.pool = pool
	return s, nil
}

// drop closes the pool and drops the database on a context of its own,
// so that a cancelled run still cleans up.
func (s *scratch) drop() {
	if s.pool != nil {
		s.pool.Close()
		s.pool = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.server.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{s.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		s.log.Warn("could not drop the scratch database; drop it by hand", "name", s.name, "err", err)
		return
	}
	s.log.Info("dropped scratch database", "name", s.name)
}
