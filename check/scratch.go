package check

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/lock"
)

// DropTimeout bounds Scratch.Drop. The drop runs on a context of its own,
// not the caller's, so that a cancelled run (Ctrl-C) still cleans up.
const DropTimeout = 30 * time.Second

// Scratch is a database created for one check on the server of another
// connection, to be dropped when the check is done.
type Scratch struct {
	// Name is the database's name: the prefix given to NewScratch followed
	// by 12 random hex digits.
	Name string
	// Pool is connected to the scratch database with the settings of the
	// server pool given to NewScratch. Drop closes it.
	Pool *pgxpool.Pool

	server *pgxpool.Pool
	// alive holds the database's liveness lock (see sweepOrphans) from
	// before CREATE DATABASE until after DROP.
	alive *pgx.Conn
	log   *slog.Logger
}

// PrivilegeError reports a role that may not create the scratch database
// (SQLSTATE 42501). It unwraps to the *pgconn.PgError.
type PrivilegeError struct {
	Database string // the scratch database it tried to create
	Role     string // current_user; empty when it could not be read
	Err      error
}

func (e *PrivilegeError) Error() string {
	return fmt.Sprintf("create scratch database %s: %v\nthe role %q may not create databases: grant it with ALTER ROLE %s CREATEDB",
		e.Database, e.Err, e.Role, quoteIdent(e.Role))
}

func (e *PrivilegeError) Unwrap() error { return e.Err }

// NewScratch creates a database named prefix plus 12 random hex digits on
// the server that server is connected to (the role needs CREATEDB), and
// connects to it with server's settings (user, password, TLS, pool size),
// so no connection string is rewritten. server must stay open until Drop.
//
// On error nothing is left behind: a database the server created as ctx
// ended is dropped again. Otherwise the caller defers Drop at once.
// logger (nil discards) gets "created scratch database" and "dropped
// scratch database" with the key name.
func NewScratch(ctx context.Context, server *pgxpool.Pool, prefix string, logger *slog.Logger) (*Scratch, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	s := &Scratch{Name: prefix + hex.EncodeToString(rnd[:]), server: server, log: logger}
	if !plainIdent.MatchString(s.Name) || len(s.Name) > 63 {
		return nil, fmt.Errorf("scratch database prefix %q: want lower-case letters, digits and _, at most 51 bytes", prefix)
	}
	sweepOrphans(ctx, server, prefix, logger)
	// The liveness lock, taken before the database exists, so that no
	// sweep ever finds it unheld while this process lives. A connection of
	// its own, not the pool's: it is held for the scratch database's life.
	alive, err := pgx.ConnectConfig(ctx, server.Config().ConnConfig.Copy())
	if err == nil {
		if _, err = alive.Exec(ctx, "SELECT pg_advisory_lock($1)", aliveKey(s.Name)); err != nil {
			alive.Close(context.WithoutCancel(ctx))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("create scratch database %s: take its liveness lock: %w", s.Name, err)
	}
	s.alive = alive
	if _, err := server.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.Name}.Sanitize()); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42501" {
			var role string
			server.QueryRow(context.WithoutCancel(ctx), "SELECT current_user").Scan(&role)
			s.releaseAlive()
			return nil, &PrivilegeError{Database: s.Name, Role: role, Err: err}
		}
		// The database may exist all the same, if ctx ended as the server
		// created it.
		s.Drop()
		return nil, fmt.Errorf("create scratch database %s: %w", s.Name, err)
	}
	logger.Info("created scratch database", "name", s.Name)
	cfg := server.Config()
	cfg.ConnConfig.Database = s.Name
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		err = pool.Ping(ctx)
		if err != nil {
			pool.Close()
		}
	}
	if err != nil {
		s.Drop()
		return nil, fmt.Errorf("connect to scratch database %s: %w", s.Name, err)
	}
	s.Pool = pool
	return s, nil
}

// Drop closes Pool (waiting for connections acquired from it to be
// released) and drops the database WITH (FORCE), which ends any other
// session still in it. It runs within DropTimeout on a context of its
// own, whatever became of the caller's. Calling it again does nothing. A
// failure is logged (at warning level, naming the database to drop by
// hand) and returned.
func (s *Scratch) Drop() error {
	if s.Pool != nil {
		s.Pool.Close()
		s.Pool = nil
	}
	if s.server == nil {
		return nil
	}
	server := s.server
	s.server = nil
	ctx, cancel := context.WithTimeout(context.Background(), DropTimeout)
	defer cancel()
	if _, err := server.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{s.Name}.Sanitize()+" WITH (FORCE)"); err != nil {
		// Its liveness lock goes with this process: the next run's sweep
		// drops it.
		s.releaseAlive()
		s.log.Warn("could not drop the scratch database; drop it by hand", "name", s.Name, "err", err)
		return fmt.Errorf("drop scratch database %s: %w", s.Name, err)
	}
	s.releaseAlive()
	s.log.Info("dropped scratch database", "name", s.Name)
	return nil
}

func (s *Scratch) releaseAlive() {
	if s.alive != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Unlocked by name first: behind a transaction pooler the server
		// session, and a lock left in it, outlives this connection.
		s.alive.Exec(ctx, "SELECT pg_advisory_unlock($1)", aliveKey(s.Name))
		s.alive.Close(ctx) // the session ends, and its lock with it
		s.alive = nil
	}
}

// aliveKey is the advisory lock key a scratch database's creator holds
// while the database lives.
func aliveKey(name string) int64 { return lock.Key("scratch " + name) }

// sweepOrphans drops the scratch databases of prefix that a pgmig killed
// outright (SIGKILL, a lost machine) left behind, which Drop never ran
// for. A scratch database is an orphan when it is this role's, no session
// holds its liveness lock (its creator took it, in whatever database it
// was connected to, before creating it, and holds it until after the
// drop; pg_locks shows every database's), and no session is connected to
// it, which also keeps it where a pooler made the lock unreliable. The
// sweep is best effort: what it cannot do is logged, and the run goes on.
func sweepOrphans(ctx context.Context, server *pgxpool.Pool, prefix string, logger *slog.Logger) {
	rows, err := server.Query(ctx, `SELECT d.datname FROM pg_database d
WHERE d.datname ~ $1 AND d.datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user)
  AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)`, "^"+regexp.QuoteMeta(prefix)+"[0-9a-f]{12}$")
	if err != nil {
		logger.Warn("could not look for orphaned scratch databases", "err", err)
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(names) == 0 {
		return
	}
	// A bigint advisory key is shown as its high and low halves.
	rows, err = server.Query(ctx, `SELECT classid::bigint, objid::bigint FROM pg_locks
WHERE locktype = 'advisory' AND objsubid = 1 AND granted`)
	if err != nil {
		logger.Warn("could not look for orphaned scratch databases", "err", err)
		return
	}
	held := map[int64]bool{}
	var hi, lo int64
	if _, err := pgx.ForEachRow(rows, []any{&hi, &lo}, func() error {
		held[int64(uint64(hi)<<32|uint64(lo))] = true
		return nil
	}); err != nil {
		return
	}
	for _, name := range names {
		if held[aliveKey(name)] {
			continue
		}
		// FORCE: a session that connected since the query above (none
		// should) cannot keep an orphan alive.
		if _, err := server.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			logger.Warn("could not drop an orphaned scratch database", "name", name, "err", err)
			continue
		}
		logger.Info("dropped orphaned scratch database", "name", name)
	}
}

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// quoteIdent quotes name for SQL only when it needs quotes, for messages
// people copy.
func quoteIdent(name string) string {
	if plainIdent.MatchString(name) {
		return name
	}
	return pgx.Identifier{name}.Sanitize()
}
