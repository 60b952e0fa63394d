package approval

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// Handler serves the approvals API:
//
//	POST /api/v1/approvals                   file a request (NewRequest)
//	GET  /api/v1/approvals?status=pending    requests the caller filed or may approve
//	GET  /api/v1/approvals/{id}
//	POST /api/v1/approvals/{id}/approve      {"comment": "..."}
//	POST /api/v1/approvals/{id}/deny         {"comment": "..."}
//	POST /api/v1/approvals/{id}/revoke       {"comment": "..."}
//
// Mount it on both "/api/v1/approvals" and "/api/v1/approvals/". The caller
// is whoever Identity says: never a field of the body, so nobody can
// approve as someone else or claim an approver role.
type Handler struct {
	Service  *Service
	Identity func(r *http.Request) (Identity, error)
}

type errorBody struct {
	Error string `json:"error"`
}

type commentBody struct {
	Comment string `json:"comment"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.Identity == nil {
		writeJSON(w, http.StatusInternalServerError, errorBody{"approvals: no identity provider configured"})
		return
	}
	who, err := h.Identity(r)
	if err != nil || who.ID == "" {
		writeJSON(w, http.StatusUnauthorized, errorBody{"approvals need an authenticated person"})
		return
	}
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/api/v1/approvals"), "/")
	parts := strings.Split(rest, "/")
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	switch {
	case rest == "" && r.Method == http.MethodPost:
		var in NewRequest
		if !decode(w, r, &in) {
			return
		}
		req, err := h.Service.Submit(ctx, who, in)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, req)
	case rest == "" && r.Method == http.MethodGet:
		list := h.Service.List(ctx, who, Status(r.URL.Query().Get("status")))
		if list == nil {
			list = []Request{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"approvals": list})
	case len(parts) == 1 && r.Method == http.MethodGet:
		req, err := h.Service.Get(ctx, parts[0])
		if err == nil && req.Requester != who.ID && !h.Service.eligible(h.Service.rule(req.Rule), who) {
			err = ErrNotFound // do not reveal others' requests
		}
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, req)
	case len(parts) == 2 && r.Method == http.MethodPost:
		var c commentBody
		if r.ContentLength != 0 && !decode(w, r, &c) {
			return
		}
		var req Request
		var err error
		switch parts[1] {
		case "approve":
			req, err = h.Service.Approve(ctx, who, parts[0], c.Comment)
		case "deny":
			req, err = h.Service.Deny(ctx, who, parts[0], c.Comment)
		case "revoke":
			req, err = h.Service.Revoke(ctx, who, parts[0], c.Comment)
		default:
			writeJSON(w, http.StatusNotFound, errorBody{"unknown action " + parts[1] + " (approve, deny, revoke)"})
			return
		}
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, req)
	default:
		writeJSON(w, http.StatusNotFound, errorBody{"no such approvals endpoint"})
	}
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{"invalid JSON body: " + err.Error()})
		return false
	}
	return true
}

func writeErr(w http.ResponseWriter, err error) {
	code := http.StatusBadRequest
	switch {
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrSelfApproval), errors.Is(err, ErrNotApprover):
		code = http.StatusForbidden
	case errors.Is(err, ErrNotPending), errors.Is(err, ErrTwice):
		code = http.StatusConflict
	case errors.As(err, new(*StoreError)):
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, errorBody{err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
