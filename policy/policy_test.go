package policy

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos"
)

func TestAirlineCases(t *testing.T) {
	data, err := os.ReadFile("testdata/airline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cf, err := LoadCases("testdata/airline_cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	results, err := RunCases("testdata/airline.yaml", data, cf)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(cf.Cases) {
		t.Fatalf("%d results for %d cases", len(results), len(cf.Cases))
	}
	for _, r := range results {
		if !r.Pass {
			t.Errorf("%s %q: %v (got %+v)", r.Pos, r.Name, r.Failures, r.Got)
		}
	}
}

func TestRunCasesReportsFailure(t *testing.T) {
	data, _ := os.ReadFile("testdata/airline.yaml")
	cf, err := ParseCases("c.yaml", []byte(`cases:
  - name: wrong on purpose
    request: {actor: {id: x}, action: read, resource: {system: crm, object: leads}, data_types: [email]}
    expect: {decision: allow, rules: [nope]}
`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := RunCases("p.yaml", data, cf)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Pass || len(res[0].Failures) != 2 || res[0].Pos.Line != 2 {
		t.Fatalf("want a failure at line 2 on decision and rules, got %+v", res[0])
	}
}

func mustParse(t *testing.T, doc string, opts Options) *Policy {
	t.Helper()
	p, err := Parse("p.yaml", []byte(doc), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecideFeatures(t *testing.T) {
	rel := NewRelationships()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) // a Wednesday
	rel.Now = func() time.Time { return now }
	rel.Add(Relationship{Actor: "a1", Subject: "s1", Kind: "ticket", Expires: now.Add(time.Hour)})
	rel.Add(Relationship{Actor: "a1", Subject: "s2", Kind: "ticket", Expires: now.Add(-time.Hour)})
	p := mustParse(t, `
defaults: {sensitive: deny, other: allow, categories: {contact: mask}}
rules:
  - id: ticket
    when: has_relationship(actor, subject, "ticket")
    decision: allow
  - id: org
    match: {org_units: [fraud]}
    decision: allow
  - id: weekday-only
    when: weekday == 0 || weekday == 6
    decision: deny
  - id: attr
    when: '"clearance" in actor.attributes && actor.attributes["clearance"] == "high"'
    decision: allow
  - id: bulk
    when: records > 100 || subject_count > 50
    decision: approval_required
  - id: ip
    match: {channels: [http]}
    when: '!source.ip.startsWith("10.")'
    decision: deny
  - id: route
    match: {objects: ["GET /api/v1/*"]}
    decision: mask
    mask: {cn_mobile: redact}
`, Options{Relationships: rel})
	base := func() Request {
		return Request{Time: now, Actor: custos.Actor{ID: "a1"}, Action: custos.ActionRead, Resource: custos.Resource{System: "s", Object: "t"}, DataTypes: []string{"cn_id"}}
	}
	tests := []struct {
		name  string
		edit  func(*Request)
		want  custos.Decision
		rules []string
	}{
		{"relationship", func(r *Request) { r.Subjects = []string{"s1"} }, custos.DecisionAllow, []string{"ticket"}},
		{"expired relationship", func(r *Request) { r.Subjects = []string{"s2"} }, custos.DecisionDeny, []string{"default:identity"}},
		{"other actor", func(r *Request) { r.Actor.ID = "a2"; r.Subjects = []string{"s1"} }, custos.DecisionDeny, []string{"default:identity"}},
		{"org unit", func(r *Request) { r.Actor.OrgUnit = "fraud" }, custos.DecisionAllow, []string{"org"}},
		{"weekend", func(r *Request) { r.Time = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC) }, custos.DecisionDeny, []string{"weekday-only"}},
		{"attribute", func(r *Request) { r.Actor.Attributes = map[string]string{"clearance": "high"} }, custos.DecisionAllow, []string{"attr"}},
		{"bulk records", func(r *Request) { r.Records = 101 }, custos.DecisionApprovalRequired, []string{"bulk"}},
		{"outside ip on http", func(r *Request) { r.Channel = custos.ChannelHTTP; r.Source.IP = "203.0.113.9" }, custos.DecisionDeny, []string{"ip"}},
		{"inside ip on http", func(r *Request) { r.Channel = custos.ChannelHTTP; r.Source.IP = "10.0.0.9" }, custos.DecisionDeny, []string{"default:identity"}},
		{"route prefix", func(r *Request) { r.Resource = custos.Resource{System: "web", Route: "GET /api/v1/users"} }, custos.DecisionMask, []string{"route"}},
		{"contact override", func(r *Request) { r.DataTypes = []string{"cn_mobile"} }, custos.DecisionMask, []string{"default:contact"}},
		{"strictest category wins", func(r *Request) { r.DataTypes = []string{"cn_mobile", "bank_card"} }, custos.DecisionDeny, []string{"default:financial_account"}},
		{"non-sensitive other", func(r *Request) { r.DataTypes = []string{"ipv4"} }, custos.DecisionAllow, []string{"default:device"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base()
			tt.edit(&r)
			d := p.Decide(&r)
			if d.Effect != tt.want || !slices.Equal(d.Rules, tt.rules) {
				t.Errorf("got %s %v, want %s %v", d.Effect, d.Rules, tt.want, tt.rules)
			}
		})
	}
}

func TestDecisionTransform(t *testing.T) {
	p := mustParse(t, `
defaults: {mask: {cn_id: generalize}}
rules:
  - id: m
    decision: mask
    mask: {cn_mobile: format_token}
`, Options{})
	r := Request{Actor: custos.Actor{ID: "x"}, Resource: custos.Resource{System: "s"}, DataTypes: []string{"cn_mobile"}}
	d := p.Decide(&r)
	for typ, want := range map[string]string{"cn_mobile": "format_token", "cn_id": "generalize", "email": "partial"} {
		if got := d.Transform(typ); string(got) != want {
			t.Errorf("%s: %s, want %s", typ, got, want)
		}
	}
	if (Decision{Effect: custos.DecisionAllow}).Transform("cn_id") != "none" || (Decision{Effect: custos.DecisionDeny}).Transform("cn_id") != "redact" {
		t.Error("allow/deny transforms")
	}
}

func TestEvalErrorFailsClosed(t *testing.T) {
	p := mustParse(t, `
rules:
  - id: deny-missing
    when: actor.attributes["x"] == "1"
    decision: deny
  - id: allow-missing
    when: actor.attributes["y"] == "1"
    decision: allow
  - id: fallback
    decision: mask
`, Options{})
	r := Request{Actor: custos.Actor{ID: "x"}, Resource: custos.Resource{System: "s"}}
	if d := p.Decide(&r); d.Effect != custos.DecisionDeny || d.Rules[0] != "deny-missing" {
		t.Fatalf("a deny rule whose condition errs must apply: %+v", d)
	}
	p = mustParse(t, `
rules:
  - id: allow-missing
    when: actor.attributes["y"] == "1"
    decision: allow
  - id: fallback
    decision: mask
`, Options{})
	if d := p.Decide(&r); d.Effect != custos.DecisionMask {
		t.Fatalf("an allow rule whose condition errs must not apply: %+v", d)
	}
}

// TestCostLimitFailsClosed evaluates a condition that loads (its worst
// case for up to 100,000 subjects is within MaxCost) with an input larger
// than the estimate assumed, so that it exceeds the limit at run time:
// the deny rule must apply.
func TestCostLimitFailsClosed(t *testing.T) {
	p := mustParse(t, `
rules:
  - id: deny-repeats
    when: subjects.exists(s, s == "needle")
    decision: deny
  - id: fallback
    decision: allow
`, Options{})
	subjects := make([]string, 1_000_000)
	for i := range subjects {
		subjects[i] = "h"
	}
	r := Request{Actor: custos.Actor{ID: "x"}, Resource: custos.Resource{System: "s"}, Subjects: subjects}
	if d := p.Decide(&r); d.Effect != custos.DecisionDeny {
		t.Fatalf("a deny rule whose condition hit the cost limit must apply: %+v", d)
	}
	r.Subjects = []string{"h1", "h2"}
	if d := p.Decide(&r); d.Effect != custos.DecisionAllow {
		t.Fatalf("cheap input: %+v", d)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"unknown field", "rules:\n  - id: a\n    decision: allow\n    wehn: x\n", []string{"p.yaml:4:5:", "unknown field"}},
		{"cel syntax", "rules:\n  - id: a\n    decision: allow\n    when: actor.id ==\n", []string{"p.yaml:4:", "Syntax error"}},
		{"cel type", "rules:\n  - id: a\n    decision: allow\n    when: 'records == \"x\"'\n", []string{"p.yaml:4:", "no matching overload"}},
		{"cel undeclared", "rules:\n  - id: a\n    decision: allow\n    when: actor.rols.size() > 0\n", []string{"p.yaml:4:"}},
		{"cel not bool", "rules:\n  - id: a\n    decision: allow\n    when: records\n", []string{"p.yaml:4:11:", "must be a boolean"}},
		{"bad decision", "rules:\n  - id: a\n    decision: permit\n", []string{"p.yaml:3:15:", `unknown decision "permit"`}},
		{"no decision", "rules:\n  - id: a\n", []string{"p.yaml:2:5:", "decision required"}},
		{"duplicate id", "rules:\n  - {id: a, decision: allow}\n  - {id: a, decision: deny}\n", []string{"p.yaml:3:", "duplicate rule id, first at line 2"}},
		{"unknown category", "rules:\n  - id: a\n    decision: deny\n    match: {categories: [gossip]}\n", []string{"p.yaml:4:", `unknown category "gossip"`}},
		{"unknown type", "rules:\n  - id: a\n    decision: deny\n    match: {data_types: [phone]}\n", []string{`unknown data type "phone"`}},
		{"unknown transform", "rules:\n  - id: a\n    decision: mask\n    mask: {cn_id: blur}\n", []string{"p.yaml:4:", `unknown transform "blur"`}},
		{"unsupported transform", "rules:\n  - id: a\n    decision: mask\n    mask: {cn_mobile: generalize}\n", []string{`cannot mask cn_mobile`}},
		{"mask on allow", "rules:\n  - id: a\n    decision: allow\n    mask: {cn_id: partial}\n", []string{"mask transforms given"}},
		{"limit without n", "rules:\n  - id: a\n    decision: limit\n", []string{"limit > 0"}},
		{"timezone", "timezone: Mars/Olympus\n", []string{"p.yaml:1:", "unknown timezone"}},
		{"yaml syntax", "rules: [\n", []string{"p.yaml:"}},
		{"version", "version: 9\n", []string{"version 9"}},
		{"too expensive", "rules:\n  - id: a\n    decision: deny\n    when: subjects.exists(s, subjects.exists(t, s + t == \"x\"))\n", []string{"p.yaml:4:", "may cost up to", "limit 1000000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.doc), Options{})
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("err %v, want a LoadError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLint(t *testing.T) {
	doc := `rules:
  - id: all-agents-mask
    match: {roles: [agent]}
    decision: mask
  - id: agents-on-pss
    match: {roles: [agent], systems: [pss]}
    decision: allow
  - id: never
    when: "false"
    decision: deny
  - id: pss-deny
    match: {systems: [pss]}
    decision: deny
  - id: conditional
    match: {roles: [agent]}
    when: hour < 8
    decision: deny
  - id: same-condition
    match: {roles: [agent], systems: [pss]}
    when: hour < 8
    decision: deny
  - id: open
    decision: allow
`
	ps := Lint("p.yaml", []byte(doc), Options{})
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	want := []string{
		"p.yaml:5:5: warning: unreachable: every request it matches is decided first by rule all-agents-mask (line 2) (rule agents-on-pss)",
		"p.yaml:9:11: warning: condition is always false: the rule never applies (rule never)",
		"p.yaml:11:5: warning: conflicts with rule all-agents-mask (line 2): requests matching both get mask from all-agents-mask, not deny (rule pss-deny)",
		"p.yaml:14:5: warning: unreachable: every request it matches is decided first by rule all-agents-mask (line 2) (rule conditional)",
		"p.yaml:18:5: warning: unreachable: every request it matches is decided first by rule all-agents-mask (line 2) (rule same-condition)",
		"p.yaml:22:5: warning: allows every category on every system with no condition (rule open)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("lint:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The example policy is clean.
	data, _ := os.ReadFile("testdata/airline.yaml")
	if ps := Lint("airline.yaml", data, Options{}); len(ps) != 0 {
		t.Errorf("example policy has problems: %v", ps)
	}
}

func TestHolderKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(path, []byte("name: first\nrules:\n  - {id: a, decision: allow}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h, err := NewHolder(path, Options{}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// Second rule is fine, third is broken: nothing of it may load.
	bad := "name: second\nrules:\n  - {id: a, decision: deny}\n  - {id: b, decision: allow, when: 'nope('}\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(path); err == nil {
		t.Fatal("broken policy reloaded")
	}
	if h.Policy().Name() != "first" {
		t.Fatalf("active policy %q after rejected reload", h.Policy().Name())
	}
	r := Request{Actor: custos.Actor{ID: "x"}, Resource: custos.Resource{System: "s"}}
	if d := h.Policy().Decide(&r); d.Effect != custos.DecisionAllow {
		t.Fatalf("half-loaded policy: %+v", d)
	}
	if !strings.Contains(logs.String(), "reload rejected") || !strings.Contains(logs.String(), "active=first") {
		t.Errorf("rejection not logged: %s", logs.String())
	}
	if err := os.WriteFile(path, []byte("name: third\nrules:\n  - {id: a, decision: deny}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(path); err != nil || h.Policy().Name() != "third" {
		t.Fatalf("good reload: %v, active %q", err, h.Policy().Name())
	}
	if _, err := NewHolder(filepath.Join(dir, "missing.yaml"), Options{}, nil); err == nil {
		t.Error("holder started without a policy")
	}
}

func FuzzParse(f *testing.F) {
	seed, _ := os.ReadFile("testdata/airline.yaml")
	f.Add(seed)
	f.Add([]byte("rules:\n  - {id: a, decision: allow, when: 'hour > 3'}\n"))
	f.Add([]byte("defaults: {categories: {credit: mask}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data, Options{})
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) || len(le.Problems) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			return
		}
		r := Request{Actor: custos.Actor{ID: "x", Roles: []string{"agent"}}, Resource: custos.Resource{System: "pss", Object: "public.passengers"}, DataTypes: []string{"cn_id"}}
		d := p.Decide(&r)
		if strictness(d.Effect) > 4 || len(d.Rules) == 0 {
			t.Fatalf("decision %+v", d)
		}
	})
}

func actorID(id string) custos.Actor         { return custos.Actor{ID: id} }
func resource(system string) custos.Resource { return custos.Resource{System: system} }

type suspendedSet map[string]bool

func (s suspendedSet) Suspended(actor string) bool        { return s[actor] }
func (s suspendedSet) RequiresApproval(actor string) bool { return s[actor] }

// TestSuspendedActorDenied: a suspended actor is denied whatever the
// rules say, and names the reason; others are unaffected.
func TestSuspendedActorDenied(t *testing.T) {
	p := mustParse(t, "rules:\n  - id: all\n    decision: allow\n", Options{})
	e := &Engine{Policies: NewHolderWith(p, Options{}, slog.New(slog.NewTextHandler(io.Discard, nil))), Suspensions: suspendedSet{"emp-7": true}}
	r := Request{Actor: custos.Actor{ID: "emp-7"}, Resource: custos.Resource{System: "pss"}}
	if d := e.Decide(t.Context(), &r); d.Effect != custos.DecisionDeny || d.Rules[0] != "suspended" || d.Reason == "" {
		t.Errorf("suspended actor: %+v", d)
	}
	r.Actor.ID = "emp-8"
	if d := e.Decide(t.Context(), &r); d.Effect != custos.DecisionAllow {
		t.Errorf("other actor: %+v", d)
	}
}

type grantAll struct{}

func (grantAll) ActiveGrant(r *Request, kind string) (string, bool) {
	return "g-1", r.Actor.ID == "emp-9"
}

// TestRestrictedActorNeedsApproval: an actor under review gets
// approval_required where the policy would allow, and a grant lifts it.
func TestRestrictedActorNeedsApproval(t *testing.T) {
	p := mustParse(t, "rules:\n  - id: all\n    decision: allow\n", Options{})
	e := &Engine{Policies: NewHolderWith(p, Options{}, slog.New(slog.NewTextHandler(io.Discard, nil))),
		Restrictions: suspendedSet{"emp-7": true, "emp-9": true}, Grants: grantAll{}}
	r := Request{Actor: custos.Actor{ID: "emp-7"}, Resource: custos.Resource{System: "pss"}}
	if d := e.Decide(t.Context(), &r); d.Effect != custos.DecisionApprovalRequired || !slices.Contains(d.Rules, "restricted") {
		t.Errorf("restricted actor: %+v", d)
	}
	r.Actor.ID = "emp-9"
	if d := e.Decide(t.Context(), &r); d.Effect != custos.DecisionAllow || !slices.Contains(d.Rules, "grant:g-1") {
		t.Errorf("restricted actor with a grant: %+v", d)
	}
	r.Actor.ID = "emp-8"
	if d := e.Decide(t.Context(), &r); d.Effect != custos.DecisionAllow {
		t.Errorf("other actor: %+v", d)
	}
}

// TestLintReportsEveryUnknownField: all misspelt keys of a file are
// reported at once, nested ones included, each at its own position.
func TestLintReportsEveryUnknownField(t *testing.T) {
	doc := `version: 1
nmae: x
defaults:
  sensitiv: deny
  categories: {contact: allow}
rules:
  - id: a
    decision: allow
    match: {role: [agent], systems: [pss]}
  - {id: b, decision: deny, wehn: "hour < 8"}
quotas:
  - id: q
    subjects: 2
    window: 1h
    on_exeed: deny
`
	var got []string
	for _, p := range Lint("p.yaml", []byte(doc), Options{}) {
		got = append(got, p.String())
	}
	want := []string{
		`p.yaml:2:1: error: unknown field "nmae"`,
		`p.yaml:4:3: error: unknown field "sensitiv"`,
		`p.yaml:9:13: error: unknown field "role"`,
		`p.yaml:10:29: error: unknown field "wehn"`,
		`p.yaml:15:5: error: unknown field "on_exeed"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("lint:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := Parse("p.yaml", []byte(doc), Options{}); err == nil {
		t.Error("policy with unknown fields loaded")
	}
}
