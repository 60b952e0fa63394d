package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/custos-dev/custos"
)

// Handler serves the export registry over HTTP:
//
//	POST /api/v1/exports  one Export as JSON (ingest scope): a system that
//	                      cannot be proxied reports an export it made.
//	                      Subjects and canaries may carry a raw value
//	                      (hashed at once, never kept) or a hash.
//	GET  /api/v1/exports  list (read scope): ?actor=, ?from=, ?to= (RFC
//	                      3339), ?limit=, or ?subject_type=&subject= (a
//	                      raw value, hashed) for the exports holding one
//	                      person.
//
// Mount both routes behind the API's token check (api.Server.Handle).
type Handler struct {
	Registry Registry
	Hash     HashFunc
	Log      *slog.Logger
	// MaxBody bounds a POST body; 0 means 32 MiB.
	MaxBody int64
	// OnRegister, if set, is called with each newly accepted export (its
	// canaries sealed), e.g. to list the canaries as honeytokens.
	OnRegister func(Export)
}

type errorBody struct {
	Error string `json:"error"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		h.post(w, r)
	case http.MethodGet:
		h.list(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{"GET lists exports, POST registers one"})
	}
}

func (h *Handler) post(w http.ResponseWriter, r *http.Request) {
	max := h.MaxBody
	if max <= 0 {
		max = 32 << 20
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, max))
	dec.DisallowUnknownFields()
	var e Export
	if err := dec.Decode(&e); err != nil {
		code := http.StatusBadRequest
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			code = http.StatusRequestEntityTooLarge
		}
		// json errors name fields and offsets, not values.
		writeJSON(w, code, errorBody{"malformed export: " + jsonError(err)})
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if e.Channel == "" {
		e.Channel = custos.ChannelIngest
	}
	for name, list := range map[string][]custos.Subject{"subjects": e.Subjects, "canaries": e.Canaries} {
		for i := range list {
			s := &list[i]
			if s.Value == "" {
				continue
			}
			hash, err := h.Hash(s.Type, s.Value)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, errorBody{fmt.Sprintf("%s[%d]: value is not a valid %s", name, i, s.Type)})
				return
			}
			s.Hash, s.Value = hash, ""
		}
	}
	if err := e.Validate(); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{err.Error()})
		return
	}
	if err := h.Registry.RegisterExport(r.Context(), e); err != nil {
		if h.Log != nil {
			h.Log.Error("register export", "export", e.ID, "err", err)
		}
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"export not registered; retry"})
		return
	}
	if h.OnRegister != nil {
		h.OnRegister(e)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": e.ID, "subjects": len(e.Subjects), "canaries": len(e.Canaries)})
}

func jsonError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %s: wrong type", te.Field)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return "body too large"
	}
	// Unknown-field and EOF errors carry field names only.
	return err.Error()
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if typ, v := q.Get("subject_type"), q.Get("subject"); typ != "" || v != "" {
		hash, err := h.Hash(custos.DataType(typ), v)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{"subject is not a valid " + typ})
			return
		}
		out, err := h.Registry.ExportsBySubject(r.Context(), typ, hash)
		h.answer(w, out, err)
		return
	}
	var eq Query
	eq.Actor = q.Get("actor")
	for name, dst := range map[string]*time.Time{"from": &eq.From, "to": &eq.To} {
		if s := q.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, errorBody{name + " must be RFC 3339"})
				return
			}
			*dst = t
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > custos.MaxLimit {
			writeJSON(w, http.StatusBadRequest, errorBody{fmt.Sprintf("limit must be 0..%d", custos.MaxLimit)})
			return
		}
		eq.Limit = n
	}
	out, err := h.Registry.ListExports(r.Context(), eq)
	h.answer(w, out, err)
}

func (h *Handler) answer(w http.ResponseWriter, out []Export, err error) {
	if err != nil {
		if h.Log != nil {
			h.Log.Error("list exports", "err", err)
		}
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"registry unavailable"})
		return
	}
	if out == nil {
		out = []Export{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"exports": out})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
