package server

import (
	"context"
	"time"
)

// upkeepEvery is how often a node does the decision core's housekeeping.
const upkeepEvery = time.Minute

// Upkeep does the decision core's housekeeping once: approval requests
// and grants whose time is up are expired, each expiry an audit event (so
// it reaches the ledger even when nobody looks at the request again);
// quota counters with nothing left in their window and relationships past
// their expiry are dropped, so memory stays bounded by current work.
// Start runs it every minute.
func (s *Server) Upkeep(ctx context.Context, now time.Time) {
	if s.Approvals != nil {
		s.Approvals.Sweep(ctx)
	}
	if s.Policy != nil && s.Policy.Quotas != nil {
		if n := s.Policy.Quotas.Sweep(s.Policy.Policies.Policy(), now); n > 0 {
			s.log.Debug("upkeep: idle quota counters dropped", "n", n)
		}
	}
	if n := s.Relationships.Prune(); n > 0 {
		s.log.Debug("upkeep: expired relationships dropped", "n", n)
	}
}

func (s *Server) upkeep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.Upkeep(ctx, now)
		}
	}
}
