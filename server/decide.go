package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/custos-dev/custos/approval"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/policy"
)

// maskKeyFile is the tokenizer key, kept apart from the blind-index key:
// tokens are shown to people, blind-index hashes never leave Custos.
func maskKeyFile(dataDir string) string { return filepath.Join(dataDir, "keys", "mask.key") }

// startDecisions builds the decision core every gateway shares: the
// catalogue, the policy (reloadable), quotas, the watchlist, approval
// grants and the masker. One instance per node, so that a quota counts an
// employee's records across the PostgreSQL and HTTP gateways together.
func (s *Server) startDecisions(ctx context.Context) error {
	cat, err := catalog.New(catalog.File{Version: catalog.Version})
	if s.cfg.Policy.Catalog != "" {
		cat, err = catalog.Load(s.cfg.Policy.Catalog)
	}
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	opts := policy.Options{Relationships: s.Relationships}
	var holder *policy.Holder
	if s.cfg.Policy.File != "" {
		// Stamped before loading: a change after this point is seen by
		// watchPolicy (at worst the same content is loaded twice).
		s.policyStamp = fileStamp(s.cfg.Policy.File)
		holder, err = policy.NewHolder(s.cfg.Policy.File, opts, s.log)
	} else {
		var p *policy.Policy
		p, err = policy.Parse("built-in defaults", []byte("version: 1\n"), opts)
		holder = policy.NewHolderWith(p, opts, s.log)
	}
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
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
	key, err := loadOrCreateKey(maskKeyFile(s.cfg.DataDir))
	if err != nil {
		return fmt.Errorf("server: mask key: %w", err)
	}
	tok, err := mask.NewTokenizer(key)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.Catalog = cat
	s.Masker = &mask.Masker{Tokens: tok}
	s.Policy = &policy.Engine{
		Policies:  holder,
		Catalog:   cat,
		Quotas:    policy.NewQuotas(),
		Watchlist: s.Watchlist,
	}
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

// watchPolicy reloads the policy file when it changes on disk. A file that
// does not compile leaves the last good policy in force (policy.Holder);
// both outcomes are audit events, so a policy change is in the ledger
// like the accesses it governs.
func (s *Server) watchPolicy(ctx context.Context, every time.Duration) {
	path := s.cfg.Policy.File
	last := s.policyStamp
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
		if err := s.Policy.Policies.Reload(path); err != nil {
			s.audit(ctx, "custos", "policy.rejected", filepath.Base(path), map[string]string{"error": err.Error()})
			continue
		}
		p := s.Policy.Policies.Policy()
		s.audit(ctx, "custos", "policy.reloaded", filepath.Base(path), map[string]string{"name": p.Name(), "rules": fmt.Sprint(len(p.Rules()))})
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
