package policy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/goccy/go-yaml/parser"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/mask"
)

// CaseFile is a file of requests and the decisions a policy must give
// them, with the relationships they assume (`custos policy test`).
type CaseFile struct {
	Relationships []Relationship `yaml:"relationships"`
	Watchlist     []WatchEntry   `yaml:"watchlist"`
	Cases         []Case         `yaml:"cases"`

	name string
	pos  []Pos
}

// Case is one request and what the policy must decide for it.
type Case struct {
	Name    string  `yaml:"name"`
	Request Request `yaml:"request"`
	Expect  Expect  `yaml:"expect"`
}

// Expect is the expected decision. Decision is required; Rules, Limit,
// Mask, Alert and Alarm are compared when given.
type Expect struct {
	Decision custos.Decision           `yaml:"decision"`
	Rules    []string                  `yaml:"rules"`
	Limit    int64                     `yaml:"limit"`
	Mask     map[string]mask.Transform `yaml:"mask"`
	Alert    *bool                     `yaml:"alert"`
	Alarm    *bool                     `yaml:"alarm"`
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Name     string   `json:"name"`
	Pos      Pos      `json:"pos"`
	Pass     bool     `json:"pass"`
	Got      Decision `json:"got"`
	Failures []string `json:"failures,omitempty"`
}

// LoadCases reads a case file strictly; errors name file:line:column.
func LoadCases(path string) (*CaseFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy cases: %w", err)
	}
	return ParseCases(path, data)
}

// ParseCases decodes a case file strictly.
func ParseCases(name string, data []byte) (*CaseFile, error) {
	c := &compiler{file: name}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		c.yamlErr(err)
		return nil, &LoadError{Problems: c.problems}
	}
	c.ast = f
	cf := &CaseFile{name: name}
	if len(f.Docs) > 0 && f.Docs[0].Body != nil {
		if err := decodeNode(f.Docs[0].Body, cf); err != nil {
			c.yamlErr(err)
			return nil, &LoadError{Problems: c.problems}
		}
	}
	for i, cs := range cf.Cases {
		at := fmt.Sprintf("$.cases[%d]", i)
		cf.pos = append(cf.pos, c.itemPos(at))
		if cs.Expect.Decision == "" {
			c.errorf(c.pos(at), "", "case %q: expect.decision required", cs.Name)
		} else if !validEffect(cs.Expect.Decision) {
			c.errorf(c.pos(at+".expect.decision"), "", "case %q: unknown decision %q", cs.Name, cs.Expect.Decision)
		}
	}
	if len(c.problems) > 0 {
		return nil, &LoadError{Problems: c.problems}
	}
	return cf, nil
}

// RunCases compiles the policy with the case file's relationships and
// watchlist and decides every case in order with a full Engine: quotas
// count across cases, at each request's time, so a file can show the 21st
// credit report of an hour being refused.
func RunCases(policyName string, policyData []byte, cf *CaseFile) ([]CaseResult, error) {
	rel := NewRelationships()
	rel.Add(cf.Relationships...)
	p, err := Parse(policyName, policyData, Options{Relationships: rel})
	if err != nil {
		return nil, err
	}
	if len(cf.Cases) == 0 {
		return nil, errors.New("policy cases: no cases")
	}
	wl := NewWatchlist()
	if err := wl.Set(cf.Watchlist...); err != nil {
		return nil, fmt.Errorf("policy cases %s: %w", cf.name, err)
	}
	var clock time.Time
	eng := &Engine{Policies: NewHolderWith(p, Options{}, nil), Quotas: NewQuotas(), Watchlist: wl, Now: func() time.Time { return clock }}
	rel.Now = func() time.Time { return clock }
	out := make([]CaseResult, 0, len(cf.Cases))
	for i, cs := range cf.Cases {
		req := cs.Request
		// Expiry and quota windows are judged at the request's time, so
		// cases are repeatable.
		clock = req.Time
		if clock.IsZero() {
			clock = time.Now()
		}
		got := eng.Decide(context.Background(), &req)
		res := CaseResult{Name: cs.Name, Got: got}
		if i < len(cf.pos) {
			res.Pos = cf.pos[i]
		}
		e := cs.Expect
		if got.Effect != e.Decision {
			res.Failures = append(res.Failures, fmt.Sprintf("decision %s, want %s", got.Effect, e.Decision))
		}
		if e.Rules != nil && !slices.Equal(got.Rules, e.Rules) {
			res.Failures = append(res.Failures, fmt.Sprintf("rules %v, want %v", got.Rules, e.Rules))
		}
		if e.Limit != 0 && got.Limit != e.Limit {
			res.Failures = append(res.Failures, fmt.Sprintf("limit %d, want %d", got.Limit, e.Limit))
		}
		if e.Mask != nil && !maps.Equal(got.Mask, e.Mask) {
			res.Failures = append(res.Failures, fmt.Sprintf("mask %v, want %v", got.Mask, e.Mask))
		}
		if e.Alert != nil && got.Alert != *e.Alert {
			res.Failures = append(res.Failures, fmt.Sprintf("alert %v, want %v", got.Alert, *e.Alert))
		}
		if e.Alarm != nil && got.Alarm != *e.Alarm {
			res.Failures = append(res.Failures, fmt.Sprintf("alarm %v, want %v", got.Alarm, *e.Alarm))
		}
		res.Pass = len(res.Failures) == 0
		out = append(out, res)
	}
	return out, nil
}
