package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/api"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/policy"
)

// RegisterExport records an export in the registry (durably) and lists its
// canaries as honeytokens. Gateways call it for every CSV/XLSX download,
// COPY TO and large result, after export.Fingerprinter.Apply and before
// the file leaves.
func (s *Server) RegisterExport(ctx context.Context, e export.Export) error {
	if err := s.Store.RegisterExport(ctx, e); err != nil {
		return err
	}
	s.listCanaries(e.ID, e.Canaries)
	return nil
}

// listCanaries makes canary identifiers honeytokens: any access to them
// through a gateway or the ingest API is an alarm.
func (s *Server) listCanaries(exportID string, canaries []custos.Subject) {
	if len(canaries) == 0 {
		return
	}
	entries := make([]policy.WatchEntry, 0, len(canaries))
	for _, c := range canaries {
		entries = append(entries, policy.WatchEntry{Subject: c.Hash, Kind: policy.WatchHoneytoken, Note: "canary of export " + exportID})
	}
	if err := s.Watchlist.Set(entries...); err != nil {
		s.log.Error("list export canaries", "export", exportID, "err", err)
		return
	}
	s.refreshDetectionWatchlist()
}

// exportRoutes serves the export registry (POST and GET /api/v1/exports)
// and lists the canaries of exports registered before this start.
func (s *Server) exportRoutes(a *api.Server, index *blind.Index) error {
	ctx := context.Background()
	canaries, err := s.Store.ExportCanaries(ctx)
	if err != nil {
		return fmt.Errorf("server: export canaries: %w", err)
	}
	s.listCanaries("(registered before start)", canaries)
	// The pool's own numbers and mailboxes are honeytokens too: nobody
	// has a reason to look them up.
	fp, err := s.Fingerprinter()
	if err != nil {
		return fmt.Errorf("server: export fingerprints: %w", err)
	}
	s.listCanaries("(canary pool)", PoolCanaries(fp, index))
	h := &export.Handler{
		Registry: s.Store, Hash: index.Hash, Log: s.log, MaxBody: s.cfg.API.MaxBodyBytes,
		OnRegister: func(e export.Export) { s.listCanaries(e.ID, e.Canaries) },
	}
	a.Handle("POST /api/v1/exports", custos.ScopeIngest, h)
	a.Handle("GET /api/v1/exports", custos.ScopeRead, http.Handler(h))
	return nil
}

// Fingerprinter returns the export fingerprinter the gateways use
// (NewFingerprinter).
func (s *Server) Fingerprinter() (*export.Fingerprinter, error) {
	return NewFingerprinter(s.cfg, s.Index)
}

// NewFingerprinter builds the export fingerprinter of cfg's export
// section: watermark keys derived from the blind-index key in its data
// directory, the canary pool, order and variants.
func NewFingerprinter(cfg config.Config, index *blind.Index) (*export.Fingerprinter, error) {
	key, err := blind.LoadKey(blind.KeyFile(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	c := cfg.Export
	f := &export.Fingerprinter{Keyer: export.NewKeyer(key), Hash: index.Hash, CanaryEvery: c.CanaryEvery, Order: c.Order}
	for _, v := range c.Variants {
		f.Variants = append(f.Variants, export.Variant(v))
	}
	switch c.CanaryPool {
	case "":
	case "demo":
		f.Pool = export.DemoPool()
	default:
		if f.Pool, err = export.LoadPool(c.CanaryPool); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// PoolCanaries are the canary pool's own numbers and mailboxes, hashed:
// honeytokens too, as nobody has a reason to look them up.
func PoolCanaries(f *export.Fingerprinter, index *blind.Index) []custos.Subject {
	if f.Pool == nil {
		return nil
	}
	var pool []custos.Subject
	for typ, values := range map[custos.DataType][]string{"cn_mobile": f.Pool.Phones, "email": f.Pool.Mailboxes} {
		for _, v := range values {
			if h, err := index.Hash(typ, v); err == nil {
				pool = append(pool, custos.Subject{Type: typ, Hash: h})
			}
		}
	}
	return pool
}
