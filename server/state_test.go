package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/server"
	"github.com/custos-dev/custos/store/sqlite"
)

// TestStateSurvivesRestart posts a relationship, a watchlist entry and an
// approval, restarts the node and checks that policy still knows all
// three, and that the approval steps and the watchlist change are audit
// events in the ledger.
func TestStateSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	cfg, admin := initDir(t)
	dir := cfg.DataDir
	rules := filepath.Join(dir, "approvers.yaml")
	os.WriteFile(rules, []byte("rules:\n  - id: supervisors\n    kinds: [unmask]\n    approvers: [alice]\n"), 0o600)
	cfg.Approvals.RulesFile = rules
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	_, carol, _ := server.CreateToken(ctx, st, "carol", []custos.Scope{custos.ScopeRead})
	_, alice, _ := server.CreateToken(ctx, st, "alice", []custos.Scope{custos.ScopeRead})
	st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	srv, err := server.Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	base := srv.URL() + "/api/v1"
	mustPost := func(url, secret, body string) string {
		t.Helper()
		code, resp := do(t, "POST", url, secret, body)
		if code != 200 && code != 201 {
			t.Fatalf("POST %s: %d %s", url, code, resp)
		}
		return resp
	}
	mustPost(base+"/relationships", admin, `{"actor":"emp-1","subject":{"type":"cn_id","value":"11010119900307123X"},"kind":"booking"}`)
	mustPost(base+"/watchlist", admin, `{"subject":{"type":"cn_mobile","value":"13800138000"},"kind":"honeytoken"}`)
	var req struct{ ID string }
	json.Unmarshal([]byte(mustPost(base+"/approvals", carol, `{"kind":"unmask","scope":{"system":"pss"},"reason":"passenger complaint INC-77 needs the full number"}`)), &req)
	mustPost(base+"/approvals/"+req.ID+"/approve", alice, `{}`)
	waitCaughtUp(t, srv.URL())
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}

	srv, err = server.Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	id, _ := srv.Index.Hash("cn_id", "11010119900307123X")
	if !srv.Relationships.HasRelationship("emp-1", id, "booking") {
		t.Error("relationship lost on restart")
	}
	phone, _ := srv.Index.Hash("cn_mobile", "13800138000")
	if k := srv.Watchlist.Kind(phone); k != policy.WatchHoneytoken {
		t.Errorf("watchlist after restart: kind %q, want honeytoken", k)
	}
	code, body := do(t, "GET", srv.URL()+"/api/v1/approvals/"+req.ID, alice, "")
	if code != 200 || !strings.Contains(body, `"granted"`) {
		t.Errorf("approval after restart: %d %s", code, body)
	}

	audits, err := srv.Store.Audit(ctx, "", custos.Query{})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]string{}
	for _, a := range audits {
		actions[a.Action] = a.Actor
	}
	for action, actor := range map[string]string{"watchlist.changed": "test", "approval.requested": "carol", "approval.approved": "alice"} {
		if actions[action] != actor {
			t.Errorf("audit %s by %q, want by %q (all: %v)", action, actions[action], actor, actions)
		}
	}
	for _, a := range audits {
		if strings.Contains(a.Object+a.Detail["requester"], "13800138000") {
			t.Errorf("audit event carries a raw value: %+v", a)
		}
	}
	// The ledger follows audit events like accesses: a proof appears
	// once the next checkpoint covers them.
	deadline := time.Now().Add(30 * time.Second)
	for {
		proofs, err := srv.Ledger.Proofs(ctx, []string{audits[0].ID})
		if _, ok := proofs[audits[0].ID]; ok && err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ledger proof of audit event %s: %v", audits[0].ID, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPolicyReloadIsAudited edits the policy file under a running node:
// a good edit is loaded, a broken one is rejected with the last good
// policy kept, and both are audit events.
func TestPolicyReloadIsAudited(t *testing.T) {
	ctx := context.Background()
	cfg, _ := initDir(t)
	cfg.Policy.File = filepath.Join(cfg.DataDir, "policy.yaml")
	os.WriteFile(cfg.Policy.File, []byte("version: 1\nname: first\n"), 0o600)
	srv, err := server.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	waitAudit := func(action string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			audits, _ := srv.Store.Audit(ctx, "custos", custos.Query{})
			for _, a := range audits {
				if a.Action == action {
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("no %s audit event", action)
	}
	// A different size makes the change visible even within one mtime tick.
	os.WriteFile(cfg.Policy.File, []byte("version: 1\nname: second-version\n"), 0o600)
	waitAudit("policy.reloaded")
	if name := srv.Policy.Policies.Policy().Name(); name != "second-version" {
		t.Errorf("active policy %q after a good edit", name)
	}
	os.WriteFile(cfg.Policy.File, []byte("version: 1\nname: broken\nrules: [{id: x, decision: maybe}]\n"), 0o600)
	waitAudit("policy.rejected")
	if name := srv.Policy.Policies.Policy().Name(); name != "second-version" {
		t.Errorf("active policy %q after a broken edit, want the last good one", name)
	}
}
