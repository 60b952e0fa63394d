package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/custos-dev/custos"
)

// TestAlertsListFilters checks every filter of GET /api/v1/alerts — time
// (from/to on last_seen), severity, status and actor — and that a
// source-only alert has a null actor.
func TestAlertsListFilters(t *testing.T) {
	srv, secret := start(t, io.Discard)
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	rec := func(id, sev, actor, ip string, hours int) custos.AlertRecord {
		first := at.Add(time.Duration(hours) * time.Hour)
		doc, _ := json.Marshal(map[string]any{"id": id, "rule": "r", "severity": sev, "first_seen": first, "last_seen": first.Add(time.Minute), "summary": "s", "source_ip": ip})
		return custos.AlertRecord{ID: id, Rule: "r", Severity: sev, Actor: actor, SourceIP: ip, FirstSeen: first, LastSeen: first.Add(time.Minute), Summary: "s", Doc: doc}
	}
	if err := srv.Store.UpsertAlerts(ctx, []custos.AlertRecord{
		rec("al-1", "high", "emp-1", "10.0.0.1", 0),
		rec("al-2", "critical", "emp-2", "10.0.0.2", 1),
		rec("al-3", "high", "emp-2", "10.0.0.3", 2),
		rec("al-4", "medium", "", "203.0.113.9", 3),
	}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Store.SetAlertStatus(ctx, "al-3", custos.AlertAcknowledged); err != nil {
		t.Fatal(err)
	}
	ts := func(h int) string { return url.QueryEscape(at.Add(time.Duration(h) * time.Hour).Format(time.RFC3339)) }
	tests := []struct {
		query string
		want  []string // newest first
	}{
		{"", []string{"al-4", "al-3", "al-2", "al-1"}},
		{"severity=high", []string{"al-3", "al-1"}},
		{"status=acknowledged", []string{"al-3"}},
		{"status=open&actor=emp-2", []string{"al-2"}},
		{"from=" + ts(1) + "&to=" + ts(3), []string{"al-3", "al-2"}},
		{"from=" + ts(1) + "&severity=high", []string{"al-3"}},
	}
	for _, tc := range tests {
		code, body := do(t, "GET", srv.URL()+"/api/v1/alerts?"+tc.query, secret, "")
		var got struct {
			Alerts []map[string]any `json:"alerts"`
		}
		if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
			t.Fatalf("%q: %d %s", tc.query, code, body)
		}
		var ids []string
		for _, a := range got.Alerts {
			ids = append(ids, a["id"].(string))
			if a["id"] == "al-4" && (a["actor"] != nil || a["source_ip"] != "203.0.113.9") {
				t.Errorf("source-only alert: actor %v source %v", a["actor"], a["source_ip"])
			}
			for _, f := range []string{"rule", "severity", "first_seen", "last_seen", "summary", "status"} {
				if _, ok := a[f]; !ok {
					t.Errorf("%q: alert %v lacks %s", tc.query, a["id"], f)
				}
			}
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%q: alerts %v, want %v", tc.query, ids, tc.want)
		}
	}
	if code, _ := do(t, "GET", srv.URL()+"/api/v1/alerts?status=maybe", secret, ""); code != 400 {
		t.Errorf("unknown status: %d, want 400", code)
	}
}
