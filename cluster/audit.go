package cluster

import (
	"context"
	"strconv"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/api"
	"github.com/custos-dev/custos/policy"
)

// audit records an action on Custos itself in PostgreSQL's audit stream,
// which the api node's ledger follows. A failure is logged, not returned:
// the action has happened.
func (n *Node) audit(ctx context.Context, actor, action, object string, detail map[string]string) {
	n.record(ctx, custos.NewAuditEvent(actor, action, object, detail))
}

// record stores an audit event, logging a failure.
func (n *Node) record(ctx context.Context, ev custos.AuditEvent) {
	if err := n.Store.AppendAudit(context.WithoutCancel(ctx), []custos.AuditEvent{ev}); err != nil {
		n.log.Error("audit event not stored", "action", ev.Action, "err", err)
	}
}

// watchLog persists a watchlist change made through the API and records
// who made it (policy.WatchLog).
type watchLog struct{ n *Node }

func (w watchLog) SaveWatchlist(ctx context.Context, set []policy.WatchEntry, unset []string) error {
	if err := w.n.Store.SaveWatchlist(ctx, set, unset); err != nil {
		return err
	}
	actor := "unknown"
	if tok, ok := api.TokenFrom(ctx); ok {
		actor = tok.Name
	}
	w.n.audit(ctx, actor, "watchlist.changed", "watchlist",
		map[string]string{"listed": strconv.Itoa(len(set)), "unlisted": strconv.Itoa(len(unset))})
	return nil
}
