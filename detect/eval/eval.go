// Package eval measures the detection engine against the simulator's
// scenario suite: every scenario's organization is generated, its events
// sealed with a blind index and fed to a fresh engine, and the alerts
// are matched with the scenario's ground truth.
package eval

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/detect"
	"github.com/custos-dev/custos/sim"
)

// Result is one scenario's outcome.
type Result struct {
	Scenario     string        `json:"scenario"`
	Kind         sim.Kind      `json:"kind"`
	Malicious    bool          `json:"malicious"`
	Events       int           `json:"events"`
	EmployeeDays int           `json:"employee_days"`
	Detected     bool          `json:"detected"`
	TimeToDetect time.Duration `json:"time_to_detect_ns,omitempty"`
	TrueRules    []string      `json:"true_rules,omitempty"`
	TrueAlerts   int           `json:"true_alerts"`
	FalseAlerts  int           `json:"false_alerts"`
	FalseRules   []string      `json:"false_rules,omitempty"`
	// FalsePer1000 is false alerts per 1,000 of the scenario's
	// employee-days; Precision is true alerts over all alerts (nil
	// when the scenario raised none).
	FalsePer1000 float64        `json:"false_alerts_per_1000_employee_days"`
	Precision    *float64       `json:"precision,omitempty"`
	Alerts       []detect.Alert `json:"-"`
}

// Report is the whole suite's outcome.
type Report struct {
	Results      []Result      `json:"results"`
	Injected     int           `json:"injected"`
	Caught       int           `json:"caught"`
	EmployeeDays int           `json:"employee_days"`
	TrueAlerts   int           `json:"true_alerts"`
	FalseAlerts  int           `json:"false_alerts"`
	FalsePer1000 float64       `json:"false_alerts_per_1000_employee_days"`
	Precision    float64       `json:"precision"`
	Events       int           `json:"events"`
	Elapsed      time.Duration `json:"elapsed_ns"`
}

// Run evaluates the scenarios with the engine configuration cfg (its
// Location, Watchlist, Honeytokens, Relations, Breached and Networks are
// filled in per scenario).
func Run(ctx context.Context, scenarios []*sim.Scenario, cfg detect.Config) (Report, error) {
	var rep Report
	start := time.Now()
	for _, sc := range scenarios {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		r, err := RunScenario(ctx, sc, cfg)
		if err != nil {
			return rep, err
		}
		rep.Results = append(rep.Results, r)
		rep.Events += r.Events
		rep.EmployeeDays += r.EmployeeDays
		rep.TrueAlerts += r.TrueAlerts
		rep.FalseAlerts += r.FalseAlerts
		if r.Malicious {
			rep.Injected++
			if r.Detected {
				rep.Caught++
			}
		}
	}
	rep.Elapsed = time.Since(start)
	if rep.EmployeeDays > 0 {
		rep.FalsePer1000 = float64(rep.FalseAlerts) * 1000 / float64(rep.EmployeeDays)
	}
	if n := rep.TrueAlerts + rep.FalseAlerts; n > 0 {
		rep.Precision = float64(rep.TrueAlerts) / float64(n)
	}
	return rep, nil
}

// Networks places the simulator's offices and external ranges.
func Networks() []detect.Network {
	var out []detect.Network
	for _, o := range append(slices.Clone(sim.Offices), sim.ExternalNetworks...) {
		out = append(out, detect.Network{Prefix: o.Prefix, Name: o.Name, Lat: o.Lat, Lon: o.Lon})
	}
	return out
}

// Index returns the blind index the evaluation uses for a seed (a fixed
// test key, never a deployment's).
func Index(seed uint64) *blind.Index {
	k := sha256.Sum256([]byte(fmt.Sprintf("custos-eval-%d", seed)))
	x, err := blind.New(k[:])
	if err != nil {
		panic(err) // the key is always KeySize bytes
	}
	return x
}

// Setup builds the engine configuration for an organization: watchlist,
// honeytokens, breached passwords (the scenario's combo list, loaded at
// the first relationship, when generation has set the scenario up) and
// networks, all hashed with idx. It returns the function that feeds
// relationship events into the need-to-know set.
func Setup(o *sim.Org, sc *sim.Scenario, idx *blind.Index, cfg detect.Config) (detect.Config, func(sim.Relationship) error, error) {
	cfg.Location = sim.Zone
	cfg.Watchlist = map[string]bool{}
	cfg.Honeytokens = map[string]bool{}
	for _, s := range o.Watchlist() {
		h, err := idx.Hash(s.Type, s.Value)
		if err != nil {
			return cfg, nil, fmt.Errorf("eval: watchlist: %w", err)
		}
		cfg.Watchlist[h] = true
	}
	for _, s := range o.Honeytokens() {
		h, err := idx.Hash(s.Type, s.Value)
		if err != nil {
			return cfg, nil, fmt.Errorf("eval: honeytokens: %w", err)
		}
		cfg.Honeytokens[h] = true
	}
	cfg.Breached = detect.NewBreachedStore()
	cfg.Networks = Networks()
	combo := false
	rel := detect.NewRelationTable()
	cfg.Relations = rel
	add := func(r sim.Relationship) error {
		if !combo && sc != nil {
			// The combo list exists once the scenario is set up, which
			// is before its first event.
			combo = true
			for _, pw := range sc.Combo {
				if err := cfg.Breached.Add(sim.PasswordFingerprint(pw)); err != nil {
					return err
				}
			}
		}
		h, err := idx.Hash(r.Subject.Type, r.Subject.Value)
		if err != nil {
			return fmt.Errorf("eval: relationship: %w", err)
		}
		rel.Add(r.Actor, h, r.Until)
		return nil
	}
	return cfg, add, nil
}

// RunScenario generates one scenario and evaluates the engine on it.
func RunScenario(ctx context.Context, sc *sim.Scenario, base detect.Config) (Result, error) {
	o := sc.Org()
	idx := Index(sc.Seed)
	cfg, addRel, err := Setup(o, sc, idx, base)
	if err != nil {
		return Result{}, err
	}
	eng := detect.New(cfg)
	alerts := map[string]detect.Alert{}
	var order []string
	keep := func(as []detect.Alert) {
		for _, a := range as {
			if _, ok := alerts[a.ID]; !ok {
				order = append(order, a.ID)
			}
			alerts[a.ID] = a
		}
	}
	res := Result{Scenario: sc.Name, Kind: sc.Kind, Malicious: sc.Malicious}
	empDays := map[string]bool{}
	err = sim.Generate(o, sim.SuiteStart, sc.Days, []*sim.Scenario{sc}, func(ev sim.Event) error {
		switch {
		case ev.Relationship != nil:
			return addRel(*ev.Relationship)
		case ev.Access != nil:
			a := *ev.Access
			a.Subjects = slices.Clone(a.Subjects)
			if err := idx.Seal(&a); err != nil {
				return fmt.Errorf("eval: seal %s: %w", a.ID, err)
			}
			res.Events++
			if ev.Scenario == "" {
				empDays[a.Actor.ID+a.Time.In(sim.Zone).Format("20060102")] = true
			}
			keep(eng.ProcessAccess(&a))
		case ev.Login != nil:
			res.Events++
			keep(eng.ProcessLogin(ev.Login))
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	res.EmployeeDays = len(empDays)
	t := sc.Truth
	true1 := map[string]bool{}
	falseRules := map[string]bool{}
	for _, id := range order {
		a := alerts[id]
		res.Alerts = append(res.Alerts, a)
		if sc.Malicious && matches(a, t) {
			res.TrueAlerts++
			true1[a.Rule] = true
			ttd := a.DetectedAt.Sub(t.Start)
			if ttd < 0 {
				ttd = 0
			}
			if !res.Detected || ttd < res.TimeToDetect {
				res.TimeToDetect = ttd
			}
			res.Detected = true
			continue
		}
		res.FalseAlerts++
		falseRules[a.Rule] = true
	}
	if res.EmployeeDays > 0 {
		res.FalsePer1000 = float64(res.FalseAlerts) * 1000 / float64(res.EmployeeDays)
	}
	if n := res.TrueAlerts + res.FalseAlerts; n > 0 {
		p := float64(res.TrueAlerts) / float64(n)
		res.Precision = &p
	}
	res.TrueRules = sortedKeys(true1)
	res.FalseRules = sortedKeys(falseRules)
	return res, nil
}

// matches says whether an alert points at the scenario's culprit during
// the incident.
func matches(a detect.Alert, t sim.Truth) bool {
	who := (t.Actor != "" && a.Actor != nil && *a.Actor == t.Actor) || (t.SourceIP != "" && a.SourceIP == t.SourceIP)
	return who && !a.LastSeen.Before(t.Start) && !a.DetectedAt.After(t.End.Add(24*time.Hour))
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
