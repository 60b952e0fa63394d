package policy

import (
	"context"
	"time"

	"github.com/custos-dev/custos"
)

// Classifier says which data types and categories a resource holds; the
// catalogue implements it (catalog.Catalog.Classify).
type Classifier interface {
	Classify(system, object string) (types, categories []string)
}

// GrantChecker finds an active approval grant covering a request: kind is
// "unmask", "export" or "quota_raise" (approval.Service implements it).
type GrantChecker interface {
	ActiveGrant(r *Request, kind string) (id string, ok bool)
}

// Engine makes the full decision for a request: the policy's rules, then
// quotas, then watchlists and honeytokens. Fields left nil are skipped.
type Engine struct {
	Policies *Holder
	// Catalog fills a request's data types and categories when the gateway
	// sent none.
	Catalog Classifier
	// Quotas holds the quota counters; nil disables quotas.
	Quotas *Quotas
	// Watchlist flags watched and honeytoken subjects; nil disables it.
	Watchlist *Watchlist
	// Grants turns approval_required into allow where an approver has
	// granted the access, and lets a quota_raise grant pass a quota.
	Grants GrantChecker
	// Suspensions denies everything to a suspended actor, before any
	// rule; nil disables it.
	Suspensions SuspensionChecker
	// Restrictions turn what an actor would be allowed into
	// approval_required while detection has the actor under review; nil
	// disables it.
	Restrictions RestrictionChecker
	// Now is the clock for quota windows; time.Now when nil.
	Now func() time.Time
}

// SuspensionChecker says whether an actor's access is suspended — by an
// investigator in the console, or by detection's automatic response to an
// alert.
type SuspensionChecker interface {
	Suspended(actor string) bool
}

// RestrictionChecker says whether an actor's accesses need an approver's
// grant for now (detection's "require approval" response to an alert).
type RestrictionChecker interface {
	RequiresApproval(actor string) bool
}

// Decide returns the decision for r: deny with rule "suspended" for a
// suspended actor, else the policy's, turned into approval_required (rule
// "restricted") for an actor under review. It fills r.DataTypes and
// r.Categories from the catalogue when both are empty.
//
// Quotas count only what is actually released (allow and mask decisions),
// so a denied or pending request uses none; a request that would exceed a
// quota is not counted either, and gets the quota's on_exceed effect.
func (e *Engine) Decide(ctx context.Context, r *Request) Decision {
	if e.Suspensions != nil && e.Suspensions.Suspended(r.Actor.ID) {
		return Decision{Effect: custos.DecisionDeny, Rules: []string{"suspended"},
			Reason: "access suspended pending an investigation; contact the security team"}
	}
	if e.Catalog != nil && len(r.DataTypes) == 0 && len(r.Categories) == 0 {
		obj := r.Resource.Object
		if obj == "" {
			obj = r.Resource.Route
		}
		r.DataTypes, r.Categories = e.Catalog.Classify(r.Resource.System, obj)
	}
	p := e.Policies.Policy()
	d := p.Decide(r)
	if e.Watchlist != nil && len(r.Subjects) > 0 {
		d = e.Watchlist.apply(d, r.Subjects)
	}
	if e.Restrictions != nil && (d.Effect == custos.DecisionAllow || d.Effect == custos.DecisionMask) && e.Restrictions.RequiresApproval(r.Actor.ID) {
		d.Effect, d.Mask = custos.DecisionApprovalRequired, nil
		d.Rules = appendRule(d.Rules, "restricted")
		d.Reason = "your access needs an approver's grant for now; request one (custos approve request, or the console)"
	}
	if e.Grants != nil && d.Effect == custos.DecisionApprovalRequired {
		kind := "unmask"
		if r.Action == custos.ActionExport {
			kind = "export"
		}
		if id, ok := e.Grants.ActiveGrant(r, kind); ok {
			d.Effect, d.Mask, d.Reason = custos.DecisionAllow, nil, ""
			d.Rules = appendRule(d.Rules, "grant:"+id)
		}
	}
	if e.Quotas != nil && len(p.quotas) > 0 && (d.Effect == custos.DecisionAllow || d.Effect == custos.DecisionMask) {
		d = e.applyQuotas(p, r, d)
	}
	return d
}

func (e *Engine) applyQuotas(p *Policy, r *Request, d Decision) Decision {
	f := featuresOf(r)
	var buf [8]*QuotaRule
	matched := buf[:0]
	for _, q := range p.quotas {
		if q.match.matches(r, &f) {
			matched = append(matched, q)
		}
	}
	if len(matched) == 0 {
		return d
	}
	records := r.Records
	if d.Limit > 0 && records > d.Limit {
		records = d.Limit
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	ex := e.Quotas.Admit(matched, r.Actor.ID, r.Subjects, records, now())
	if ex == nil {
		return d
	}
	if ex.OnExceed == custos.DecisionApprovalRequired && e.Grants != nil {
		// A raise lets this request through uncounted: the grant, not the
		// quota, bounds it now, and the raise is itself on record.
		if id, ok := e.Grants.ActiveGrant(r, "quota_raise"); ok {
			d.Rules = appendRule(d.Rules, "grant:"+id)
			return d
		}
	}
	rules := make([]string, 0, len(d.Rules)+1)
	rules = append(append(rules, d.Rules...), "quota:"+ex.ID)
	return Decision{Effect: ex.OnExceed, Rules: rules, Reason: "quota " + ex.ID + " exceeded", Alert: d.Alert, Alarm: d.Alarm}
}
