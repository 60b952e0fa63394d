package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/notify"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/server"
)

// TestAlertReachesWebhook configures a signed webhook and checks that a
// credential-stuffing alert arrives there, signed, without any account
// name in clear beyond what the alert itself carries.
func TestAlertReachesWebhook(t *testing.T) {
	got := make(chan notify.Payload, 8)
	secret := "hook-secret-for-tests"
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Custos-Signature") != notify.Sign([]byte(secret), body) {
			t.Errorf("bad signature on %s", body)
		}
		var p notify.Payload
		json.Unmarshal(body, &p)
		got <- p
	}))
	defer hook.Close()
	cfg, admin := initDir(t)
	secretFile := filepath.Join(cfg.DataDir, "hook.secret")
	os.WriteFile(secretFile, []byte(secret+"\n"), 0o600)
	cfg.Alerts.Webhooks = []config.Webhook{{URL: hook.URL, SecretFile: secretFile}}
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())

	at := time.Now().Add(-time.Hour).UTC()
	var lines []string
	for i := range 60 {
		lines = append(lines, fmt.Sprintf(`{"id":"l-%d","time":%q,"account":"user%03d","source":{"ip":"203.0.113.9"},"outcome":"failure","reason":"bad_password"}`,
			i, at.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i))
	}
	if code, body := do(t, "POST", srv.URL()+"/api/v1/logins", admin, strings.Join(lines, "\n")); code != 200 {
		t.Fatalf("logins: %d %s", code, body)
	}
	srv.Bus.Notify()
	select {
	case p := <-got:
		if p.SourceIP != "203.0.113.9" || p.Actor != nil || p.Rule == "" || p.Status != "open" {
			t.Errorf("webhook payload: %+v", p)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no alert reached the webhook")
	}
}

// TestHoneytokenSuspendsActor configures the automatic response for
// honeytoken alerts: the insider who opens a honeytoken record is denied
// everything by the next decision, and the suspension is audited.
func TestHoneytokenSuspendsActor(t *testing.T) {
	ctx := context.Background()
	cfg, admin := initDir(t)
	cfg.Alerts.SuspendRules = []string{"honeytoken"}
	srv, err := server.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	base := srv.URL() + "/api/v1"
	if code, body := do(t, "POST", base+"/watchlist", admin, `{"subject":{"type":"cn_id","value":"44030619851212002X"},"kind":"honeytoken"}`); code != 200 {
		t.Fatalf("watchlist: %d %s", code, body)
	}
	req := policy.Request{Actor: custos.Actor{ID: "emp-7"}, Action: custos.ActionRead, Resource: custos.Resource{System: "pss"}}
	if d := srv.Policy.Decide(ctx, &req); d.Effect == custos.DecisionDeny {
		t.Fatalf("denied before any alert: %+v", d)
	}
	if code, body := do(t, "POST", base+"/events", admin, accessJSON("h-1", "emp-7", "cn_id", "44030619851212002X", time.Now().Add(-time.Minute))); code != 200 {
		t.Fatalf("event: %d %s", code, body)
	}
	srv.Bus.Notify()
	deadline := time.Now().Add(20 * time.Second)
	for {
		req := policy.Request{Actor: custos.Actor{ID: "emp-7"}, Action: custos.ActionRead, Resource: custos.Resource{System: "pss"}}
		d := srv.Policy.Decide(ctx, &req)
		if d.Effect == custos.DecisionDeny && d.Rules[0] == "suspended" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("actor not suspended after a honeytoken alert: %+v", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The audit event is written right after the suspension takes
	// effect (a decision may see the suspension a moment before).
	found := false
	var audits []custos.StoredAudit
	for wait := time.Now().Add(5 * time.Second); !found && time.Now().Before(wait); time.Sleep(50 * time.Millisecond) {
		audits, _ = srv.Store.Audit(ctx, "custos", custos.Query{})
		for _, a := range audits {
			found = found || a.Action == "actor.suspended" && a.Object == "emp-7"
		}
	}
	if !found {
		t.Errorf("no actor.suspended audit event: %+v", audits)
	}
	other := policy.Request{Actor: custos.Actor{ID: "emp-8"}, Action: custos.ActionRead, Resource: custos.Resource{System: "pss"}}
	if d := srv.Policy.Decide(ctx, &other); d.Effect == custos.DecisionDeny && d.Rules[0] == "suspended" {
		t.Errorf("another actor suspended too: %+v", d)
	}
}

// TestAlertPutsActorUnderReview configures alerts.approval_rules: after a
// honeytoken alert, what the policy allows the actor needs approval.
func TestAlertPutsActorUnderReview(t *testing.T) {
	ctx := context.Background()
	cfg, admin := initDir(t)
	cfg.Alerts.ApprovalRules = []string{"honeytoken"}
	srv, err := server.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	base := srv.URL() + "/api/v1"
	if code, body := do(t, "POST", base+"/watchlist", admin, `{"subject":{"type":"cn_id","value":"44030619851212002X"},"kind":"honeytoken"}`); code != 200 {
		t.Fatalf("watchlist: %d %s", code, body)
	}
	if code, body := do(t, "POST", base+"/events", admin, accessJSON("h-1", "emp-7", "cn_id", "44030619851212002X", time.Now().Add(-time.Minute))); code != 200 {
		t.Fatalf("event: %d %s", code, body)
	}
	srv.Bus.Notify()
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Contact data: the built-in defaults allow (masked) what is not sensitive.
		req := policy.Request{Actor: custos.Actor{ID: "emp-7"}, Action: custos.ActionRead, Resource: custos.Resource{System: "pss"}, DataTypes: []string{"email"}}
		d := srv.Policy.Decide(ctx, &req)
		if d.Effect == custos.DecisionApprovalRequired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("actor not under review after a honeytoken alert: %+v", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
