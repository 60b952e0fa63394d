package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/custos-dev/custos"
)

// TestAudit appends audit events from concurrent writers: every event is
// stored once, and AuditSince pages through them in sequence order with
// no gap a follower could skip.
func TestAudit(t *testing.T) {
	s := openFresh(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				ev := custos.AuditEvent{ID: fmt.Sprintf("aud-%d-%d", w, i), Time: t0.Add(time.Duration(i) * time.Second), Actor: fmt.Sprintf("node-%d", w), Action: "policy.reloaded"}
				if err := s.AppendAudit(ctx, []custos.AuditEvent{ev, ev}); err != nil { // a repeat is stored once
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	var all []custos.StoredAudit
	for pos := int64(0); ; {
		page, err := s.AuditSince(ctx, pos, 30)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		pos = page[len(page)-1].Seq
	}
	if len(all) != 100 {
		t.Fatalf("AuditSince paged %d events, want 100", len(all))
	}
	ids := map[string]bool{}
	for i, a := range all {
		if i > 0 && a.Seq <= all[i-1].Seq {
			t.Fatalf("seq %d after %d", a.Seq, all[i-1].Seq)
		}
		ids[a.ID] = true
	}
	if len(ids) != 100 {
		t.Errorf("%d distinct ids", len(ids))
	}
	mine, err := s.Audit(ctx, "node-2", custos.Query{Limit: 5})
	if err != nil || len(mine) != 5 || mine[0].Actor != "node-2" || mine[0].Seq < mine[4].Seq {
		t.Errorf("Audit(node-2) = %+v, %v", mine, err)
	}
}
