package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pgmig/pgmig/pgdb"
	"github.com/pgmig/pgmig/repo"
)

// Handler routes the service's HTTP API:
//
//	GET    /healthz          status only (pgdb's public health form)
//	POST   /notes            create: {"slug", "title", "body"}
//	GET    /notes            keyset page: ?sort=-created_at&limit=20&after=…&slug=…
//	GET    /notes/{id}
//	GET    /notes/by-slug/{slug}
//	PATCH  /notes/{id}       {"title": …, "body": …}
//	DELETE /notes/{id}       soft delete
//
// The caller's user id comes from the X-User-ID header (an auth
// middleware's job in a real service) and goes into the audit trail.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", pgdb.HealthHandler(s.db.Pool(), pgdb.HealthOptions{}))
	mux.HandleFunc("POST /notes", s.create)
	mux.HandleFunc("GET /notes", s.list)
	mux.HandleFunc("GET /notes/{id}", s.get)
	mux.HandleFunc("GET /notes/by-slug/{slug}", s.bySlug)
	mux.HandleFunc("PATCH /notes/{id}", s.patch)
	mux.HandleFunc("DELETE /notes/{id}", s.delete)
	return mux
}

// actor is who makes the request, for the audit rows.
func actor(r *http.Request) context.Context {
	a := repo.Actor{UserID: r.Header.Get("X-User-ID"), UserAgent: r.UserAgent()}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		a.IP, _ = netip.ParseAddr(host)
	}
	return repo.WithActor(r.Context(), a)
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) {
	var n Note
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&n); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{"request body: " + err.Error()})
		return
	}
	n = Note{Slug: n.Slug, Title: n.Title, Body: n.Body} // the client sets no id or times
	if err := s.notes.Create(actor(r), &n); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, n)
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) {
	n, err := s.notes.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

func (s *Service) bySlug(w http.ResponseWriter, r *http.Request) {
	n, err := s.notes.BySlug(r.Context(), r.PathValue("slug"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

type page struct {
	Items []Note `json:"items"`
	Next  string `json:"next,omitempty"`
}

// list turns the query string into a keyset page: every parameter but
// sort, limit and after is an equality filter. Whatever a client puts
// there ends as a value or an invalid query (400), never as SQL.
func (s *Service) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sort, err := repo.ParseSort(cmp(q.Get("sort"), "-created_at"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	opts := repo.KeysetOptions{Sort: sort, After: q.Get("after")}
	if l := q.Get("limit"); l != "" {
		if opts.Limit, err = strconv.Atoi(l); err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{"limit: not a number"})
			return
		}
	}
	for k, vs := range q {
		switch k {
		case "sort", "limit", "after":
			continue
		}
		for _, v := range vs {
			opts.Filters = append(opts.Filters, repo.Filter{Field: k, Op: repo.Eq, Value: v})
		}
	}
	p, err := s.notes.ListKeyset(r.Context(), opts)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page{Items: p.Items, Next: p.Next})
}

func (s *Service) patch(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{"request body: " + err.Error()})
		return
	}
	changes := map[string]any{}
	if body.Title != nil {
		changes["title"] = *body.Title
	}
	if body.Body != nil {
		changes["body"] = *body.Body
	}
	n, err := s.notes.Patch(actor(r), r.PathValue("id"), changes)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

func (s *Service) delete(w http.ResponseWriter, r *http.Request) {
	if err := s.notes.Delete(actor(r), r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type errorBody struct {
	Error string `json:"error"`
}

// status maps the library's errors to HTTP: the client's mistakes are 4xx
// with the reason, a lost or overloaded server is 503, and anything else
// is a 500 whose details go to the log only.
func status(err error) (int, string) {
	var ce *pgdb.ConstraintError
	switch {
	case errors.Is(err, repo.ErrInvalidQuery): // also pgdb.ErrInvalidInput: bad filters, keys, values, cursors
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, repo.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.As(err, &ce):
		// The constraint's name and column, not the server's message,
		// which quotes the row.
		return http.StatusConflict, "conflict: " + ce.Constraint
	case pgdb.Retryable(err), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "database unavailable"
	}
	return http.StatusInternalServerError, "internal error"
}

func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := status(err)
	if code >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, code, errorBody{msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client has gone if this fails
}

func cmp(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
