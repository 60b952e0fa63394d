package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/api"
	"github.com/custos-dev/custos/approval"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/server"
	"github.com/custos-dev/custos/store/postgres"
)

// startApprovals serves /api/v1/approvals on an api node when
// approvals.rules_file is set. Requests and grants live in PostgreSQL;
// this node is their only writer (it holds the "approvals" lock, so a
// second api node with approvals refuses to start), and every gateway
// node reloads the grants (grantView) to honour them.
func (n *Node) startApprovals(ctx, runCtx context.Context, a *api.Server) error {
	path := n.cfg.Approvals.RulesFile
	if path == "" {
		return nil
	}
	unlock, err := n.Store.Lock(ctx, "approvals")
	if err != nil {
		if errors.Is(err, postgres.ErrLocked) {
			return errors.New("cluster: approvals: exactly one api node may serve approvals, and another one does")
		}
		return fmt.Errorf("cluster: approvals: %w", err)
	}
	n.approvalsUnlock = unlock
	rules, err := approval.LoadRules(path)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	svc, err := approval.New(rules)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	reqs, err := n.Store.Approvals(ctx)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	svc.Restore(reqs)
	svc.Store, svc.Log = n.Store, n.log
	// Every step is an audit event, in the ledger beside the accesses it
	// governs.
	svc.OnEvent = func(ctx context.Context, ev approval.Event) {
		n.record(ctx, server.ApprovalAudit(ev))
	}
	notifier, err := server.NewApprovalNotifier(n.cfg.Approvals.Notify, svc, n.log)
	if err != nil {
		return fmt.Errorf("cluster: approvals: %w", err)
	}
	if notifier != nil {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			notifier.Run(runCtx)
		}()
	}
	h := server.ApprovalHandler(svc)
	a.Handle("/api/v1/approvals", custos.ScopeRead, h)
	a.Handle("/api/v1/approvals/", custos.ScopeRead, h)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				svc.Sweep(runCtx) // requests and grants whose time is up expire
			}
		}
	}()
	n.log.Info("serving approvals", "rules", len(rules), "restored", len(reqs))
	return nil
}

// grantView answers a gateway node's grant checks from the grants stored
// in PostgreSQL, reloaded with the suspensions.
type grantView struct {
	svc atomic.Pointer[approval.Service]
}

var _ policy.GrantChecker = (*grantView)(nil)

// ActiveGrant implements policy.GrantChecker.
func (g *grantView) ActiveGrant(r *policy.Request, kind string) (string, bool) {
	svc := g.svc.Load()
	if svc == nil {
		return "", false
	}
	return svc.ActiveGrant(r, kind)
}

func (g *grantView) load(ctx context.Context, st *postgres.Store) error {
	reqs, err := st.Grants(ctx)
	if err != nil {
		return err
	}
	svc, err := approval.New(nil) // grant checks need no approver rules
	if err != nil {
		return err
	}
	svc.Restore(reqs)
	g.svc.Store(svc)
	return nil
}
