package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// lineHandler prints the engine's warnings in the CLI's own voice,
// "warning: FILE:LINE: message (key=value, …)", instead of slog's
// time=… level=WARN msg=… lines, which read as a crash log on a terminal
// and differ from every other warning pgmig prints. --verbose keeps slog's
// text handler: there the records are a trace, timestamps and all.
type lineHandler struct {
	w      io.Writer
	mu     *sync.Mutex
	level  slog.Leveler
	label  func(string) string // paints "warning:"
	attrs  []slog.Attr
	prefix string // group names, dot-terminated
}

func newLineHandler(w io.Writer, level slog.Leveler, label func(string) string) *lineHandler {
	return &lineHandler{w: w, mu: new(sync.Mutex), level: level, label: label}
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var file, line string
	var rest []string
	add := func(a slog.Attr) bool {
		a.Value = a.Value.Resolve()
		switch {
		case a.Equal(slog.Attr{}):
		case h.prefix == "" && a.Key == "file":
			file = a.Value.String()
		case h.prefix == "" && a.Key == "line":
			line = a.Value.String()
		default:
			rest = append(rest, h.prefix+a.Key+"="+a.Value.String())
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	var b strings.Builder
	word := "warning"
	switch {
	case r.Level >= slog.LevelError:
		word = "error"
	case r.Level < slog.LevelWarn:
		word = strings.ToLower(r.Level.String())
	}
	b.WriteString(h.label(word + ":"))
	b.WriteByte(' ')
	if file != "" {
		b.WriteString(file)
		if line != "" {
			b.WriteString(":" + line)
		}
		b.WriteString(": ")
	}
	b.WriteString(r.Message)
	if len(rest) > 0 {
		b.WriteString(" (" + strings.Join(rest, ", ") + ")")
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(c.attrs[:len(c.attrs):len(c.attrs)], as...)
	return &c
}

func (h *lineHandler) WithGroup(g string) slog.Handler {
	if g == "" {
		return h
	}
	c := *h
	c.prefix = fmt.Sprintf("%s%s.", h.prefix, g)
	return &c
}
