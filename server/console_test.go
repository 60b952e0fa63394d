package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

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
