package traceeval

import (
	"testing"
)

// TestQuick runs the evaluation at small scale and asserts the targets.
func TestQuick(t *testing.T) {
	res, err := Run(t.Context(), Quick())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cells {
		t.Logf("%-40s %4d  top1 %5.1f%%  confident %5.1f%%  false %d  (resorted %d reformatted %d dropped %d mixed %d)",
			c.Scenario, c.Size, 100*c.Top1Rate(), 100*float64(c.Confident)/float64(c.Trials), c.WronglyNamed, c.Resorted, c.Reformatted, c.Dropped, c.Mixed)
	}
	t.Logf("build %s run %s", res.Build, res.Run)
	if f := res.Failures(); len(f) > 0 {
		t.Errorf("targets missed: %v", f)
	}
}
