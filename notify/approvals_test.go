package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custos-dev/custos/approval"
	"github.com/custos-dev/custos/notify"
)

// TestApprovalNotifier runs the notifier over a real approval service
// persisted in a real store: approvers hear of a new request once, by
// signed webhook and by e-mail, with the identifiers in its reason
// masked; a failed delivery is retried; a restart does not tell them
// again; a request decided before the notifier ran is not announced.
func TestApprovalNotifier(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	rules := []approval.Rule{{ID: "supervisors", ApproverRoles: []string{"supervisor"}, Required: 1}}
	svc, err := approval.New(rules)
	if err != nil {
		t.Fatal(err)
	}
	svc.Store = st
	agent := approval.Identity{ID: "emp-7", Roles: []string{"agent"}}
	req, err := svc.Submit(ctx, agent, approval.NewRequest{Kind: approval.KindUnmask,
		Scope:  approval.Scope{System: "pss", Object: "passengers", Subjects: []string{"h1", "h2"}},
		Reason: "caller 13812345678 disputes a refund, INC-12", Duration: "2h"})
	if err != nil {
		t.Fatal(err)
	}

	var calls atomic.Int32
	bodies := make(chan []byte, 4)
	secret := []byte("hook-secret")
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the first delivery fails
			return
		}
		if r.Header.Get("X-Custos-Signature") != notify.Sign(secret, body) {
			t.Errorf("bad signature %q", r.Header.Get("X-Custos-Signature"))
		}
		bodies <- body
	}))
	defer hook.Close()
	smtpAddr, mails := fakeSMTP(t)
	n := &notify.ApprovalNotifier{
		Source: svc,
		Sinks: []notify.ApprovalSender{
			&notify.Webhook{URL: hook.URL, Secret: secret},
			&notify.Email{Addr: smtpAddr, From: "custos@example.org", To: []string{"approvers@example.org"}},
		},
		ConsoleURL: "https://custos.example.org/console/",
		Log:        slog.New(slog.DiscardHandler),
	}

	if sent, err := n.Once(ctx); err == nil || sent != 0 {
		t.Fatalf("first round: sent %d, err %v; want the webhook's 503", sent, err)
	}
	if got, _ := svc.Unnotified(ctx); len(got) != 1 {
		t.Fatalf("after a failed delivery %d requests wait, want 1", len(got))
	}
	if sent, err := n.Once(ctx); err != nil || sent != 1 {
		t.Fatalf("second round: sent %d, err %v", sent, err)
	}
	var got notify.ApprovalNotice
	if err := json.Unmarshal(<-bodies, &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "approval.requested" || got.ID != req.ID || got.Requester != "emp-7" || got.Subjects != 2 ||
		got.Reason != "caller 138****5678 disputes a refund, INC-12" || got.Required != 1 ||
		strings.Join(got.ApproverRoles, ",") != "supervisor" || got.URL != "https://custos.example.org/console/approvals" {
		t.Errorf("webhook notice: %+v", got)
	}
	select {
	case msg := <-mails:
		for _, want := range []string{"To: approvers@example.org", "X-Custos-Approval: " + req.ID,
			"emp-7 asks for unmask on pss/passengers", "138****5678", "people:     2 named"} {
			if !strings.Contains(msg, want) {
				t.Errorf("mail lacks %q:\n%s", want, msg)
			}
		}
		if strings.Contains(msg, "13812345678") {
			t.Errorf("mail holds the raw number:\n%s", msg)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no mail")
	}
	if sent, err := n.Once(ctx); err != nil || sent != 0 {
		t.Errorf("third round: sent %d, err %v; want nothing", sent, err)
	}

	// A restart restores the request as notified; a request approved
	// before the notifier saw it is not announced.
	reqs, err := st.Approvals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := approval.New(rules)
	again.Store = st
	again.Restore(reqs)
	if waiting, _ := again.Unnotified(ctx); len(waiting) != 0 {
		t.Errorf("after a restart %d requests wait for notification, want 0", len(waiting))
	}
	quick, err := again.Submit(ctx, agent, approval.NewRequest{Kind: approval.KindExport,
		Scope: approval.Scope{System: "pss"}, Reason: "monthly manifest for the auditors"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Approve(ctx, approval.Identity{ID: "sup-1", Roles: []string{"supervisor"}}, quick.ID, "ok"); err != nil {
		t.Fatal(err)
	}
	if waiting, _ := again.Unnotified(ctx); len(waiting) != 0 {
		t.Errorf("a decided request waits for notification: %+v", waiting)
	}
}
