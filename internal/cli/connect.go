package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// connectError is a connection that failed, as the CLI reports it: one
// line naming host:port and the last cause. pgx lists every attempt (each
// host, TLS then plain under sslmode=prefer), which repeated "connection
// refused" and, for a wrong password, put a misleading "server refused TLS
// connection" first. It unwraps to the full error, so the SQLSTATE still
// reaches the JSON document.
type connectError struct {
	msg string
	err error
}

func (e *connectError) Error() string { return e.msg }

func (e *connectError) Unwrap() error { return e.err }

// servers names where cfg connects: host:port, then any fallbacks.
func servers(cfg *pgconn.Config) string {
	addrs := []string{net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))}
	for _, fb := range cfg.Fallbacks {
		a := net.JoinHostPort(fb.Host, fmt.Sprint(fb.Port))
		if a != addrs[len(addrs)-1] {
			addrs = append(addrs, a)
		}
	}
	return strings.Join(addrs, ", ")
}

// summarizeConnect turns Open's error into a connectError; cfg is the
// parsed connection string (nil when it could not be parsed: then err is
// kept as it is).
func summarizeConnect(err error, cfg *pgconn.Config, timeout time.Duration) error {
	if cfg == nil {
		return err
	}
	cause := lastCause(err)
	if pw := cfg.Password; len(pw) >= 3 {
		cause = strings.ReplaceAll(cause, pw, "xxxxx")
	}
	msg := fmt.Sprintf("cannot connect to %s (database %s, user %s): %s", servers(cfg), orUser(cfg.Database, cfg.User), cfg.User, cause)
	if errors.Is(err, context.DeadlineExceeded) {
		msg += fmt.Sprintf("; gave up after %s", timeout)
	}
	return &connectError{msg: msg, err: err}
}

func orUser(db, user string) string {
	if db == "" {
		return user
	}
	return db
}

// lastCause is the reason the last attempt failed, in a few words: the
// server's error when one answered (a wrong password, a missing role or
// database), else the system's (connection refused, no such host), else
// the innermost error of the last attempt.
func lastCause(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.Error()
	}
	for {
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			if es := u.Unwrap(); len(es) > 0 {
				err = es[len(es)-1]
				continue
			}
		case interface{ Unwrap() error }:
			if next := u.Unwrap(); next != nil {
				err = next
				continue
			}
		}
		return err.Error()
	}
}

// waitLine shows, on a terminal, that pgmig waits for a server and for how
// long, rewriting one line in place; done clears it. The count goes up
// once a second on its own: Open retries on a backoff schedule (0.1 s
// growing to 2 s, jittered), so a line rewritten only on each retry would
// skip seconds and stand still between attempts.
type waitLine struct {
	mu    sync.Mutex
	w     io.Writer
	where string
	start time.Time     // when the wait began; zero until the first retry
	stop  chan struct{} // closed by done, ends the ticking
	shown int           // width of what is on the line
}

func (l *waitLine) retry(_ int, elapsed time.Duration, _ error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.start.IsZero() {
		l.start = time.Now().Add(-elapsed)
		l.stop = make(chan struct{})
		go l.tick(l.start, l.stop)
	}
	l.draw(elapsed)
}

// tick redraws the line on each whole second of the wait until stop.
func (l *waitLine) tick(start time.Time, stop chan struct{}) {
	for n := time.Duration(1); ; n++ {
		t := time.NewTimer(time.Until(start.Add(n * time.Second)))
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
		l.mu.Lock()
		if l.stop == stop {
			l.draw(time.Since(start))
		}
		l.mu.Unlock()
	}
}

// draw writes the line for elapsed; l.mu is held.
func (l *waitLine) draw(elapsed time.Duration) {
	s := fmt.Sprintf("waiting for %s … %ds", l.where, int(elapsed/time.Second))
	fmt.Fprintf(l.w, "\r%-*s", l.shown, s)
	l.shown = max(l.shown, len([]rune(s)))
}

func (l *waitLine) done() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stop != nil {
		close(l.stop)
		l.stop = nil
	}
	if l.shown > 0 {
		fmt.Fprintf(l.w, "\r%s\r", strings.Repeat(" ", l.shown))
		l.shown = 0
	}
}
