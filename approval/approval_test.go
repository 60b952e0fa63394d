package approval

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/policy"
)

type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) on(ctx context.Context, e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, string(e.Type)+":"+e.Actor)
	}
	return out
}

var (
	agent   = Identity{ID: "a1", Roles: []string{"agent"}}
	sup1    = Identity{ID: "s1", Roles: []string{"supervisor"}}
	sup2    = Identity{ID: "s2", Roles: []string{"supervisor"}}
	officer = Identity{ID: "dpo", Roles: []string{"privacy_officer"}}
)

func newService(t *testing.T) (*Service, *recorder, *time.Time) {
	t.Helper()
	s, err := New([]Rule{
		{ID: "credit-by-dpo", Categories: []string{"credit"}, ApproverRoles: []string{"privacy_officer"}},
		{ID: "supervisors", ApproverRoles: []string{"supervisor"}, MaxDuration: 2 * time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	s.OnEvent, s.Now = rec.on, func() time.Time { return now }
	return s, rec, &now
}

func TestUnmaskFlow(t *testing.T) {
	s, rec, now := newService(t)
	ctx := context.Background()
	req, err := s.Submit(ctx, agent, NewRequest{Kind: KindUnmask, Scope: Scope{System: "pss", Subjects: []string{"h1"}}, Reason: "passenger disputes a refund, INC-12", Duration: "5h"})
	if err != nil {
		t.Fatal(err)
	}
	if req.Rule != "supervisors" || req.Required != 1 || req.Duration != 2*time.Hour {
		t.Fatalf("rule %s required %d duration %s (want capped at 2h)", req.Rule, req.Required, req.Duration)
	}
	if _, err := s.Approve(ctx, agent, req.ID, ""); !errors.Is(err, ErrSelfApproval) {
		t.Errorf("self-approval: %v", err)
	}
	if _, err := s.Approve(ctx, officer, req.ID, ""); !errors.Is(err, ErrNotApprover) {
		t.Errorf("wrong approver: %v", err)
	}
	got, err := s.Approve(ctx, sup1, req.ID, "ok")
	if err != nil || got.Status != StatusGranted || !got.GrantUntil.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("approve: %v %+v", err, got)
	}
	if _, err := s.Approve(ctx, sup2, req.ID, ""); !errors.Is(err, ErrNotPending) {
		t.Errorf("approve after grant: %v", err)
	}
	pr := &policy.Request{Actor: custos.Actor{ID: "a1"}, Resource: custos.Resource{System: "pss", Object: "t"}, Subjects: []string{"h1"}}
	if id, ok := s.ActiveGrant(pr, "unmask"); !ok || id != req.ID {
		t.Error("grant not active")
	}
	for _, miss := range []*policy.Request{
		{Actor: custos.Actor{ID: "a2"}, Resource: custos.Resource{System: "pss"}, Subjects: []string{"h1"}},
		{Actor: custos.Actor{ID: "a1"}, Resource: custos.Resource{System: "crm"}, Subjects: []string{"h1"}},
		{Actor: custos.Actor{ID: "a1"}, Resource: custos.Resource{System: "pss"}, Subjects: []string{"h1", "h2"}},
		{Actor: custos.Actor{ID: "a1"}, Resource: custos.Resource{System: "pss"}},
	} {
		if _, ok := s.ActiveGrant(miss, "unmask"); ok {
			t.Errorf("grant covers %+v", miss)
		}
	}
	if _, ok := s.ActiveGrant(pr, "export"); ok {
		t.Error("unmask grant covers export")
	}
	// Time-boxed.
	*now = now.Add(2 * time.Hour)
	if _, ok := s.ActiveGrant(pr, "unmask"); ok {
		t.Error("grant outlived its time")
	}
	s.Sweep(ctx)
	if g, _ := s.Get(ctx, req.ID); g.Status != StatusExpired {
		t.Errorf("status %s", g.Status)
	}
	want := []string{"approval.requested:a1", "approval.approved:s1", "approval.granted:s1", "approval.expired:"}
	if got := rec.types(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestBreakGlassNeedsTwoApproversAndReason(t *testing.T) {
	s, rec, _ := newService(t)
	ctx := context.Background()
	if _, err := s.Submit(ctx, agent, NewRequest{Kind: KindBreakGlass, Scope: Scope{System: "pss"}, Reason: "urgent"}); !errors.Is(err, ErrReason) {
		t.Errorf("short reason: %v", err)
	}
	req, err := s.Submit(ctx, agent, NewRequest{Kind: KindBreakGlass, Scope: Scope{System: "pss"}, Reason: "aircraft emergency, manifest needed by police", Duration: "8h"})
	if err != nil {
		t.Fatal(err)
	}
	if req.Required != 2 || req.Duration != 2*time.Hour {
		t.Fatalf("required %d duration %s", req.Required, req.Duration)
	}
	if _, err := s.Approve(ctx, sup1, req.ID, ""); err == nil {
		t.Error("break-glass approval without a comment")
	}
	r1, err := s.Approve(ctx, sup1, req.ID, "confirmed with duty manager")
	if err != nil || r1.Status != StatusPending {
		t.Fatalf("first approval: %v %s", err, r1.Status)
	}
	if _, err := s.Approve(ctx, sup1, req.ID, "again"); !errors.Is(err, ErrTwice) {
		t.Errorf("same approver twice: %v", err)
	}
	r2, err := s.Approve(ctx, sup2, req.ID, "confirmed")
	if err != nil || r2.Status != StatusGranted {
		t.Fatalf("second approval: %v %s", err, r2.Status)
	}
	// Break-glass covers any kind within its scope.
	pr := &policy.Request{Actor: custos.Actor{ID: "a1"}, Resource: custos.Resource{System: "pss"}, Action: custos.ActionExport}
	if _, ok := s.ActiveGrant(pr, "export"); !ok {
		t.Error("break-glass grant does not cover export")
	}
	if _, err := s.Revoke(ctx, Identity{ID: "x"}, req.ID, ""); !errors.Is(err, ErrNotApprover) {
		t.Errorf("stranger revoked: %v", err)
	}
	if r, err := s.Revoke(ctx, sup1, req.ID, "emergency over"); err != nil || r.Status != StatusRevoked {
		t.Fatalf("revoke: %v", err)
	}
	if _, ok := s.ActiveGrant(pr, "export"); ok {
		t.Error("revoked grant still active")
	}
	if n := len(rec.types()); n != 5 {
		t.Errorf("%d events, want requested, approved ×2, granted, revoked: %v", n, rec.types())
	}
}

func TestRulesAndValidation(t *testing.T) {
	s, _, now := newService(t)
	ctx := context.Background()
	req, err := s.Submit(ctx, agent, NewRequest{Kind: KindExport, Scope: Scope{Categories: []string{"credit"}}, Reason: "regulator asked for the file"})
	if err != nil || req.Rule != "credit-by-dpo" {
		t.Fatalf("%v %s", err, req.Rule)
	}
	if _, err := s.Approve(ctx, sup1, req.ID, ""); !errors.Is(err, ErrNotApprover) {
		t.Errorf("supervisor approved credit: %v", err)
	}
	if r, err := s.Deny(ctx, officer, req.ID, "use the aggregated report"); err != nil || r.Status != StatusDenied {
		t.Fatalf("deny: %v", err)
	}
	for _, in := range []NewRequest{
		{Kind: "peek", Reason: "a long enough reason"},
		{Kind: KindUnmask, Reason: "a long enough reason", Duration: "forever"},
		{Kind: KindUnmask, Reason: "a long enough reason", Scope: Scope{Categories: []string{"gossip"}}},
	} {
		if _, err := s.Submit(ctx, agent, in); err == nil {
			t.Errorf("accepted %+v", in)
		}
	}
	strict, _ := New([]Rule{{ID: "only-credit", Categories: []string{"credit"}, Approvers: []string{"dpo"}}})
	if _, err := strict.Submit(ctx, agent, NewRequest{Kind: KindUnmask, Reason: "a long enough reason"}); !errors.Is(err, ErrNoRule) {
		t.Errorf("no rule: %v", err)
	}
	// Pending requests expire.
	p, _ := s.Submit(ctx, agent, NewRequest{Kind: KindUnmask, Reason: "a long enough reason"})
	*now = now.Add(25 * time.Hour)
	if _, err := s.Approve(ctx, sup1, p.ID, ""); !errors.Is(err, ErrNotPending) {
		t.Errorf("stale approval: %v", err)
	}
	for _, bad := range [][]Rule{{{ID: ""}}, {{ID: "a"}}, {{ID: "a", Approvers: []string{"x"}}, {ID: "a", Approvers: []string{"x"}}}, {{ID: "a", Approvers: []string{"x"}, Kinds: []Kind{"x"}}}} {
		if _, err := New(bad); err == nil {
			t.Errorf("rules accepted: %+v", bad)
		}
	}
}

type failingStore struct{}

func (failingStore) SaveApproval(context.Context, Request) error { return errors.New("disk full") }

func TestStoreFailureUndoesStep(t *testing.T) {
	s, rec, _ := newService(t)
	ctx := context.Background()
	req, _ := s.Submit(ctx, agent, NewRequest{Kind: KindUnmask, Reason: "a long enough reason"})
	s.Store = failingStore{}
	if _, err := s.Approve(ctx, sup1, req.ID, ""); err == nil {
		t.Fatal("approval without a record")
	}
	s.Store = nil
	if g, _ := s.Get(ctx, req.ID); g.Status != StatusPending || len(g.Approvals) != 0 {
		t.Errorf("step not undone: %+v", g)
	}
	if n := len(rec.types()); n != 1 {
		t.Errorf("events for an unrecorded step: %v", rec.types())
	}
}

// TestEngineUsesGrants: an approval_required decision becomes allow once
// granted, naming the grant.
func TestEngineUsesGrants(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	p, err := policy.Parse("p.yaml", []byte("rules:\n  - {id: hold, decision: approval_required}\n"), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &policy.Engine{Policies: policy.NewHolderWith(p, policy.Options{}, nil), Grants: s}
	r := policy.Request{Actor: custos.Actor{ID: "a1"}, Resource: custos.Resource{System: "pss"}, DataTypes: []string{"cn_id"}, Subjects: []string{"h1"}}
	if d := e.Decide(ctx, &r); d.Effect != custos.DecisionApprovalRequired {
		t.Fatalf("%+v", d)
	}
	req, _ := s.Submit(ctx, agent, NewRequest{Kind: KindUnmask, Scope: Scope{System: "pss", Subjects: []string{"h1"}}, Reason: "a long enough reason"})
	s.Approve(ctx, sup1, req.ID, "")
	d := e.Decide(ctx, &r)
	if d.Effect != custos.DecisionAllow || d.Rules[len(d.Rules)-1] != "grant:"+req.ID {
		t.Fatalf("%+v", d)
	}
}

func TestHandler(t *testing.T) {
	s, _, _ := newService(t)
	people := map[string]Identity{"a1": agent, "s1": sup1, "s2": sup2}
	h := &Handler{Service: s, Identity: func(r *http.Request) (Identity, error) {
		who, ok := people[r.Header.Get("X-Test-User")]
		if !ok {
			return Identity{}, errors.New("unknown")
		}
		return who, nil
	}}
	do := func(user, method, path, body string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("X-Test-User", user)
		h.ServeHTTP(rec, req)
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	code, out := do("a1", "POST", "/api/v1/approvals", `{"kind":"unmask","scope":{"system":"pss"},"reason":"customer complaint C-77"}`)
	if code != 201 {
		t.Fatalf("%d %v", code, out)
	}
	id := out["id"].(string)
	if code, _ := do("nobody", "GET", "/api/v1/approvals", ""); code != 401 {
		t.Errorf("unauthenticated: %d", code)
	}
	if code, _ := do("a1", "POST", "/api/v1/approvals/"+id+"/approve", ""); code != 403 {
		t.Errorf("self-approval over HTTP: %d", code)
	}
	if code, _ := do("a1", "POST", "/api/v1/approvals", `{"kind":"unmask","reason":"x","approver":"s1"}`); code != 400 {
		t.Errorf("unknown field: %d", code)
	}
	code, out = do("s1", "GET", "/api/v1/approvals?status=pending", "")
	if code != 200 || len(out["approvals"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, out)
	}
	if code, out := do("s1", "POST", "/api/v1/approvals/"+id+"/approve", `{"comment":"ok"}`); code != 200 || out["status"] != "granted" {
		t.Fatalf("approve: %d %v", code, out)
	}
	if code, _ := do("s2", "POST", "/api/v1/approvals/"+id+"/deny", `{}`); code != 409 {
		t.Errorf("deny after grant: %d", code)
	}
	if code, _ := do("s1", "GET", "/api/v1/approvals/"+id, ""); code != 200 {
		t.Errorf("get: %d", code)
	}
	if code, _ := do("s1", "GET", "/api/v1/approvals/apr_missing", ""); code != 404 {
		t.Errorf("missing: %d", code)
	}
	if code, _ := do("s1", "POST", "/api/v1/approvals/"+id+"/bless", ""); code != 404 {
		t.Errorf("unknown action: %d", code)
	}
	if code, out := do("a1", "POST", "/api/v1/approvals/"+id+"/revoke", `{"comment":"done"}`); code != 200 || out["status"] != "revoked" {
		t.Errorf("revoke: %d %v", code, out)
	}
}

// TestEligibleApproverCannotApproveOwn: an approver who files a request is
// still its requester: neither approving nor counting towards break-glass.
func TestEligibleApproverCannotApproveOwn(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	for _, kind := range []Kind{KindUnmask, KindBreakGlass} {
		req, err := s.Submit(ctx, sup1, NewRequest{Kind: kind, Scope: Scope{System: "pss"}, Reason: "checking a disputed refund, INC-90"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Approve(ctx, sup1, req.ID, "mine"); !errors.Is(err, ErrSelfApproval) {
			t.Errorf("%s: eligible requester approved own request: %v", kind, err)
		}
		if _, err := s.Deny(ctx, sup1, req.ID, "mine"); !errors.Is(err, ErrSelfApproval) {
			t.Errorf("%s: requester denied own request: %v", kind, err)
		}
		got, err := s.Approve(ctx, sup2, req.ID, "confirmed")
		if err != nil {
			t.Fatal(err)
		}
		want := StatusGranted
		if kind == KindBreakGlass {
			want = StatusPending // two approvers other than the requester
		}
		if got.Status != want {
			t.Errorf("%s: status %s after one other approver, want %s", kind, got.Status, want)
		}
	}
}
