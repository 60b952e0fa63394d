package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/server"
)

// TestUpkeepExpiresGrantsAndPrunes: a grant whose time is up becomes an
// approval.expired audit event without anyone looking at it, and expired
// relationships leave memory.
func TestUpkeepExpiresGrantsAndPrunes(t *testing.T) {
	ctx := context.Background()
	cfg, secret := initDir(t)
	rules := filepath.Join(cfg.DataDir, "approvers.yaml")
	os.WriteFile(rules, []byte("rules:\n  - id: admins\n    kinds: [unmask]\n    approvers: [test]\n    max_duration: 1h\n"), 0o600)
	cfg.Approvals.RulesFile = rules
	srv, err := server.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	_, carol, _ := server.CreateToken(ctx, srv.Store, "carol", []custos.Scope{custos.ScopeRead})
	base := srv.URL() + "/api/v1/approvals"
	_, body := do(t, "POST", base, carol, `{"kind":"unmask","scope":{"system":"pss"},"reason":"passenger complaint INC-78 needs the number"}`)
	var req struct{ ID string }
	json.Unmarshal([]byte(body), &req)
	if code, body := do(t, "POST", base+"/"+req.ID+"/approve", secret, `{"comment":"ok"}`); code != 200 {
		t.Fatalf("approve: %d %s", code, body)
	}
	later := time.Now().Add(2 * time.Hour)
	srv.Approvals.Now = func() time.Time { return later }
	srv.Relationships.Add(policy.Relationship{Actor: "a1", Subject: "h1", Kind: "booking", Expires: time.Now().Add(-time.Minute)})

	srv.Upkeep(ctx, later)
	if n := srv.Relationships.Len(); n != 0 {
		t.Errorf("%d expired relationships kept", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		audits, _ := srv.Store.Audit(ctx, "custos", custos.Query{})
		for _, a := range audits {
			if a.Action == "approval.expired" && a.Object == req.ID {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no approval.expired audit event for %s", req.ID)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
