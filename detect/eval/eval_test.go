package eval

import (
	"context"
	"testing"
	"time"

	"github.com/custos-dev/custos/detect"
	"github.com/custos-dev/custos/sim"
)

// TestSuiteMeetsTargets runs a smaller suite (30 employees, 21 days per
// scenario) against the targets; `custos eval` runs the full one.
func TestSuiteMeetsTargets(t *testing.T) {
	rep, err := Run(context.Background(), sim.Suite(30, 21), detect.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		t.Logf("%-26s malicious=%v detected=%v ttd=%v true=%d false=%d rules=%v false=%v", r.Scenario, r.Malicious, r.Detected, r.TimeToDetect, r.TrueAlerts, r.FalseAlerts, r.TrueRules, r.FalseRules)
		if r.Malicious && !r.Detected {
			t.Errorf("%s: not detected", r.Scenario)
		}
		if r.Detected && (r.Precision == nil || *r.Precision <= 0) || r.TrueAlerts+r.FalseAlerts == 0 && r.Precision != nil {
			t.Errorf("%s: precision %v with %d true and %d false alerts", r.Scenario, r.Precision, r.TrueAlerts, r.FalseAlerts)
		}
		if r.FalsePer1000 > 1000*float64(r.FalseAlerts)/float64(r.EmployeeDays)+1e-9 || (r.FalseAlerts > 0) != (r.FalsePer1000 > 0) {
			t.Errorf("%s: %.3f false alerts per 1000 employee-days for %d in %d", r.Scenario, r.FalsePer1000, r.FalseAlerts, r.EmployeeDays)
		}
		if (r.Scenario == "planted_crawler" || r.Scenario == "credential_stuffing") && r.TimeToDetect > 5*time.Minute {
			t.Errorf("%s: detected after %v, target 5m", r.Scenario, r.TimeToDetect)
		}
	}
	t.Logf("caught %d/%d, %d false alerts in %d employee-days (%.2f per 1000), precision %.2f", rep.Caught, rep.Injected, rep.FalseAlerts, rep.EmployeeDays, rep.FalsePer1000, rep.Precision)
	if rep.FalsePer1000 > 1 {
		t.Errorf("%.2f false alerts per 1000 employee-days, target ≤ 1", rep.FalsePer1000)
	}
}
