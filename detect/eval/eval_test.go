package eval

import (
	"context"
	"testing"

	"github.com/custos-dev/custos/detect"
	"github.com/custos-dev/custos/sim"
)

func TestSuiteSmall(t *testing.T) {
	rep, err := Run(context.Background(), sim.Suite(40, 24), detect.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		t.Logf("%-28s mal=%v det=%v ttd=%v true=%d false=%d rules=%v false=%v ed=%d", r.Scenario, r.Malicious, r.Detected, r.TimeToDetect, r.TrueAlerts, r.FalseAlerts, r.TrueRules, r.FalseRules, r.EmployeeDays)
	}
	t.Logf("caught %d/%d false %d per1000 %.2f precision %.2f events %d in %v", rep.Caught, rep.Injected, rep.FalseAlerts, rep.FalsePer1000, rep.Precision, rep.Events, rep.Elapsed)
}
