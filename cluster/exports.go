package cluster

import (
	"context"
	"fmt"
	"net/http"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/api"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/server"
	"github.com/custos-dev/custos/store/postgres"
)

// registry is the cluster's export registry: PostgreSQL, where an export's
// canaries also go onto the shared watchlist as honeytokens before the
// registration returns, so that every detector and gateway node treats
// them as alarms within a reload. watch, when set, is this node's own
// copy, updated at once.
type registry struct {
	*postgres.Store
	watch *policy.Watchlist
}

var _ export.Registry = registry{}

// RegisterExport records the export and lists its canaries.
func (r registry) RegisterExport(ctx context.Context, e export.Export) error {
	if err := r.Store.RegisterExport(ctx, e); err != nil {
		return err
	}
	return r.listCanaries(ctx, "canary of export "+e.ID, e.Canaries)
}

func (r registry) listCanaries(ctx context.Context, note string, canaries []custos.Subject) error {
	if len(canaries) == 0 {
		return nil
	}
	entries := make([]policy.WatchEntry, 0, len(canaries))
	for _, c := range canaries {
		entries = append(entries, policy.WatchEntry{Subject: c.Hash, Kind: policy.WatchHoneytoken, Note: note})
	}
	if err := r.Store.SaveWatchlist(ctx, entries, nil); err != nil {
		return fmt.Errorf("cluster: list canaries: %w", err)
	}
	if r.watch != nil {
		return r.watch.Set(entries...)
	}
	return nil
}

// gatewayExports is what the inline gateways fingerprint and register
// their exports with.
type gatewayExports struct {
	registry
	fp *export.Fingerprinter
}

func (g gatewayExports) Fingerprint(ex *export.Export, t *export.Table) error {
	return g.fp.Apply(ex, t)
}

// exportRoutes serves the registry at /api/v1/exports (POST registers an
// export made outside the gateways, GET lists them) and lists the canary
// pool's own numbers and mailboxes as honeytokens.
func (n *Node) exportRoutes(ctx context.Context, a *api.Server, index *blind.Index, reg registry) error {
	fp, err := server.NewFingerprinter(n.cfg, index)
	if err != nil {
		return fmt.Errorf("cluster: export fingerprints: %w", err)
	}
	if err := reg.listCanaries(ctx, "canary pool", server.PoolCanaries(fp, index)); err != nil {
		return err
	}
	h := &export.Handler{Registry: reg, Hash: index.Hash, Log: n.log, MaxBody: n.cfg.API.MaxBodyBytes}
	a.Handle("POST /api/v1/exports", custos.ScopeIngest, h)
	a.Handle("GET /api/v1/exports", custos.ScopeRead, http.Handler(h))
	return nil
}
