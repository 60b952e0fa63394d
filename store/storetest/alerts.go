package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/custos-dev/custos"
)

// AlertStore is what RunAlerts needs of a store.
type AlertStore interface {
	UpsertAlerts(ctx context.Context, alerts []custos.AlertRecord) error
	SetAlertStatus(ctx context.Context, id string, status custos.AlertStatus) error
	Alerts(ctx context.Context, q custos.AlertQuery) ([]custos.AlertRecord, error)
}

// RunAlerts checks the alert workflow's suppression: an alert marked false
// positive suppresses new alerts of its rule about the same actor, from
// any source address, for custos.SuppressFor; a source-only alert
// suppresses those about the same source.
func RunAlerts(t *testing.T, s AlertStore) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	alert := func(id, rule, actor, ip string, at time.Time) custos.AlertRecord {
		return custos.AlertRecord{ID: id, Rule: rule, Severity: "high", Actor: actor, SourceIP: ip,
			FirstSeen: at, LastSeen: at, Summary: "s", Doc: []byte(`{}`)}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.UpsertAlerts(ctx, []custos.AlertRecord{
		alert("a1", "off_hours", "emp-1", "10.0.0.1", t0),
		alert("s1", "stuffing_source", "", "203.0.113.9", t0),
	}))
	must(s.SetAlertStatus(ctx, "a1", custos.AlertFalsePositive))
	must(s.SetAlertStatus(ctx, "s1", custos.AlertFalsePositive))
	day := t0.Add(24 * time.Hour)
	must(s.UpsertAlerts(ctx, []custos.AlertRecord{
		alert("a2", "off_hours", "emp-1", "10.0.0.77", day),                    // same actor, new address: suppressed
		alert("a3", "off_hours", "emp-2", "10.0.0.1", day),                     // another actor: alerted
		alert("a4", "watchlist", "emp-1", "10.0.0.1", day),                     // another rule: alerted
		alert("s2", "stuffing_source", "", "203.0.113.9", day),                 // same source: suppressed
		alert("s3", "stuffing_source", "", "198.51.100.4", day),                // another source: alerted
		alert("a5", "off_hours", "emp-1", "10.0.0.1", t0.Add(40*24*time.Hour)), // past SuppressFor: alerted
	}))
	status := map[string]custos.AlertStatus{}
	all, err := s.Alerts(ctx, custos.AlertQuery{Limit: 100})
	must(err)
	for _, a := range all {
		status[a.ID] = a.Status
	}
	for id, want := range map[string]custos.AlertStatus{
		"a2": custos.AlertSuppressed, "a3": custos.AlertOpen, "a4": custos.AlertOpen,
		"s2": custos.AlertSuppressed, "s3": custos.AlertOpen, "a5": custos.AlertOpen,
	} {
		if status[id] != want {
			t.Errorf("alert %s: %q, want %q", id, status[id], want)
		}
	}
	// An update of a suppressed alert keeps its status.
	must(s.UpsertAlerts(ctx, []custos.AlertRecord{alert("a2", "off_hours", "emp-1", "10.0.0.77", day.Add(time.Hour))}))
	if got, _ := s.Alerts(ctx, custos.AlertQuery{Actor: "emp-1", Status: custos.AlertSuppressed}); len(got) != 1 || got[0].ID != "a2" {
		t.Errorf("after an update: %+v", got)
	}
}
