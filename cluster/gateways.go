package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/detect"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/server"
	"github.com/custos-dev/custos/store/postgres"
)

// suspensionRefresh is how often a gateway node reloads the suspended
// actors: a suspension written by a detector stops the actor's requests
// within this time.
const suspensionRefresh = 2 * time.Second

// sweepEvery is how often a gateway node drops quota counters with
// nothing left in their window and expired relationships.
const sweepEvery = time.Minute

// gatewayState is what a gateway node's inline gateways decide on besides
// the policy: the need-to-know table, the watchlist and the suspended
// actors, loaded from PostgreSQL, where every node's API writes them and
// every detector writes its automatic suspensions. Quotas are counted per
// node (see docs/scale-out.md). Exports are fingerprinted and registered
// in PostgreSQL (registry).
type gatewayState struct {
	rel       *policy.Relationships
	watch     *policy.Watchlist
	suspended atomic.Pointer[map[string]bool]
	review    atomic.Pointer[map[string]time.Time] // actor → end of the review
	risk      atomic.Pointer[map[string]postgres.ActorRisk]
	grants    grantView
}

var (
	_ policy.SuspensionChecker  = (*gatewayState)(nil)
	_ policy.RestrictionChecker = (*gatewayState)(nil)
)

func newGatewayState() *gatewayState {
	g := &gatewayState{rel: policy.NewRelationships(), watch: policy.NewWatchlist()}
	g.suspended.Store(&map[string]bool{})
	g.review.Store(&map[string]time.Time{})
	g.risk.Store(&map[string]postgres.ActorRisk{})
	return g
}

// Suspended implements policy.SuspensionChecker.
func (g *gatewayState) Suspended(actor string) bool { return (*g.suspended.Load())[actor] }

// Risk implements httpgw.RiskSource: the actor's latest risk, decayed
// (server.RiskShare).
func (g *gatewayState) Risk(actor string) float64 {
	r, ok := (*g.risk.Load())[actor]
	if !ok {
		return 0
	}
	return server.RiskShare(r.Risk, time.Since(r.At))
}

// RequiresApproval implements policy.RestrictionChecker: the actor is
// under review after an alert listed in alerts.approval_rules.
func (g *gatewayState) RequiresApproval(actor string) bool {
	until, ok := (*g.review.Load())[actor]
	return ok && time.Now().Before(until)
}

// load replaces the relationships and the watchlist with the stored ones.
func (g *gatewayState) load(ctx context.Context, st *postgres.Store) error {
	var rels []policy.Relationship
	if err := st.Relationships(ctx, time.Now(), func(r policy.Relationship) { rels = append(rels, r) }); err != nil {
		return err
	}
	entries, err := st.Watchlist(ctx)
	if err != nil {
		return err
	}
	if err := g.watch.Replace(entries); err != nil {
		return err
	}
	g.rel.Replace(rels)
	return nil
}

// loadResponses replaces what the gateways enforce on detection's and
// approvers' behalf — suspensions, reviews, step-up risk and approval
// grants — with the stored ones.
func (g *gatewayState) loadResponses(ctx context.Context, st *postgres.Store) error {
	if err := g.grants.load(ctx, st); err != nil {
		return err
	}
	review, err := st.ActorsUnderReview(ctx, time.Now())
	if err != nil {
		return err
	}
	g.review.Store(&review)
	// Risk older than ten half-lives has decayed below a thousandth.
	risk, err := st.ActorRisks(ctx, time.Now().Add(-10*detect.DefaultConfig().RiskHalfLife))
	if err != nil {
		return err
	}
	g.risk.Store(&risk)
	actors, err := st.SuspendedActors(ctx)
	if err != nil {
		return err
	}
	set := make(map[string]bool, len(actors))
	for _, a := range actors {
		set[a] = true
	}
	g.suspended.Store(&set)
	return nil
}

// refresh reloads the suspensions and grants every suspensionRefresh and
// the rest every stateRefresh, and sweeps e's quota counters, until ctx
// ends; a failed reload keeps what was loaded before.
func (g *gatewayState) refresh(ctx context.Context, n *Node, e *policy.Engine) {
	t := time.NewTicker(suspensionRefresh)
	defer t.Stop()
	last, swept := time.Now(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := g.loadResponses(ctx, n.Store); err != nil && ctx.Err() == nil {
			n.log.Warn("reloading suspensions, reviews, risk and grants failed; keeping the previous ones", "err", err)
		}
		if time.Since(swept) >= sweepEvery {
			swept = time.Now()
			if e.Quotas != nil {
				e.Quotas.Sweep(e.Policies.Policy(), swept)
			}
			g.rel.Prune()
		}
		if time.Since(last) < stateRefresh {
			continue
		}
		last = time.Now()
		if err := g.load(ctx, n.Store); err != nil && ctx.Err() == nil {
			n.log.Warn("reloading relationships and watchlist failed; keeping the previous ones", "err", err)
		}
	}
}

// startInlineGateways runs the PostgreSQL and HTTP gateways that
// custos.yaml enables on this gateway node, with the same decision core as
// the embedded server: the policy file (watched and reloaded), the
// catalogue, quotas and the masking key from data_dir (the same on every
// node). Their events go through p, to the bus. It returns the state the
// node's API handlers should update too (nil when no gateway is enabled).
func (n *Node) startInlineGateways(runCtx context.Context, p *ingest.Pipeline, index *blind.Index) (*gatewayState, error) {
	cfg := n.cfg
	if !cfg.Postgres.Enabled && !cfg.HTTPGateway.Enabled {
		return nil, nil
	}
	gs := newGatewayState()
	if path := cfg.Policy.Relationships; path != "" {
		// has_relationship also asks the business databases it names.
		srcs, err := policy.LoadRelationshipSources(path, index.Hash, n.log)
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		gs.rel.Sources = srcs.Checkers()
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			<-runCtx.Done()
			if err := srcs.Close(); err != nil {
				n.log.Warn("closing relationship sources", "err", err)
			}
		}()
	}
	ctx, cancel := context.WithTimeout(runCtx, 30*time.Second)
	defer cancel()
	if err := gs.load(ctx, n.Store); err != nil {
		return nil, fmt.Errorf("cluster: load relationships and watchlist: %w", err)
	}
	if err := gs.loadResponses(ctx, n.Store); err != nil {
		return nil, fmt.Errorf("cluster: load suspensions, reviews, risk and grants: %w", err)
	}
	dec, err := server.NewDecisions(cfg, gs.rel, gs.watch, n.log)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	dec.Policy.Suspensions, dec.Policy.Restrictions, dec.Policy.Grants = gs, gs, &gs.grants
	fp, err := server.NewFingerprinter(cfg, index)
	if err != nil {
		return nil, fmt.Errorf("cluster: export fingerprints: %w", err)
	}
	deps := server.GatewayDeps{DataDir: cfg.DataDir, Pipeline: p, Index: index, Decisions: dec, Log: n.log, Risk: gs,
		Exports: gatewayExports{registry: registry{Store: n.Store, watch: gs.watch}, fp: fp}}
	run := server.Running{WG: &n.wg, Errc: n.errc}
	if cfg.Postgres.Enabled {
		if n.postgresAddr, err = server.ServePostgres(runCtx, cfg.Postgres, deps, run); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	if cfg.HTTPGateway.Enabled {
		if n.httpGateway, err = server.ServeHTTPGateway(runCtx, cfg.HTTPGateway, deps, run); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		gs.refresh(runCtx, n, dec.Policy)
	}()
	if path := cfg.Policy.File; path != "" {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			server.WatchPolicy(runCtx, dec.Policy.Policies, path, dec.PolicyStamp, 2*time.Second, func(err error) {
				file := filepath.Base(path)
				if err != nil {
					n.log.Error("policy file rejected; the last good policy stays in force", "file", path, "err", err)
					n.audit(runCtx, "custos", "policy.rejected", file, map[string]string{"error": err.Error(), "node": n.ID})
					return
				}
				p := dec.Policy.Policies.Policy()
				n.log.Info("policy reloaded", "file", path)
				n.audit(runCtx, "custos", "policy.reloaded", file, map[string]string{"name": p.Name(), "rules": fmt.Sprint(len(p.Rules())), "node": n.ID})
			})
		}()
	}
	return gs, nil
}

// PostgresAddr is the PostgreSQL gateway's address ("" when disabled).
func (n *Node) PostgresAddr() string { return n.postgresAddr }

// HTTPGatewayURL is the HTTP gateway's base URL ("" when disabled).
func (n *Node) HTTPGatewayURL() string {
	if n.httpGateway == nil {
		return ""
	}
	return n.httpGateway.URL()
}
