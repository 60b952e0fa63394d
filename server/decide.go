package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/custos-dev/custos/approval"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/policy"
)

// maskKeyFile is the tokenizer key, kept apart from the blind-index key:
// tokens are shown to people, blind-index hashes never leave Custos.
func maskKeyFile(dataDir string) string { return filepath.Join(dataDir, "keys", "mask.key") }

// Decisions is the decision core a node's gateways share: the catalogue,
// the policy (reloadable), quotas, the watchlist, the need-to-know table and
// the masker. One per node, so that a quota counts an employee's records
// across the PostgreSQL and HTTP gateways together.
type Decisions struct {
	Policy  *policy.Engine
	Catalog *catalog.Catalog
	Masker  *mask.Masker
	// PolicyStamp is the policy file's version when it was loaded ("" for
	// the built-in defaults), for WatchPolicy.
	PolicyStamp string
}

// NewDecisions builds the decision core from cfg's policy section and the
// masking key in its data directory (created on first use; every node of
// a cluster needs the same one, as with the blind-index key). rel and
// watch are the node's need-to-know table and watchlist; the caller keeps
// them current. Grants, suspensions and restrictions are the caller's to
// wire on the returned engine.
func NewDecisions(cfg config.Config, rel *policy.Relationships, watch *policy.Watchlist, log *slog.Logger) (*Decisions, error) {
	cat, err := catalog.New(catalog.File{Version: catalog.Version})
	if cfg.Policy.Catalog != "" {
		cat, err = catalog.Load(cfg.Policy.Catalog)
	}
	if err != nil {
		return nil, err
	}
	d := &Decisions{Catalog: cat}
	opts := policy.Options{Relationships: rel}
	var holder *policy.Holder
	if cfg.Policy.File != "" {
		// Stamped before loading: a change after this point is seen by
		// WatchPolicy (at worst the same content is loaded twice).
		d.PolicyStamp = fileStamp(cfg.Policy.File)
		holder, err = policy.NewHolder(cfg.Policy.File, opts, log)
	} else {
		var p *policy.Policy
		p, err = policy.Parse("built-in defaults", []byte("version: 1\n"), opts)
		holder = policy.NewHolderWith(p, opts, log)
	}
	if err != nil {
		return nil, err
	}
	key, err := loadOrCreateKey(maskKeyFile(cfg.DataDir))
	if err != nil {
		return nil, fmt.Errorf("mask key: %w", err)
	}
	tok, err := mask.NewTokenizer(key)
	if err != nil {
		return nil, err
	}
	d.Masker = &mask.Masker{Tokens: tok}
	d.Policy = &policy.Engine{
		Policies:  holder,
		Catalog:   cat,
		Quotas:    policy.NewQuotas(),
		Watchlist: watch,
	}
	return d, nil
}

// startDecisions builds the node's decision core, with approval grants
// when approvals.rules_file is set and detection's responses
// (suspensions, reviews).
func (s *Server) startDecisions(ctx context.Context) error {
	d, err := NewDecisions(s.cfg, s.Relationships, s.Watchlist, s.log)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.policyStamp = d.PolicyStamp
	if s.cfg.Approvals.RulesFile != "" {
		rules, err := approval.LoadRules(s.cfg.Approvals.RulesFile)
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		svc, err := approval.New(rules)
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		svc.Log = s.log
		svc.OnEvent = func(ctx context.Context, ev approval.Event) {
			s.log.Info("approval", "type", ev.Type, "actor", ev.Actor, "request", ev.Request.ID)
		}
		s.Approvals = svc
	}
	s.Catalog, s.Masker, s.Policy = d.Catalog, d.Masker, d.Policy
	if s.Approvals != nil {
		s.Policy.Grants = s.Approvals
	}
	s.responses = newResponses(s)
	s.Policy.Suspensions = s.responses
	s.Policy.Restrictions = s.responses
	return nil
}

// loadOrCreateKey reads a key file, creating it on first use so that data
// directories initialized by older versions gain the key on upgrade.
func loadOrCreateKey(path string) ([]byte, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := blind.CreateKey(path); err != nil {
			return nil, err
		}
	}
	return blind.LoadKey(path)
}

// watchPolicy reloads the policy file when it changes on disk (WatchPolicy);
// both outcomes are audit events, so a policy change is in the ledger
// like the accesses it governs.
func (s *Server) watchPolicy(ctx context.Context, every time.Duration) {
	WatchPolicy(ctx, s.Policy.Policies, s.cfg.Policy.File, s.policyStamp, every, func(err error) {
		path := filepath.Base(s.cfg.Policy.File)
		if err != nil {
			s.audit(ctx, "custos", "policy.rejected", path, map[string]string{"error": err.Error()})
			return
		}
		p := s.Policy.Policies.Policy()
		s.audit(ctx, "custos", "policy.reloaded", path, map[string]string{"name": p.Name(), "rules": fmt.Sprint(len(p.Rules()))})
	})
}

// WatchPolicy reloads the policy file at path into h when it changes on
// disk (checked every period, from the version stamp on), until ctx ends,
// and reports each reload's outcome to done. A file that does not compile
// leaves the last good policy in force (policy.Holder).
func WatchPolicy(ctx context.Context, h *policy.Holder, path, stamp string, every time.Duration, done func(error)) {
	last := stamp
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := fileStamp(path)
		if now == last || now == "missing" {
			continue
		}
		last = now
		done(h.Reload(path))
	}
}

// fileStamp identifies a file's version by modification time and size.
func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "missing"
	}
	return fmt.Sprint(fi.ModTime().UnixNano(), fi.Size())
}
