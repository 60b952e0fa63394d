package policy

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custos-dev/custos"
)

func TestQuotaCases(t *testing.T) {
	data, err := os.ReadFile("testdata/quota.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cf, err := LoadCases("testdata/quota_cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := RunCases("testdata/quota.yaml", data, cf)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Pass {
			t.Errorf("%s %q: %v (got %+v)", r.Pos, r.Name, r.Failures, r.Got)
		}
	}
}

func TestQuotaParseErrors(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{"quotas:\n  - {id: q, window: 1h}\n", "subjects > 0 or records > 0"},
		{"quotas:\n  - {id: q, subjects: 1}\n", "window required"},
		{"quotas:\n  - {id: q, subjects: 1, window: 1 day}\n", "p.yaml:2:"},
		{"quotas:\n  - {id: q, subjects: 1, window: 1h, on_exceed: mask}\n", "deny or approval_required"},
		{"quotas:\n  - {id: q, subjects: 1, window: 1h}\n  - {id: q, subjects: 1, window: 1h}\n", "duplicate quota id"},
		{"quotas:\n  - {id: q, subjects: 1, window: 1h, match: {categories: [nope]}}\n", "unknown category"},
	} {
		if _, err := Parse("p.yaml", []byte(tt.doc), Options{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err %v, want %q", tt.doc, err, tt.want)
		}
	}
}

// TestQuotaExactUnderConcurrency: many goroutines of one actor race for a
// quota of distinct subjects and of records; exactly the quota is granted.
func TestQuotaExactUnderConcurrency(t *testing.T) {
	p := mustParse(t, `
rules:
  - {id: ok, decision: allow}
quotas:
  - {id: passengers, subjects: 200, window: 24h, match: {categories: [identity]}}
  - {id: rows, records: 1000, window: 1h, match: {categories: [contact]}}
`, Options{})
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	e := &Engine{Policies: NewHolderWith(p, Options{}, nil), Quotas: NewQuotas(), Now: func() time.Time { return now }}
	const workers, each = 32, 50
	var granted, rowsGranted atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				// Distinct subjects, plus one repeated per worker that
				// must count once.
				subj := fmt.Sprintf("s-%d-%d", w, i)
				if i%10 == 9 {
					subj = fmt.Sprintf("s-%d-0", w)
				}
				r := Request{Actor: custos.Actor{ID: "a1"}, Resource: custos.Resource{System: "s"}, DataTypes: []string{"cn_id"}, Subjects: []string{subj}}
				if d := e.Decide(context.Background(), &r); d.Effect == custos.DecisionAllow {
					granted.Add(1)
				}
				r2 := Request{Actor: custos.Actor{ID: "a1"}, Resource: custos.Resource{System: "s"}, DataTypes: []string{"email"}, Records: 7}
				if d := e.Decide(context.Background(), &r2); d.Effect == custos.DecisionAllow {
					rowsGranted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	u := e.Quotas.Usage(p.Quota("passengers"), "a1", now)
	if u.Subjects != 200 {
		t.Errorf("distinct subjects recorded %d, want exactly 200", u.Subjects)
	}
	// Granted requests include repeats of already-counted subjects, which
	// cost nothing; so at least 200 were granted, and every distinct
	// subject beyond 200 was refused.
	if granted.Load() < 200 {
		t.Errorf("granted %d < 200", granted.Load())
	}
	if got := rowsGranted.Load(); got != 1000/7 {
		t.Errorf("record requests granted %d, want %d", got, 1000/7)
	}
	if u := e.Quotas.Usage(p.Quota("rows"), "a1", now); u.Records != 1000/7*7 {
		t.Errorf("records %d", u.Records)
	}
}

// TestQuotaAllOrNothing: a request that passes one quota and fails another
// is recorded in neither.
func TestQuotaAllOrNothing(t *testing.T) {
	p := mustParse(t, `
rules:
  - {id: ok, decision: allow}
quotas:
  - {id: wide, subjects: 100, window: 1h}
  - {id: narrow, subjects: 1, window: 1h, match: {categories: [credit]}}
`, Options{})
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	e := &Engine{Policies: NewHolderWith(p, Options{}, nil), Quotas: NewQuotas(), Now: func() time.Time { return now }}
	req := func(s string) Decision {
		r := Request{Actor: custos.Actor{ID: "a"}, Resource: custos.Resource{System: "s"}, Categories: []string{"credit"}, Subjects: []string{s}}
		return e.Decide(context.Background(), &r)
	}
	if d := req("x"); d.Effect != custos.DecisionAllow {
		t.Fatal(d)
	}
	if d := req("y"); d.Effect != custos.DecisionDeny || d.Rules[len(d.Rules)-1] != "quota:narrow" {
		t.Fatalf("%+v", d)
	}
	if u := e.Quotas.Usage(p.Quota("wide"), "a", now); u.Subjects != 1 {
		t.Errorf("refused request counted in the other quota: %d", u.Subjects)
	}
	// A request with several subjects counts each once and is refused whole.
	r := Request{Actor: custos.Actor{ID: "b"}, Resource: custos.Resource{System: "s"}, Categories: []string{"contact"}, Subjects: []string{"p", "q", "p"}}
	if d := e.Decide(context.Background(), &r); d.Effect != custos.DecisionAllow {
		t.Fatal(d)
	}
	if u := e.Quotas.Usage(p.Quota("wide"), "b", now); u.Subjects != 2 {
		t.Errorf("duplicate subject counted twice: %d", u.Subjects)
	}
	// Sweep keeps live counters and drops stale ones.
	if n := e.Quotas.Sweep(p, now); n != 0 {
		t.Errorf("swept %d live counters", n)
	}
	if n := e.Quotas.Sweep(p, now.Add(2*time.Hour)); n == 0 {
		t.Error("stale counters not swept")
	}
}

func TestDeniedRequestsUseNoQuota(t *testing.T) {
	p := mustParse(t, `
rules:
  - {id: no, decision: deny}
quotas:
  - {id: q, subjects: 1, window: 1h}
`, Options{})
	now := time.Now()
	e := &Engine{Policies: NewHolderWith(p, Options{}, nil), Quotas: NewQuotas(), Now: func() time.Time { return now }}
	for _, s := range []string{"a", "b"} {
		r := Request{Actor: custos.Actor{ID: "x"}, Resource: custos.Resource{System: "s"}, Subjects: []string{s}}
		e.Decide(context.Background(), &r)
	}
	if u := e.Quotas.Usage(p.Quota("q"), "x", now); u.Subjects != 0 {
		t.Errorf("denied requests counted: %d", u.Subjects)
	}
}

func TestWatchlist(t *testing.T) {
	w := NewWatchlist()
	if err := w.Set(WatchEntry{Subject: "x", Kind: "vip"}); err == nil {
		t.Error("unknown kind accepted")
	}
	w.Set(WatchEntry{Subject: "h", Kind: WatchHoneytoken}, WatchEntry{Subject: "h", Kind: WatchAlert})
	if w.Kind("h") != WatchHoneytoken {
		t.Error("weaker kind replaced honeytoken")
	}
	shared := []string{"r1"}
	d := w.apply(Decision{Effect: custos.DecisionDeny, Rules: shared}, []string{"a", "h"})
	if !d.Alarm || d.Effect != custos.DecisionDeny || len(d.Rules) != 2 || shared[0] != "r1" || cap(shared) != 1 {
		t.Errorf("%+v", d)
	}
	w.Remove("h")
	if w.Kind("h") != "" {
		t.Error("not removed")
	}
}

// kindGrants grants one kind of approval to some actors.
type kindGrants struct {
	kind   string
	actors map[string]bool
}

func (g kindGrants) ActiveGrant(r *Request, kind string) (string, bool) {
	return "g-" + r.Actor.ID, kind == g.kind && g.actors[r.Actor.ID]
}

// TestQuotaPerRoleAndOnExceed: roles get quotas of their own size, a
// quota's on_exceed decides what an exceeding request gets, a quota_raise
// grant (and no other kind) lets it through uncounted, and a quota on one
// category leaves requests for others alone.
func TestQuotaPerRoleAndOnExceed(t *testing.T) {
	p := mustParse(t, `
rules:
  - {id: ok, decision: allow}
quotas:
  - {id: agents, match: {roles: [agent], categories: [identity]}, subjects: 2, window: 1h, on_exceed: approval_required}
  - {id: supervisors, match: {roles: [supervisor], categories: [identity]}, subjects: 4, window: 1h, on_exceed: deny}
`, Options{})
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	e := &Engine{Policies: NewHolderWith(p, Options{}, nil), Quotas: NewQuotas(), Now: func() time.Time { return now },
		Grants: kindGrants{kind: "quota_raise", actors: map[string]bool{"a2": true}}}
	type step struct {
		actor, role, subject, dataType string
		want                           custos.Decision
		lastRule                       string
	}
	steps := []step{
		{"a1", "agent", "p1", "cn_id", custos.DecisionAllow, "ok"},
		{"a1", "agent", "p2", "cn_id", custos.DecisionAllow, "ok"},
		{"a1", "agent", "p3", "cn_id", custos.DecisionApprovalRequired, "quota:agents"},
		{"a1", "agent", "p1", "cn_id", custos.DecisionAllow, "ok"},      // already counted
		{"a1", "agent", "p9", "email", custos.DecisionAllow, "ok"},      // contact: another category
		{"s1", "supervisor", "p1", "cn_id", custos.DecisionAllow, "ok"}, // a quota of their own
		{"s1", "supervisor", "p2", "cn_id", custos.DecisionAllow, "ok"},
		{"s1", "supervisor", "p3", "cn_id", custos.DecisionAllow, "ok"},
		{"s1", "supervisor", "p4", "cn_id", custos.DecisionAllow, "ok"},
		{"s1", "supervisor", "p5", "cn_id", custos.DecisionDeny, "quota:supervisors"},
		{"a2", "agent", "p1", "cn_id", custos.DecisionAllow, "ok"},
		{"a2", "agent", "p2", "cn_id", custos.DecisionAllow, "ok"},
		{"a2", "agent", "p3", "cn_id", custos.DecisionAllow, "grant:g-a2"}, // quota raised
		{"a2", "agent", "p4", "cn_id", custos.DecisionAllow, "grant:g-a2"},
	}
	for i, s := range steps {
		r := Request{Actor: custos.Actor{ID: s.actor, Roles: []string{s.role}}, Resource: custos.Resource{System: "pss"},
			DataTypes: []string{s.dataType}, Subjects: []string{s.subject}}
		d := e.Decide(context.Background(), &r)
		if d.Effect != s.want || d.Rules[len(d.Rules)-1] != s.lastRule {
			t.Errorf("step %d (%s %s): %s %v, want %s ending %s", i, s.actor, s.subject, d.Effect, d.Rules, s.want, s.lastRule)
		}
	}
	if u := e.Quotas.Usage(p.Quota("agents"), "a2", now); u.Subjects != 2 {
		t.Errorf("requests let through by a raise were counted: %d subjects", u.Subjects)
	}
	if u := e.Quotas.Usage(p.Quota("agents"), "a1", now); u.Subjects != 2 {
		t.Errorf("a1 uses %d subjects of agents, want 2", u.Subjects)
	}
	// An unmask grant is not a quota raise.
	e.Grants = kindGrants{kind: "unmask", actors: map[string]bool{"a1": true}}
	r := Request{Actor: custos.Actor{ID: "a1", Roles: []string{"agent"}}, Resource: custos.Resource{System: "pss"}, DataTypes: []string{"cn_id"}, Subjects: []string{"p7"}}
	if d := e.Decide(context.Background(), &r); d.Effect != custos.DecisionApprovalRequired {
		t.Errorf("unmask grant passed a quota: %+v", d)
	}
}
