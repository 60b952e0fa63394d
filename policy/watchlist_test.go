package policy

import (
	"slices"
	"testing"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/mask"
)

// TestWatchlistApply: every listed kind among a request's subjects has its
// effect, whatever else the request touches.
func TestWatchlistApply(t *testing.T) {
	w := NewWatchlist()
	if err := w.Set(
		WatchEntry{Subject: "star", Kind: WatchAlert},
		WatchEntry{Subject: "minor", Kind: WatchApproval},
		WatchEntry{Subject: "honey", Kind: WatchHoneytoken},
	); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		effect   custos.Decision
		subjects []string
		want     custos.Decision
		alert    bool
		alarm    bool
		rules    []string
	}{
		{"unlisted", custos.DecisionAllow, []string{"p1", "p2"}, custos.DecisionAllow, false, false, []string{"r"}},
		{"alert only", custos.DecisionMask, []string{"p1", "star"}, custos.DecisionMask, true, false, []string{"r", "watchlist"}},
		{"approval raises allow", custos.DecisionAllow, []string{"minor"}, custos.DecisionApprovalRequired, true, false, []string{"r", "watchlist"}},
		{"approval raises mask", custos.DecisionMask, []string{"minor"}, custos.DecisionApprovalRequired, true, false, []string{"r", "watchlist"}},
		{"approval keeps deny", custos.DecisionDeny, []string{"minor"}, custos.DecisionDeny, true, false, []string{"r", "watchlist"}},
		{"honeytoken leaves the effect", custos.DecisionMask, []string{"honey"}, custos.DecisionMask, true, true, []string{"r", "honeytoken"}},
		// A honeytoken must not hide a minor in the same request.
		{"honeytoken and approval", custos.DecisionAllow, []string{"honey", "minor"}, custos.DecisionApprovalRequired, true, true, []string{"r", "watchlist", "honeytoken"}},
		{"approval and honeytoken", custos.DecisionMask, []string{"minor", "p1", "honey"}, custos.DecisionApprovalRequired, true, true, []string{"r", "watchlist", "honeytoken"}},
		{"alert and honeytoken", custos.DecisionAllow, []string{"star", "honey"}, custos.DecisionAllow, true, true, []string{"r", "watchlist", "honeytoken"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Decision{Effect: tt.effect, Rules: []string{"r"}}
			if tt.effect == custos.DecisionMask {
				in.Mask = map[string]mask.Transform{"cn_id": mask.TransformPartial}
			}
			d := w.apply(in, tt.subjects)
			if d.Effect != tt.want || d.Alert != tt.alert || d.Alarm != tt.alarm || !slices.Equal(d.Rules, tt.rules) {
				t.Errorf("got %s alert=%v alarm=%v rules=%v, want %s alert=%v alarm=%v rules=%v",
					d.Effect, d.Alert, d.Alarm, d.Rules, tt.want, tt.alert, tt.alarm, tt.rules)
			}
			if d.Effect == custos.DecisionApprovalRequired && d.Mask != nil {
				t.Errorf("approval_required keeps mask transforms: %v", d.Mask)
			}
			// Nothing tells the employee about a honeytoken.
			if !slices.Contains(tt.subjects, "minor") && d.Reason != "" {
				t.Errorf("reason %q shown without an approval watch", d.Reason)
			}
		})
	}
}
