package server

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/custos-dev/custos/detect"
	"github.com/custos-dev/custos/store/sqlite"
)

// responses is how detection acts on the gateways: every decision checks
// whether the actor is suspended (policy.SuspensionChecker) or under
// review, needing approval (policy.RestrictionChecker), and the HTTP
// gateway asks for step-up when the actor's risk is high
// (httpgw.RiskSource). Suspensions come from the console (investigators)
// and, for the rules listed in alerts.suspend_rules, from detection
// itself; the set is re-read from the store every few seconds so that a
// suspension made anywhere reaches every gateway of the node.
type responses struct {
	s             *Server
	suspendRules  []string
	approvalRules []string

	mu         sync.RWMutex
	suspended  map[string]bool
	restricted map[string]time.Time // actor → end of the review
	risk       map[string]riskAt
}

// ReviewFor is how long an alert in alerts.approval_rules keeps its actor
// under review.
const ReviewFor = 24 * time.Hour

type riskAt struct {
	risk float64
	at   time.Time // wall clock when the alert was processed
}

func newResponses(s *Server) *responses {
	return &responses{s: s, suspendRules: s.cfg.Alerts.SuspendRules, approvalRules: s.cfg.Alerts.ApprovalRules,
		suspended: map[string]bool{}, restricted: map[string]time.Time{}, risk: map[string]riskAt{}}
}

// Suspended implements policy.SuspensionChecker.
func (r *responses) Suspended(actor string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.suspended[actor]
}

// RequiresApproval implements policy.RestrictionChecker: the actor is
// under review after an alert listed in alerts.approval_rules. Reviews
// live in memory: a restart ends them (suspensions, which are stored, do
// not end).
func (r *responses) RequiresApproval(actor string) bool {
	r.mu.RLock()
	until, ok := r.restricted[actor]
	r.mu.RUnlock()
	return ok && time.Now().Before(until)
}

// Risk implements httpgw.RiskSource: the actor's risk from its latest
// alert, decayed since with detection's half-life, as a fraction of the
// risk at which detection escalates (capped at 1).
func (r *responses) Risk(actor string) float64 {
	r.mu.RLock()
	ra, ok := r.risk[actor]
	r.mu.RUnlock()
	if !ok {
		return 0
	}
	return RiskShare(ra.risk, time.Since(ra.at))
}

// RiskShare is what the HTTP gateway's step-up compares with
// step_up_risk: an actor's risk from its latest alert, decayed over the
// time since with detection's half-life, as a fraction of the risk at
// which detection escalates (capped at 1).
func RiskShare(risk float64, since time.Duration) float64 {
	cfg := detect.DefaultConfig()
	decayed := risk * math.Exp2(-float64(since)/float64(cfg.RiskHalfLife))
	return min(decayed/cfg.EscalateRisk, 1)
}

// observe takes a batch of alerts from detection: risk is remembered, and
// actors caught by a rule listed in alerts.suspend_rules are suspended.
func (r *responses) observe(ctx context.Context, alerts []detect.Alert) {
	now := time.Now()
	for _, a := range alerts {
		if a.Actor == nil {
			continue
		}
		actor := *a.Actor
		r.mu.Lock()
		r.risk[actor] = riskAt{risk: a.Risk, at: now}
		already := r.suspended[actor]
		review := slices.Contains(r.approvalRules, a.Rule) && !now.Before(r.restricted[actor])
		if review {
			r.restricted[actor] = now.Add(ReviewFor)
		}
		r.mu.Unlock()
		if review {
			r.s.audit(ctx, "custos", "actor.review", actor, map[string]string{"alert": a.ID, "rule": a.Rule, "until": now.Add(ReviewFor).UTC().Format(time.RFC3339)})
		}
		if already || !slices.Contains(r.suspendRules, a.Rule) {
			continue
		}
		sp := sqlite.Suspension{Actor: actor, By: "custos", Reason: "automatic response to alert " + a.ID + " (" + a.Rule + ")", Time: now}
		if err := r.s.Store.SuspendActor(ctx, sp); err != nil {
			r.s.log.Error("automatic suspension not stored", "alert", a.ID, "err", err)
			continue
		}
		r.mu.Lock()
		r.suspended[actor] = true
		r.mu.Unlock()
		r.s.audit(ctx, "custos", "actor.suspended", actor, map[string]string{"alert": a.ID, "rule": a.Rule})
		r.s.log.Warn("actor suspended by automatic response", "actor", actor, "alert", a.ID, "rule", a.Rule)
	}
}

// refresh re-reads the suspended actors from the store.
func (r *responses) refresh(ctx context.Context) error {
	actors, err := r.s.Store.SuspendedActors(ctx)
	if err != nil {
		return err
	}
	set := make(map[string]bool, len(actors))
	for _, a := range actors {
		set[a] = true
	}
	r.mu.Lock()
	r.suspended = set
	r.mu.Unlock()
	return nil
}

// run refreshes the suspended set until ctx ends.
func (r *responses) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.refresh(ctx); err != nil && ctx.Err() == nil {
				r.s.log.Warn("suspensions not refreshed", "err", err)
			}
		}
	}
}
