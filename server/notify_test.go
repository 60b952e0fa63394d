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

	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/notify"
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
