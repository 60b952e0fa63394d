package ocsf

import (
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/custos-dev/custos"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := "testdata/" + name
	if *update {
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from golden file:\n%s", name, got)
	}
}

func TestAccessGolden(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	golden(t, "access.json", Access(custos.StoredAccess{Seq: 7, AccessEvent: custos.AccessEvent{
		ID: "e-1", Time: at,
		Actor:    custos.Actor{ID: "emp-1023", Roles: []string{"agent"}, OrgUnit: "PEK-CS"},
		Source:   custos.Source{IP: "10.0.0.8", Session: "s-9"},
		Channel:  custos.ChannelIngest,
		Action:   custos.ActionRead,
		Resource: custos.Resource{System: "pss", Object: "passengers"},
		Purpose:  custos.Purpose{Name: "customer_service", Ticket: "INC-1"},
		Subjects: []custos.Subject{{Type: "cn_id", Hash: "504d2b9c", Masked: "110101********123X"}},
		Records:  1, Decision: custos.DecisionMask, Outcome: custos.OutcomeSuccess, DurationUS: 2750,
	}}))
}

func TestLoginGolden(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	golden(t, "login.json", Login(custos.StoredLogin{Seq: 3, LoginEvent: custos.LoginEvent{
		ID: "l-1", Time: at, Account: "emp-1023", Source: custos.Source{IP: "10.0.0.8"},
		Outcome: custos.OutcomeFailure, Reason: "bad_password",
	}}))
}

func TestActivityIDs(t *testing.T) {
	for action, want := range map[custos.Action]int{custos.ActionRead: 1, custos.ActionSearch: 4, custos.ActionDelete: 7} {
		got := Access(custos.StoredAccess{AccessEvent: custos.AccessEvent{Action: action}})
		if got["activity_id"] != want || got["type_uid"] != 600500+want {
			t.Errorf("%s: activity %v type %v", action, got["activity_id"], got["type_uid"])
		}
	}
}
