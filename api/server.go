package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/ingest"
)

// History is the part of the event store the query endpoints read.
type History interface {
	SubjectAccesses(ctx context.Context, subjectType, hash string, q custos.Query) ([]custos.StoredAccess, error)
	ActorAccesses(ctx context.Context, actorID string, q custos.Query) ([]custos.StoredAccess, error)
	AccountLogins(ctx context.Context, account string, q custos.Query) ([]custos.StoredLogin, error)
	SourceLogins(ctx context.Context, ip string, q custos.Query) ([]custos.StoredLogin, error)
}

// Tokens looks up bearer tokens by the hash of their secret.
type Tokens interface {
	TokenByHash(ctx context.Context, hash string) (custos.Token, error)
}

// Server holds what the API handlers need. Zero limits take defaults.
type Server struct {
	Pipeline *ingest.Pipeline
	History  History
	Feed     Feed
	Alerts   Alerts // nil: no alert routes
	Proofs   Proofs // nil: ?proof=1 is refused
	Index    *blind.Index
	Tokens   Tokens
	Log      *slog.Logger
	Registry *prometheus.Registry // metrics are registered here

	MaxBatch int   // events per ingest request; default 10,000
	MaxBody  int64 // bytes per request body; default 32 MiB

	metrics *metrics
	extra   []route
}

// Handler returns the API's routes. Call it once.
func (s *Server) Handler() http.Handler {
	if s.MaxBatch <= 0 {
		s.MaxBatch = 10000
	}
	if s.MaxBody <= 0 {
		s.MaxBody = 32 << 20
	}
	s.metrics = newMetrics(s.Registry)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
	mux.Handle("POST /api/v1/events", s.auth(custos.ScopeIngest, s.postEvents))
	mux.Handle("POST /api/v1/logins", s.auth(custos.ScopeIngest, s.postLogins))
	mux.Handle("GET /api/v1/subjects/{type}/{value}/accesses", s.auth(custos.ScopeRead, s.subjectAccesses))
	mux.Handle("GET /api/v1/actors/{id}/events", s.auth(custos.ScopeRead, s.actorEvents))
	mux.Handle("GET /api/v1/accounts/{account}/logins", s.auth(custos.ScopeRead, s.accountLogins))
	mux.Handle("GET /api/v1/sources/{ip}/logins", s.auth(custos.ScopeRead, s.sourceLogins))
	mux.Handle("GET /api/v1/events", s.auth(custos.ScopeRead, s.eventFeed))
	mux.Handle("GET /api/v1/logins", s.auth(custos.ScopeRead, s.loginFeed))
	if s.Alerts != nil {
		mux.Handle("GET /api/v1/alerts", s.auth(custos.ScopeRead, s.listAlerts))
		mux.Handle("POST /api/v1/alerts/{id}/status", s.auth(custos.ScopeAdmin, s.setAlertStatus))
	}
	for _, rt := range s.extra {
		mux.Handle(rt.pattern, s.auth(rt.scope, rt.h.ServeHTTP))
	}
	return s.observe(mux)
}

// Handle adds a route that another capability serves (alerts, approvals,
// relationships) behind the same authentication, logging and metrics.
// Call it before Handler.
func (s *Server) Handle(pattern string, scope custos.Scope, h http.Handler) {
	s.extra = append(s.extra, route{pattern, scope, h})
}

type route struct {
	pattern string
	scope   custos.Scope
	h       http.Handler
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type tokenKey struct{}

// auth checks the bearer token and its scope, and passes the token on in
// the request context.
func (s *Server) auth(scope custos.Scope, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || secret == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="custos"`)
			WriteError(w, http.StatusUnauthorized, "missing bearer token (Authorization: Bearer cst_…; create one with 'custos token create')")
			return
		}
		tok, err := s.Tokens.TokenByHash(r.Context(), custos.HashTokenSecret(strings.TrimSpace(secret)))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="custos", error="invalid_token"`)
			WriteError(w, http.StatusUnauthorized, "unknown or revoked token")
			return
		}
		if !tok.Allows(scope) {
			WriteError(w, http.StatusForbidden, "token lacks the "+string(scope)+" scope")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok)))
	})
}

func tokenFrom(ctx context.Context) custos.Token {
	t, _ := ctx.Value(tokenKey{}).(custos.Token)
	return t
}

// TokenFrom returns the token that authenticated a request, for handlers
// that other packages serve behind Server.Handle.
func TokenFrom(ctx context.Context) (custos.Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(custos.Token)
	return t, ok
}

// statusWriter records the status code for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// observe logs and counts each request by its route pattern. The path is
// never logged: it can hold a subject's identifier.
func (s *Server) observe(next *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if _, p := next.Handler(r); p != "" {
			route = p
		}
		if route == "" {
			route = "unmatched"
		}
		d := time.Since(start)
		s.metrics.requests.WithLabelValues(route, http.StatusText(sw.code)).Inc()
		s.metrics.duration.WithLabelValues(route).Observe(d.Seconds())
		level := slog.LevelDebug
		if sw.code >= 500 {
			level = slog.LevelError
		}
		s.Log.Log(r.Context(), level, "api request", "route", route, "status", sw.code, "duration", d, "token", tokenFrom(r.Context()).ID)
	})
}

type errorBody struct {
	Error  string              `json:"error"`
	Errors []custos.FieldError `json:"errors,omitempty"`
	More   int                 `json:"more,omitempty"`
}

// WriteError answers with {"error": msg}, the API's error shape.
func WriteError(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, errorBody{Error: msg})
}

// WriteJSON answers with v as JSON, for handlers mounted with Handle.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

// ingestStatus maps an ingest failure to a status code.
func ingestStatus(err error) int {
	var be *ingest.BatchError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &be):
		return http.StatusBadRequest
	case errors.As(err, &mbe), errors.Is(err, ingest.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	default:
		return http.StatusServiceUnavailable
	}
}

// writeIngestError answers a failed ingest with a body naming every bad
// event, without echoing values.
func (s *Server) writeIngestError(w http.ResponseWriter, r *http.Request, err error) {
	var be *ingest.BatchError
	switch code := ingestStatus(err); {
	case errors.As(err, &be):
		WriteJSON(w, code, errorBody{Error: "invalid batch; nothing was stored", Errors: be.Errors, More: be.More})
	case code == http.StatusRequestEntityTooLarge:
		WriteError(w, code, "batch larger than the configured limit (max_batch events, max_body_bytes); nothing was stored")
	case r.Context().Err() != nil:
		// The client went away; it will retry, and ids make that safe.
		WriteError(w, code, "request cancelled")
	default:
		s.Log.Error("api: ingest failed", "err", err)
		WriteError(w, code, "events could not be stored durably; nothing was acknowledged, retry with the same ids")
	}
}
