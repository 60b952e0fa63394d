package server

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/detect"
	"github.com/custos-dev/custos/store/sqlite"
)

// TestDetectionMergesStreamsInEventTime stores a credential-stuffing
// take-over as a backfill would (every event already stored), then
// delivers the two streams as the bus does — all accesses first, then the
// logins — and expects the alerts of one engine fed in event time: the
// stolen login's incident carries the accesses made with it, and no event
// counts twice.
func TestDetectionMergesStreamsInEventTime(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	at := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	var logins []custos.LoginEvent
	for k := 0; k < 30; k++ {
		logins = append(logins, custos.LoginEvent{ID: fmt.Sprintf("f%d", k), Time: at, Account: fmt.Sprintf("u%d", k), Source: custos.Source{IP: "203.0.113.7"}, Outcome: custos.OutcomeFailure})
		at = at.Add(1500 * time.Millisecond)
	}
	logins = append(logins, custos.LoginEvent{ID: "ok", Time: at, Account: "emp-1", Source: custos.Source{IP: "203.0.113.7"}, Outcome: custos.OutcomeSuccess})
	var accesses []custos.AccessEvent
	for k := 0; k < 20; k++ {
		at = at.Add(time.Duration(10+k%7*3) * time.Second)
		accesses = append(accesses, custos.AccessEvent{ID: fmt.Sprintf("p%d", k), Time: at, Actor: custos.Actor{ID: "emp-1"},
			Source: custos.Source{IP: "203.0.113.7", Session: "stolen"}, Channel: custos.ChannelHTTP, Action: custos.ActionRead,
			Resource: custos.Resource{System: "credit", Object: "credit_report"}, Categories: []string{custos.CategoryCredit}, Records: 1,
			Subjects: []custos.Subject{{Type: custos.TypeCNID, Hash: fmt.Sprintf("%064x", k+1), Masked: "510104********0012"}}})
	}
	// Later logins, so that the login batch ends after the accesses.
	for h := 1; h <= 3; h++ {
		logins = append(logins, custos.LoginEvent{ID: fmt.Sprintf("o%d", h), Time: at.Add(time.Duration(h) * time.Hour), Account: "emp-2", Source: custos.Source{IP: "10.1.0.9"}, Outcome: custos.OutcomeSuccess})
	}
	if _, err := st.AppendLogins(ctx, logins); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendAccess(ctx, accesses); err != nil {
		t.Fatal(err)
	}

	d, err := newDetection(ctx, st, dir, time.UTC, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := d.consumer()
	// The bus: a batch of accesses, then a batch of logins, then both
	// again from its own positions (which the merge does not move).
	for round := 0; round < 2; round++ {
		acc, err := st.AccessSince(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Access(ctx, acc); err != nil {
			t.Fatal(err)
		}
		lg, err := st.LoginsSince(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Logins(ctx, lg); err != nil {
			t.Fatal(err)
		}
	}

	// One engine, same configuration, fed in event time.
	cfg := detect.DefaultConfig()
	cfg.Relations = detect.NewRelationTable()
	ref := detect.New(cfg)
	var evs []detect.Event
	for i := range logins {
		evs = append(evs, detect.Event{Login: &logins[i]})
	}
	for i := range accesses {
		evs = append(evs, detect.Event{Access: &accesses[i]})
	}
	slices.SortStableFunc(evs, func(a, b detect.Event) int { return a.Time().Compare(b.Time()) })
	want := map[string]string{}
	for _, ev := range evs {
		for _, r := range detect.Records(ref.Process(ctx, ev)) {
			want[r.ID] = string(r.Doc)
		}
	}
	recs, err := st.Alerts(ctx, custos.AlertQuery{Limit: custos.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range recs {
		got[r.ID] = string(r.Doc)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stored alerts differ from event-time order:\ngot  %v\nwant %v", got, want)
	}
	taken := false
	for _, doc := range got {
		var a detect.Alert
		json.Unmarshal([]byte(doc), &a)
		taken = taken || a.Rule == detect.RuleSuccessAfterStuff && a.Events == 16 && slices.Contains(a.Evidence, "p0")
	}
	if !taken {
		t.Fatalf("take-over alert without the accesses made with it: %v", got)
	}
}
