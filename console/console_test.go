package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/approval"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/ledger"
	"github.com/custos-dev/custos/store/sqlite"
	"github.com/custos-dev/custos/trace"
)

// fixture is a console over a real store with a few events, an alert and
// a pending approval request.
type fixture struct {
	c       *Console
	st      *sqlite.Store
	srv     *httptest.Server
	alertID string
	reqID   string
	actor   string
	subject string // a raw cn_id of a person in the events (test data only)
}

const testPassword = "correct horse battery"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	idx, err := blind.New([]byte(strings.Repeat("k", blind.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	pipe := &ingest.Pipeline{Store: st, Index: idx}
	svc, err := approval.New([]approval.Rule{{ID: "console-approvers", ApproverRoles: []string{"approver"}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Store: st, Pipeline: pipe, Index: idx, Approvals: svc,
		Trace: &trace.Tracer{Index: idx, Source: st}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{c: c, st: st, actor: "emp-0042", subject: "110101196907052007"}
	now := time.Now().UTC()
	var evs []custos.AccessEvent
	for i := range 30 {
		evs = append(evs, custos.AccessEvent{
			ID: fmt.Sprintf("e-%d", i), Time: now.Add(-time.Duration(30-i) * time.Minute),
			Actor: custos.Actor{ID: f.actor, Roles: []string{"agent"}}, Channel: custos.ChannelIngest, Action: custos.ActionRead,
			Resource:   custos.Resource{System: "pss", Object: "passengers"},
			Purpose:    custos.Purpose{Name: "customer_service", Ticket: fmt.Sprintf("INC-%d", i)},
			Subjects:   []custos.Subject{{Type: custos.TypeCNID, Value: f.subject}},
			Categories: []string{custos.CategoryIdentity, custos.CategoryWhereabouts}, Records: 1,
		})
	}
	if _, err := pipe.Access(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RollUpConsole(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	f.alertID = "alert-bulk-1"
	doc := fmt.Sprintf(`{"evidence":["e-3","e-4"],"subjects":["110101********123X"],"threshold":20,"observed":30,"events":30}`)
	if err := st.UpsertAlerts(ctx, []custos.AlertRecord{{
		ID: f.alertID, Rule: "bulk_access", Severity: "high", Actor: f.actor,
		FirstSeen: now.Add(-30 * time.Minute), LastSeen: now.Add(-time.Minute),
		Summary: "emp-0042 read 30 passengers in 30 minutes (threshold 20)", Doc: []byte(doc),
	}}); err != nil {
		t.Fatal(err)
	}
	req, err := svc.Submit(ctx, approval.Identity{ID: f.actor}, approval.NewRequest{
		Kind: approval.KindUnmask, Scope: approval.Scope{System: "pss", Object: "passengers"},
		Reason: "passenger complaint INC-77 needs the full phone number",
	})
	if err != nil {
		t.Fatal(err)
	}
	f.reqID = req.ID
	f.srv = httptest.NewServer(c.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// as returns a client logged in with role (a session made directly, so
// that authorization tests do not pay for PBKDF2) and its CSRF token.
func (f *fixture) as(t *testing.T, role Role) (*http.Client, string) {
	t.Helper()
	name := "user-" + string(role)
	if _, err := CreateUser(context.Background(), f.st, name, role, testPassword, 1000); err != nil && !errors.Is(err, sqlite.ErrExists) {
		t.Fatal(err)
	}
	tok, ss, err := f.c.sess.create(context.Background(), name, role, sourceLocal, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(f.srv.URL + "/console/")
	jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: tok, Path: "/console/"}})
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, ss.csrf
}

func fill(pattern string, f *fixture) string {
	r := strings.NewReplacer("{$}", "", "{id}", "ID", "{verb}", "approve")
	p := r.Replace(pattern)
	switch {
	case strings.HasPrefix(pattern, "/console/alerts/"):
		p = strings.Replace(p, "ID", f.alertID, 1)
	case strings.HasPrefix(pattern, "/console/actors/"):
		p = strings.Replace(p, "ID", f.actor, 1)
	case strings.HasPrefix(pattern, "/console/approvals/"):
		p = strings.Replace(p, "ID", f.reqID, 1)
	}
	return p
}

// formFor is a valid body for each POST route.
func formFor(pattern, csrf string) url.Values {
	v := url.Values{"csrf": {csrf}}
	switch pattern {
	case "/console/alerts/{id}/status":
		v.Set("status", "acknowledged")
	case "/console/actors/{id}/suspend":
		v.Set("reason", "bulk reads under investigation")
	case "/console/subjects":
		v.Set("type", "cn_id")
		v.Set("value", "110101196907052007")
		v.Set("purpose", "case 12")
	case "/console/approvals/{id}/{verb}":
		v.Set("comment", "ok")
	}
	return v
}

func do(t *testing.T, cl *http.Client, method, u string, form url.Values) *http.Response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestAuthorization checks every route for every role: a role without
// the route's permission gets 403, one with it does not; without a
// session, pages redirect to the login and actions are refused.
func TestAuthorization(t *testing.T) {
	f := newFixture(t)
	for _, rt := range routes() {
		for _, role := range Roles {
			t.Run(fmt.Sprintf("%s %s as %s", rt.method, rt.pattern, role), func(t *testing.T) {
				cl, csrf := f.as(t, role)
				var form url.Values
				if rt.method == "POST" {
					form = formFor(rt.pattern, csrf)
				}
				resp := do(t, cl, rt.method, f.srv.URL+fill(rt.pattern, f), form)
				allowed := rt.public || rt.perm == "" || Allowed(role, rt.perm)
				// The login form's own CSRF check is tested in TestLoginTOTPAndRateLimit.
				if allowed && resp.StatusCode == http.StatusForbidden && !(rt.public && rt.method == "POST") {
					t.Fatalf("allowed role got 403")
				}
				if !allowed && resp.StatusCode != http.StatusForbidden {
					t.Fatalf("status %d, want 403", resp.StatusCode)
				}
				if allowed && resp.StatusCode >= 500 {
					t.Fatalf("status %d", resp.StatusCode)
				}
			})
		}
		if rt.public {
			continue
		}
		t.Run(fmt.Sprintf("%s %s anonymous", rt.method, rt.pattern), func(t *testing.T) {
			cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			var form url.Values
			if rt.method == "POST" {
				form = formFor(rt.pattern, "forged")
			}
			resp := do(t, cl, rt.method, f.srv.URL+fill(rt.pattern, f), form)
			if rt.method == "GET" && (resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login") {
				t.Fatalf("status %d location %q, want redirect to login", resp.StatusCode, resp.Header.Get("Location"))
			}
			if rt.method == "POST" && resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", resp.StatusCode)
			}
		})
	}
}

// TestCSRF: every POST of a logged-in user without the session's token
// is refused and changes nothing.
func TestCSRF(t *testing.T) {
	f := newFixture(t)
	cl, _ := f.as(t, RoleInvestigator)
	for _, rt := range routes() {
		if rt.method != "POST" || rt.public {
			continue
		}
		resp := do(t, cl, "POST", f.srv.URL+fill(rt.pattern, f), formFor(rt.pattern, "wrong"))
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s without CSRF token: status %d, want 403", rt.pattern, resp.StatusCode)
		}
	}
	a, err := f.st.Alert(context.Background(), f.alertID)
	if err != nil || a.Status != custos.AlertOpen {
		t.Fatalf("alert changed by a forged POST: %v %v", a.Status, err)
	}
}

// TestDisabledUser: disabling a user ends their sessions at the next request.
func TestDisabledUser(t *testing.T) {
	f := newFixture(t)
	cl, _ := f.as(t, RoleInvestigator)
	if resp := do(t, cl, "GET", f.srv.URL+"/console/alerts", nil); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := f.st.SetConsoleUserDisabled(context.Background(), "user-investigator", true); err != nil {
		t.Fatal(err)
	}
	if resp := do(t, cl, "GET", f.srv.URL+"/console/alerts", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disabled user: status %d, want a redirect to the login", resp.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	resp, err := http.Get(f.srv.URL + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline or eval: %q", csp)
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == loginCookie {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login cookie not HttpOnly/SameSite=Strict: %+v", ck)
	}
}

// login performs the real login form: password and a TOTP code.
func login(t *testing.T, base, name, password, code string, jar http.CookieJar) *http.Response {
	t.Helper()
	cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Get(base + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no csrf field on the login page")
	}
	return do(t, cl, "POST", base+"/console/login", url.Values{"csrf": {string(m[1])}, "name": {name}, "password": {password}, "code": {code}})
}

func TestLoginTOTPAndRateLimit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	nu, err := CreateUser(ctx, f.st, "ines", RoleInvestigator, testPassword, 1000)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	code, _ := totp.GenerateCode(nu.TOTPSecret, time.Now())
	if resp := login(t, f.srv.URL, "ines", "wrong password!", code, jar); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d", resp.StatusCode)
	}
	if resp := login(t, f.srv.URL, "ines", testPassword, "000000", jar); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong code: status %d", resp.StatusCode)
	}
	resp := login(t, f.srv.URL, "ines", testPassword, code, jar)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("good login: status %d", resp.StatusCode)
	}
	// The same code cannot be used twice.
	if resp := login(t, f.srv.URL, "ines", testPassword, code, jar); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replayed code: status %d", resp.StatusCode)
	}
	// Five failures lock the account, even for the right password.
	for range maxFailsPerAccount {
		login(t, f.srv.URL, "ines", "wrong password!", "123456", jar)
	}
	code2, _ := totp.GenerateCode(nu.TOTPSecret, time.Now().Add(30*time.Second))
	if resp := login(t, f.srv.URL, "ines", testPassword, code2, jar); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("locked account: status %d, want 429", resp.StatusCode)
	}
	es, err := f.st.ConsoleAudit(ctx, "", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, ","); !strings.Contains(got, "login.limited") || !strings.Contains(got, "login,") {
		t.Fatalf("audit lacks logins: %s", got)
	}
}

// TestSearchIsRecorded: an investigator's search is an access event on
// channel console with the subject's hash, and an audit entry with the
// masked value only.
func TestSearchIsRecorded(t *testing.T) {
	f := newFixture(t)
	cl, csrf := f.as(t, RoleInvestigator)
	req, _ := http.NewRequest("POST", f.srv.URL+"/console/subjects", strings.NewReader(formFor("/console/subjects", csrf).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), f.subject) {
		t.Fatal("the page shows the raw identifier")
	}
	if !strings.Contains(string(body), "emp-0042") {
		t.Fatal("the history does not list the actor who read the subject")
	}
	acc, err := f.st.ActorAccesses(context.Background(), "user-investigator", custos.Query{})
	if err != nil || len(acc) != 1 || acc[0].Channel != custos.ChannelConsole || acc[0].Subjects[0].Hash == "" || acc[0].Subjects[0].Value != "" {
		t.Fatalf("search not recorded as a sealed console access: %+v %v", acc, err)
	}
	es, _ := f.st.ConsoleAudit(context.Background(), "user-investigator", 0, 10)
	if len(es) == 0 || es[0].Action != "subject.search" || strings.Contains(es[0].Target, f.subject) {
		t.Fatalf("audit entry: %+v", es)
	}
	// And in the ledger's audit stream.
	aud, err := f.st.Audit(context.Background(), "user-investigator", custos.Query{})
	if err != nil || len(aud) == 0 || aud[0].Action != "console.subject.search" {
		t.Fatalf("ledger audit stream: %+v %v", aud, err)
	}
}

// TestMessages: both languages have exactly the same keys, and every key
// a template names is in them.
func TestMessages(t *testing.T) {
	en, zh := messages["en"], messages["zh-CN"]
	for k := range en {
		if _, ok := zh[k]; !ok {
			t.Errorf("zh-CN lacks %q", k)
		}
	}
	for k := range zh {
		if _, ok := en[k]; !ok {
			t.Errorf("en lacks %q", k)
		}
	}
	re := regexp.MustCompile(`\bt [$.]*[A-Z]* "([a-z_.]+)"`)
	fs.WalkDir(templateFiles, "templates", func(p string, d fs.DirEntry, err error) error {
		if d.IsDir() {
			return nil
		}
		b, _ := templateFiles.ReadFile(p)
		for _, m := range re.FindAllSubmatch(b, -1) {
			if _, ok := en[string(m[1])]; !ok {
				t.Errorf("%s: key %q not in the tables", p, m[1])
			}
		}
		return nil
	})
	// Keys built at run time from enumerations.
	var dyn []string
	for _, r := range Roles {
		dyn = append(dyn, "role."+string(r))
	}
	for _, s := range severities {
		dyn = append(dyn, "sev."+s)
	}
	for _, s := range statuses {
		dyn = append(dyn, "status."+s)
	}
	for _, s := range statuses[1:] {
		dyn = append(dyn, "set."+s)
	}
	for _, c := range custos.Categories {
		dyn = append(dyn, "cat."+c)
	}
	for _, ty := range searchTypes {
		dyn = append(dyn, "type."+ty)
	}
	for _, r := range Roles {
		for _, n := range (&Console{}).nav(r) {
			dyn = append(dyn, n.Key)
		}
	}
	for _, k := range dyn {
		if _, ok := en[k]; !ok {
			t.Errorf("key %q not in the tables", k)
		}
	}
}

func TestLanguage(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ accept, cookie, want string }{
		{"zh-CN,zh;q=0.9", "", "登录"},
		{"en-US,en;q=0.9", "", "Sign in"},
		{"en-US", "zh-CN", "登录"},
		{"zh-CN", "en", "Sign in"},
	} {
		req, _ := http.NewRequest("GET", f.srv.URL+"/console/login", nil)
		req.Header.Set("Accept-Language", tc.accept)
		if tc.cookie != "" {
			req.AddCookie(&http.Cookie{Name: langCookie, Value: tc.cookie})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "<h1>"+tc.want+"</h1>") {
			t.Errorf("accept %q cookie %q: want %q", tc.accept, tc.cookie, tc.want)
		}
	}
}

// fakeLedger proves every event but the console's own (not yet in it).
type fakeLedger struct{}

func (fakeLedger) Size(context.Context) (uint64, error) { return 31, nil }
func (fakeLedger) Checkpoint(context.Context) ([]byte, error) {
	return []byte("custos.example/ledger\n31\nq2ZKl4cQ1GN2Vq5Hl8m3nKcLrWcC1ZLYEapHR1mB1Jw=\n\n— custos sig\n"), nil
}
func (fakeLedger) Proofs(_ context.Context, ids []string) (map[string]ledger.Proof, error) {
	out := map[string]ledger.Proof{}
	for i, id := range ids {
		if strings.HasPrefix(id, "e-") {
			out[id] = ledger.Proof{EventID: id, LeafIndex: uint64(i), TreeSize: 31}
		}
	}
	return out, nil
}

func TestLedgerOnPages(t *testing.T) {
	f := newFixture(t)
	f.c.opt.Ledger = fakeLedger{}
	cl, csrf := f.as(t, RoleInvestigator)
	get := func(method, path string, form url.Values) string {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, f.srv.URL+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: status %d", method, path, resp.StatusCode)
		}
		return string(b)
	}
	if page := get("GET", "/console/", nil); !strings.Contains(page, "custos.example/ledger · 31") {
		t.Errorf("overview lacks the checkpoint")
	}
	page := get("POST", "/console/subjects", formFor("/console/subjects", csrf))
	if !regexp.MustCompile(`leaf \d+ / 31`).MatchString(page) || !strings.Contains(page, "not yet checkpointed") {
		t.Errorf("history lacks proofs or the pending mark")
	}
}

// TestAlertShowsSourceLogins: a credential-stuffing alert (a source, no
// actor) lists the logins from that source over its span, the accounts
// tried and the one that got in.
func TestAlertShowsSourceLogins(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := time.Now().UTC()
	var logins []custos.LoginEvent
	for i := range 5 {
		l := custos.LoginEvent{ID: fmt.Sprintf("l-%d", i), Time: now.Add(-time.Duration(10-i) * time.Minute),
			Account: fmt.Sprintf("acct-%d", i), Source: custos.Source{IP: "203.0.113.66"}, System: "credit",
			Outcome: custos.OutcomeFailure, Reason: "bad_password"}
		if i == 4 {
			l.Outcome, l.Reason = custos.OutcomeSuccess, ""
		}
		logins = append(logins, l)
	}
	logins = append(logins, custos.LoginEvent{ID: "l-other", Time: now.Add(-5 * time.Minute), Account: "acct-elsewhere",
		Source: custos.Source{IP: "198.51.100.1"}, System: "credit", Outcome: custos.OutcomeFailure, Reason: "bad_password"})
	if _, err := f.st.AppendLogins(ctx, logins); err != nil {
		t.Fatal(err)
	}
	if err := f.st.UpsertAlerts(ctx, []custos.AlertRecord{{
		ID: "alert-stuffing-1", Rule: "success_after_stuffing", Severity: "critical", SourceIP: "203.0.113.66",
		FirstSeen: now.Add(-10 * time.Minute), LastSeen: now.Add(-6 * time.Minute),
		Summary: "203.0.113.66 tried 5 accounts; one login succeeded", Doc: []byte(`{}`),
	}}); err != nil {
		t.Fatal(err)
	}
	cl, _ := f.as(t, RoleInvestigator)
	resp, err := cl.Get(f.srv.URL + "/console/alerts/alert-stuffing-1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	if resp.StatusCode != 200 || !strings.Contains(page, `id="source-logins"`) {
		t.Fatalf("status %d, no source-logins section", resp.StatusCode)
	}
	for i := range 5 {
		if !strings.Contains(page, fmt.Sprintf("acct-%d", i)) {
			t.Errorf("account acct-%d missing from the source's logins", i)
		}
	}
	if strings.Contains(page, "acct-elsewhere") {
		t.Error("a login from another source is listed")
	}
	if !strings.Contains(page, "<td>success</td>") {
		t.Error("the successful login is not shown")
	}
}
