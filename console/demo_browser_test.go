package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/custos-dev/custos/console"
	"github.com/custos-dev/custos/demo"
)

// syncBuffer is the demo's printed tour, read while the demo runs.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.WriteString(string(p))
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls the demo's output until re matches (generous deadline:
// the machine is shared).
func waitFor(t *testing.T, out *syncBuffer, done <-chan error, re *regexp.Regexp, d time.Duration) []string {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		select {
		case err := <-done:
			t.Fatalf("demo ended: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo printed no %s:\n%s", re, out)
		}
	}
}

type apiAlert struct {
	ID     string `json:"id"`
	Rule   string `json:"rule"`
	Actor  string `json:"actor"`
	Status string `json:"status"`
}

func alerts(t *testing.T, api, token, status string) []apiAlert {
	t.Helper()
	req, _ := http.NewRequest("GET", api+"/alerts?limit=50&status="+status, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Alerts []apiAlert `json:"alerts"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET alerts: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Alerts
}

// TestBrowserTriageDemoAlert runs 'custos demo' (its simulated airline,
// back office and live insiders through the real server and detection)
// until detection raises an alert, then an investigator signs in with
// the demo's password and a TOTP code in headless Chromium, opens that
// alert from the queue and acknowledges it.
func TestBrowserTriageDemoAlert(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo")
	}
	bctx, logs := console.StartBrowser(t)
	dir := console.ArtifactDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	// The demo's log is shown only if the test fails (stopping it mid-
	// request logs refusals that mean nothing here).
	logBuf := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		// No back-filled history (History -1): every alert comes from the
		// live insiders, at 1200 simulated seconds per second.
		done <- demo.Run(ctx, demo.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0",
			Employees: 8, History: -1, Passengers: 2000, Speedup: 1200,
			Log: slog.New(slog.NewTextHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelWarn}))}, out)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Error("demo did not stop")
		}
		if t.Failed() {
			t.Logf("demo log:\n%s", logBuf)
		}
	})
	base := waitFor(t, out, done, regexp.MustCompile(`Console: (http://\S+)/console/`), 90*time.Second)[1]
	secret := waitFor(t, out, done, regexp.MustCompile(`user investigator\s+TOTP secret (\S+)`), 30*time.Second)[1]
	token := waitFor(t, out, done, regexp.MustCompile(`token: (\S+)`), 30*time.Second)[1]
	api := base + "/api/v1"

	// Detection raises alerts from the live traffic: wait for the first.
	var open []apiAlert
	for deadline := time.Now().Add(120 * time.Second); len(open) == 0; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no alert from the demo's traffic within 2 minutes:\n%s", out)
		}
		open = alerts(t, api, token, "open")
	}
	t.Logf("demo raised %d alerts; first %s (%s)", len(open), open[0].Rule, open[0].ID)

	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("browser: %v (console: %q)", err, logs())
		}
	}
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	run(
		chromedp.Navigate(base+"/console/login"),
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#name", "investigator"),
		chromedp.SendKeys("#password", demo.ConsolePassword),
		chromedp.SendKeys("#code", code),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#severities"),
	)
	shot("demo-01-overview")
	// The queue lists the alert detection raised; open it from there.
	run(chromedp.Navigate(base+"/console/alerts"), chromedp.WaitVisible(".queue"))
	shot("demo-02-queue")
	link := fmt.Sprintf(`a.alert-link[href="/console/alerts/%s"]`, open[0].ID)
	run(chromedp.Click(link), chromedp.WaitVisible(`#alert-status[data-status="open"]`))
	shot("demo-03-alert")
	run(chromedp.Click("#set-acknowledged"), chromedp.WaitVisible(`#alert-status[data-status="acknowledged"]`))
	shot("demo-04-acknowledged")

	// The server's own API agrees: the alert is acknowledged.
	var got string
	for _, a := range alerts(t, api, token, "acknowledged") {
		if a.ID == open[0].ID {
			got = a.Status
		}
	}
	if got != "acknowledged" {
		t.Errorf("alert %s after triage: status %q in the API", open[0].ID, got)
	}
	for _, l := range logs() {
		if strings.Contains(l, "Content Security Policy") || strings.HasPrefix(l, "exception") {
			t.Errorf("browser reported: %s", l)
		}
	}
}
