package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/custos-dev/custos"
)

// Alerts is the part of the store the alert endpoints use. SetAlertStatus
// wraps custos.ErrNotFound for an unknown id.
type Alerts interface {
	Alerts(ctx context.Context, q custos.AlertQuery) ([]custos.AlertRecord, error)
	SetAlertStatus(ctx context.Context, id string, status custos.AlertStatus) error
}

// listAlerts serves GET /api/v1/alerts: the detector's alert documents
// (id, rule, severity, actor, source_ip, first_seen, last_seen, summary,
// evidence, …) with the workflow status, filtered by from/to (on
// last_seen), severity, status and actor.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := custos.AlertQuery{Severity: v.Get("severity"), Actor: v.Get("actor")}
	if st := v.Get("status"); st != "" {
		status, ok := custos.ParseAlertStatus(st)
		if !ok {
			WriteError(w, http.StatusBadRequest, "query parameter status: want open, acknowledged, resolved or false_positive")
			return
		}
		q.Status = status
	}
	hq, err := parseQuery(r)
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	q.From, q.To, q.Limit = hq.From, hq.To, hq.Limit
	recs, err := s.Alerts.Alerts(r.Context(), q)
	if err != nil {
		s.Log.Error("api: alerts", "err", err)
		WriteError(w, http.StatusInternalServerError, "alerts query failed")
		return
	}
	out := make([]map[string]any, 0, len(recs))
	for _, rec := range recs {
		doc := map[string]any{}
		if err := json.Unmarshal(rec.Doc, &doc); err != nil {
			doc = map[string]any{"id": rec.ID, "rule": rec.Rule, "severity": rec.Severity, "summary": rec.Summary}
		}
		doc["status"] = rec.Status
		if rec.Actor == "" {
			doc["actor"] = nil
		}
		out = append(out, doc)
	}
	WriteJSON(w, http.StatusOK, map[string]any{"alerts": out})
}

// setAlertStatus serves POST /api/v1/alerts/{id}/status with
// {"status":"acknowledged|resolved|false_positive|open"}.
func (s *Server) setAlertStatus(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
		WriteError(w, http.StatusBadRequest, "body: want {\"status\": \"acknowledged\"}")
		return
	}
	status, ok := custos.ParseAlertStatus(body.Status)
	if !ok {
		WriteError(w, http.StatusBadRequest, "status: want open, acknowledged, resolved or false_positive")
		return
	}
	id := r.PathValue("id")
	if err := s.Alerts.SetAlertStatus(r.Context(), id, status); err != nil {
		if errors.Is(err, custos.ErrNotFound) {
			WriteError(w, http.StatusNotFound, fmt.Sprintf("no alert %q", clipUA(id)))
			return
		}
		s.Log.Error("api: set alert status", "err", err)
		WriteError(w, http.StatusInternalServerError, "status change failed")
		return
	}
	s.Log.Info("alert status changed", "alert", id, "status", status, "token", tokenFrom(r.Context()).ID, "at", time.Now().UTC())
	WriteJSON(w, http.StatusOK, map[string]any{"id": id, "status": status})
}
