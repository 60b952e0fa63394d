package console

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/custos-dev/custos"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium with a fresh profile and collects
// what the page logs (CSP violations show up there).
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") == "1" {
			t.Fatalf("chromium not found at %s (scripts/services.sh installs it)", chromiumPath)
		}
		t.Skipf("chromium not found at %s", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute) // generous: CI machines are shared
	var mu sync.Mutex
	var logs []string
	var wg sync.WaitGroup
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc(); wg.Wait() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			logs = append(logs, string(m.Type)+": "+m.Text)
			mu.Unlock()
		}
	}()
	return ctx, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), logs...) }
}

func artifactDir(t *testing.T) string {
	dir := os.Getenv("CUSTOS_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else {
		dir = filepath.Join(dir, "console")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// driver runs steps and fails the test on the first error.
type driver struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	logs func() []string
}

func (d *driver) do(steps ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	if err := chromedp.Do(d.ctx, steps...); err != nil {
		d.t.Fatalf("browser: %v (console: %q)", err, d.logs())
	}
}

func (d *driver) text(sel string) string {
	d.t.Helper()
	s, err := chromedp.Run(d.ctx, chromedp.Text(sel))
	if err != nil {
		d.t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return s
}

func (d *driver) shot(name string) {
	d.t.Helper()
	buf, err := chromedp.Run(d.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		d.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, name+".png"), buf, 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// signIn fills the login form with a fresh TOTP code.
func (d *driver) signIn(base, name, secret string) {
	d.t.Helper()
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		d.t.Fatal(err)
	}
	d.do(
		chromedp.Navigate(base+"/console/login"),
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#name", name),
		chromedp.SendKeys("#password", testPassword),
		chromedp.SendKeys("#code", code),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#severities"),
	)
}

func (d *driver) signOut() {
	d.t.Helper()
	d.do(chromedp.Click("header form button[type=submit]"), chromedp.WaitVisible("#login"))
}

// TestBrowser drives the console in headless Chromium: an investigator
// logs in with TOTP, triages an alert, suspends its actor and searches a
// subject's history and traces a leaked file; an approver approves a request; an auditor sees the
// investigator's search in the audit; the language switches to Chinese.
func TestBrowser(t *testing.T) {
	ctx, logs := browser(t)
	f := newFixture(t)
	dir := artifactDir(t)
	bg := context.Background()
	inv, err := CreateUser(bg, f.st, "ines", RoleInvestigator, testPassword, 1000)
	if err != nil {
		t.Fatal(err)
	}
	appr, err := CreateUser(bg, f.st, "aaron", RoleApprover, testPassword, 1000)
	if err != nil {
		t.Fatal(err)
	}
	aud, err := CreateUser(bg, f.st, "audrey", RoleAuditor, testPassword, 1000)
	if err != nil {
		t.Fatal(err)
	}
	base := f.srv.URL

	d := &driver{t: t, ctx: ctx, dir: dir, logs: logs}

	d.signIn(base, "ines", inv.TOTPSecret)
	d.shot("01-overview")
	// Triage: open the queue, the alert, acknowledge it, suspend the actor.
	d.do(chromedp.Navigate(base+"/console/alerts"), chromedp.WaitVisible(".queue"))
	d.shot("02-alert-queue")
	d.do(chromedp.Click(".alert-link"), chromedp.WaitVisible("#alert"))
	d.shot("03-alert")
	// Wait for the new page, not the old one still on screen.
	d.do(chromedp.Click("#set-acknowledged"), chromedp.WaitVisible(`#alert-status[data-status="acknowledged"]`))
	status := d.text("#alert-status")
	d.do(chromedp.SendKeys("#suspend-reason", "bulk reads of passengers, case 12"), chromedp.Click("#suspend"), chromedp.WaitVisible("#suspended"))
	d.shot("04-alert-triaged")
	// Subject history: the identifier goes in a POST and comes back masked.
	d.do(
		chromedp.Navigate(base+"/console/subjects"),
		chromedp.WaitVisible("#search"),
		chromedp.SetValue("#type", custos.TypeCNID),
		chromedp.SendKeys("#value", f.subject),
		chromedp.SendKeys("#purpose", "complaint review"),
		chromedp.SendKeys("#ticket", "CASE-12"),
		chromedp.Click("#search-submit"),
		chromedp.WaitVisible("#results"),
	)
	masked, results := d.text("#masked"), d.text("#results")
	d.shot("05-subject-history")
	// Leak tracing: upload a file holding the subject the actor read.
	leak := filepath.Join(t.TempDir(), "leak.csv")
	if err := os.WriteFile(leak, []byte("name,id_number,note\n张三,"+f.subject+",vip\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.do(
		chromedp.Navigate(base+"/console/trace"),
		chromedp.WaitVisible("#trace-form"),
		chromedp.SetUploadFiles("#leak", []string{leak}),
		chromedp.Click("#trace-submit"),
		chromedp.WaitVisible("#report"),
	)
	report := d.text("#report")
	d.shot("05b-leak-trace")
	d.signOut()
	// The approver approves the pending request.
	d.signIn(base, "aaron", appr.TOTPSecret)
	d.do(chromedp.Navigate(base+"/console/approvals"), chromedp.WaitVisible("#pending"))
	d.shot("06-approvals")
	d.do(chromedp.Click("button.approve"), chromedp.WaitVisible("#no-pending"))
	pending := d.text("#recent")
	d.shot("07-approved")
	d.signOut()
	// The auditor sees the search; then the page in Chinese.
	d.signIn(base, "audrey", aud.TOTPSecret)
	d.do(chromedp.Navigate(base+"/console/audit"), chromedp.WaitVisible("#audit"))
	audit := d.text("#audit")
	d.shot("08-audit")
	d.do(chromedp.Click(`a[lang="zh-CN"]`), chromedp.WaitVisible(`html[lang="zh-CN"] #audit`))
	h1 := d.text("h1")
	d.shot("09-audit-zh")

	if status != "acknowledged" {
		t.Errorf("alert status after acknowledge: %q", status)
	}
	if masked == "" || strings.Contains(masked, f.subject) || strings.Contains(results, f.subject) {
		t.Errorf("subject shown unmasked: %q", masked)
	}
	if !strings.Contains(results, f.actor) {
		t.Errorf("history does not show %s: %q", f.actor, results)
	}
	if !strings.Contains(pending, "granted") && !strings.Contains(pending, "approved") {
		t.Errorf("request not approved: %q", pending)
	}
	for _, want := range []string{"subject.search", "alert.status", "actor.suspend", "approval.approve", "trace", "ines", "aaron"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q", want)
		}
	}
	if !strings.Contains(report, f.actor) || strings.Contains(report, f.subject) {
		t.Errorf("trace report does not name %s (or shows the identifier): %q", f.actor, report)
	}
	if h1 != "控制台审计" {
		t.Errorf("after switching to Chinese the title is %q", h1)
	}
	for _, l := range logs() {
		if strings.Contains(l, "Content Security Policy") || strings.HasPrefix(l, "exception") {
			t.Errorf("browser reported: %s", l)
		}
	}
	a, err := f.st.Alert(bg, f.alertID)
	if err != nil || a.Status != custos.AlertAcknowledged {
		t.Errorf("alert in the store: %v %v", a.Status, err)
	}
}
