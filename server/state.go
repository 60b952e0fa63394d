package server

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/approval"
	"github.com/custos-dev/custos/policy"
)

// restoreState reloads what the API accepted in earlier runs — need-to-know
// relationships, the watchlist, approval requests and grants — and routes
// later changes to the store, so that a restart forgets nothing a decision
// depends on.
func (s *Server) restoreState(ctx context.Context) error {
	var rels []policy.Relationship
	if err := s.Store.Relationships(ctx, time.Now(), func(r policy.Relationship) { rels = append(rels, r) }); err != nil {
		return fmt.Errorf("server: restore: %w", err)
	}
	s.Relationships.Add(rels...)
	if s.detection != nil && len(rels) > 0 {
		if err := s.detection.AppendRelationships(ctx, rels, nil); err != nil {
			return fmt.Errorf("server: restore relationships to detection: %w", err)
		}
	}
	watch, err := s.Store.Watchlist(ctx)
	if err != nil {
		return fmt.Errorf("server: restore: %w", err)
	}
	if err := s.Watchlist.Set(watch...); err != nil {
		return fmt.Errorf("server: restore watchlist: %w", err)
	}
	s.refreshDetectionWatchlist()
	if s.Approvals != nil {
		reqs, err := s.Store.Approvals(ctx)
		if err != nil {
			return fmt.Errorf("server: restore: %w", err)
		}
		s.Approvals.Restore(reqs)
		s.Approvals.Store = s.Store
		s.Approvals.OnEvent = func(ctx context.Context, ev approval.Event) {
			s.record(ctx, ApprovalAudit(ev))
		}
	}
	if err := s.responses.refresh(ctx); err != nil {
		return fmt.Errorf("server: restore suspensions: %w", err)
	}
	s.log.Info("state restored", "relationships", len(rels), "watchlist", len(watch))
	return nil
}

// ApprovalAudit is the audit event of an approval step: who acted
// ("custos" for an expiry), on which request, of which kind and rule, with
// what status as a result.
func ApprovalAudit(ev approval.Event) custos.AuditEvent {
	detail := map[string]string{"kind": string(ev.Request.Kind), "status": string(ev.Request.Status), "requester": ev.Request.Requester}
	if ev.Request.Rule != "" {
		detail["rule"] = ev.Request.Rule
	}
	actor := ev.Actor
	if actor == "" {
		actor = "custos" // expiry
	}
	return custos.NewAuditEvent(actor, string(ev.Type), ev.Request.ID, detail)
}

// refreshDetectionWatchlist gives detection the current list: it keeps
// its own copy. Subjects that need approval are watched too.
func (s *Server) refreshDetectionWatchlist() {
	if s.detection == nil {
		return
	}
	watched := s.Watchlist.Hashes(policy.WatchAlert)
	maps.Copy(watched, s.Watchlist.Hashes(policy.WatchApproval))
	s.detection.engine.SetWatchlist(watched, s.Watchlist.Hashes(policy.WatchHoneytoken))
}

// audit records an action on Custos itself; it reaches the ledger like
// any event. A failure is logged, not returned: the action has happened.
func (s *Server) audit(ctx context.Context, actor, action, object string, detail map[string]string) {
	s.record(ctx, custos.NewAuditEvent(actor, action, object, detail))
}

// record stores an audit event, logging a failure.
func (s *Server) record(ctx context.Context, ev custos.AuditEvent) {
	if err := s.Store.AppendAudit(context.WithoutCancel(ctx), []custos.AuditEvent{ev}); err != nil {
		s.log.Error("audit event not stored", "action", ev.Action, "err", err)
	}
}

// relationshipLogs persists accepted relationships in the store, then
// hands them to detection's need-to-know table.
type relationshipLogs []policy.RelationshipLog

func (ls relationshipLogs) AppendRelationships(ctx context.Context, added, removed []policy.Relationship) error {
	for _, l := range ls {
		if err := l.AppendRelationships(ctx, added, removed); err != nil {
			return err
		}
	}
	return nil
}

// watchLog persists a watchlist change and records who made it.
type watchLog struct {
	s     *Server
	actor func(context.Context) string
}

func (w watchLog) SaveWatchlist(ctx context.Context, set []policy.WatchEntry, unset []string) error {
	if err := w.s.Store.SaveWatchlist(ctx, set, unset); err != nil {
		return err
	}
	w.s.audit(ctx, w.actor(ctx), "watchlist.changed", "watchlist",
		map[string]string{"listed": strconv.Itoa(len(set)), "unlisted": strconv.Itoa(len(unset))})
	return nil
}
