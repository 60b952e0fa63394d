package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/custos-dev/custos/approval"
)

func TestApprovals(t *testing.T) {
	s := openFresh(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	pending := approval.Request{ID: "r1", Kind: approval.KindUnmask, Requester: "carol", Reason: "INC-77 complaint", Created: t0, Status: approval.StatusPending}
	granted := approval.Request{ID: "r2", Kind: approval.KindExport, Requester: "dan", Reason: "manifest for police", Created: t0.Add(time.Minute), Status: approval.StatusPending}
	for _, r := range []approval.Request{pending, granted} {
		if err := s.SaveApproval(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// A later step replaces the stored request.
	granted.Status, granted.GrantFrom, granted.GrantUntil = approval.StatusGranted, t0, t0.Add(time.Hour)
	if err := s.SaveApproval(ctx, granted); err != nil {
		t.Fatal(err)
	}
	all, err := s.Approvals(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "r1" || all[1].Status != approval.StatusGranted || !all[1].GrantUntil.Equal(t0.Add(time.Hour)) {
		t.Fatalf("approvals = %+v, %v", all, err)
	}
	gs, err := s.Grants(ctx)
	if err != nil || len(gs) != 1 || gs[0].ID != "r2" {
		t.Fatalf("grants = %+v, %v", gs, err)
	}
}
