package main

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/repo"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/source"
)

// migrations are the service's schema, compiled into its binary.
//
//go:embed migrations/*.sql
var migrations embed.FS

// Note is a row of the service's notes table. The client may filter on
// slug and created_at and sort by title and created_at; body is neither.
type Note struct {
	ID        string     `db:"id,default,filter" json:"id"`
	Slug      string     `db:"slug,filter" json:"slug"`
	Title     string     `db:"title,sort" json:"title"`
	Body      *string    `db:"body" json:"body,omitempty"`
	CreatedAt time.Time  `db:"created_at,default,noupdate,filter,sort" json:"created_at"`
	UpdatedAt time.Time  `db:"updated_at,default" json:"updated_at"`
	DeletedAt *time.Time `db:"deleted_at" json:"-"`
}

// Notes is the repository of notes: the generic base and a query of its
// own, which runs in the caller's transaction too (DB(ctx)).
type Notes struct {
	*repo.Base[Note]
	bySlug string
}

func newNotes(db repo.DBTX, cursorKey []byte) (*Notes, error) {
	b, err := repo.New[Note](db, repo.Config{
		Table:      "notes",
		SoftDelete: "deleted_at",
		Audit:      true,
		AuditTable: "notes_audit",
		CursorKey:  cursorKey,
	})
	if err != nil {
		return nil, err
	}
	return &Notes{Base: b, bySlug: "SELECT " + b.SelectList() + " FROM notes WHERE slug = $1 AND deleted_at IS NULL"}, nil
}

// BySlug returns the live note with the slug.
func (n *Notes) BySlug(ctx context.Context, slug string) (Note, error) {
	return pgdb.QueryOne[Note](ctx, n.DB(ctx), n.bySlug, slug)
}

// Config is what the service needs from its environment.
type Config struct {
	DatabaseURL string
	// CursorKey signs list cursors; every instance of the service must
	// share it. Nil means a random key: cursors then die with the process.
	CursorKey []byte
	Logger    *slog.Logger // nil discards
}

// Service is the running service: its pool and its repository.
type Service struct {
	db    *pgdb.DB
	notes *Notes
	log   *slog.Logger
}

// Open connects (retrying while the server starts), applies the embedded
// migrations under pgmig's lock, so that instances starting together
// migrate once, and builds the repository.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := pgdb.Open(ctx, cfg.DatabaseURL, pgdb.Config{
		ApplicationName:    "notes-service",
		Logger:             log,
		SlowQueryThreshold: 500 * time.Millisecond,
	})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	files, err := fs.Sub(migrations, "migrations")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	r, err := runner.New(db.Pool(), source.FromFS(files), runner.Options{Logger: log, LockTimeout: time.Minute})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	rep, err := r.Up(ctx, runner.UpOptions{})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	log.Info("migrated", "applied", len(rep.Applied))
	notes, err := newNotes(db.Pool(), cfg.CursorKey)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Service{db: db, notes: notes, log: log}, nil
}

// Close closes the pool.
func (s *Service) Close() { s.db.Close() }
