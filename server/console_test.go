package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/server"
)

// TestConsoleMounted: the console answers at / and /console/ on the API's
// listener, the API keeps its routes, and console.enabled=false removes it.
func TestConsoleMounted(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		cfg, token := initDir(t)
		cfg.Console.Enabled = enabled
		cfg.Detect.Enabled = false
		srv, err := server.Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		base := srv.URL()
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noFollow.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if enabled && (resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/") {
			t.Errorf("GET /: status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, err = http.Get(base + "/console/login")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if enabled != (resp.StatusCode == 200 && strings.Contains(string(body), `id="login"`)) {
			t.Errorf("console enabled=%v: login page status %d", enabled, resp.StatusCode)
		}
		if enabled && srv.ConsoleURL() != base+"/console/" {
			t.Errorf("ConsoleURL %q", srv.ConsoleURL())
		}
		if code, _ := do(t, "GET", base+"/api/v1/alerts", token, ""); code != 200 {
			t.Errorf("API beside the console: status %d", code)
		}
		if err := srv.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConsoleOIDCConfigured: console.oidc switches single sign-on on (the
// provider is discovered at the first sign-in, so the node starts while
// it is down), and a missing client secret file stops the start.
func TestConsoleOIDCConfigured(t *testing.T) {
	cfg, _ := initDir(t)
	cfg.Detect.Enabled = false
	secret := filepath.Join(t.TempDir(), "oidc-secret")
	cfg.Console.OIDC = config.ConsoleOIDC{
		Issuer: "http://127.0.0.1:1/realms/staff", ClientID: "custos", ClientSecretFile: secret,
		RedirectURL: "http://127.0.0.1/console/oidc/callback", Roles: map[string]string{"custos-auditors": "auditor"},
	}
	if _, err := server.Start(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "client_secret_file") {
		t.Fatalf("start without the secret file: %v", err)
	}
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	resp, err := http.Get(srv.URL() + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `href="/console/oidc/login"`) {
		t.Fatal("login page does not offer single sign-on")
	}
	// The provider is down: the sign-in says so instead of hanging.
	resp, err = http.Get(srv.URL() + "/console/oidc/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("sign-in with the provider down: status %d, want 502", resp.StatusCode)
	}
}
