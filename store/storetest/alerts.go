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
	AlertsDue(ctx context.Context, limit int) ([]custos.AlertRecord, error)
	MarkNotified(ctx context.Context, id, severity string) error
}

// RunAlerts checks delivery bookkeeping (an alert is due until delivered
// at its current severity) and the alert workflow's suppression: an alert marked false
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
	due, err := s.AlertsDue(ctx, 10)
	if err != nil || len(due) != 2 {
		t.Fatalf("due: %+v, %v", due, err)
	}
	must(s.MarkNotified(ctx, "a1", "high"))
	if due, _ := s.AlertsDue(ctx, 10); len(due) != 1 || due[0].ID != "s1" {
		t.Errorf("due after a1 was delivered: %+v", due)
	}
	up := alert("a1", "off_hours", "emp-1", "10.0.0.1", t0)
	up.Severity = "critical" // escalated: due again
	must(s.UpsertAlerts(ctx, []custos.AlertRecord{up}))
	if due, _ := s.AlertsDue(ctx, 10); len(due) != 2 {
		t.Errorf("an escalated alert is not due again: %+v", due)
	}
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
