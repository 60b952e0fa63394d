package console

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/custos-dev/custos/approval"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/store/sqlite"
)

// clock is a settable Now for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// node is one run of the console over a data directory, as one run of
// 'custos serve' would have.
type node struct {
	st  *sqlite.Store
	c   *Console
	srv *httptest.Server
}

func startNode(t *testing.T, dir string, clk *clock) *node {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := blind.New([]byte(strings.Repeat("k", blind.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := approval.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Store: st, Pipeline: &ingest.Pipeline{Store: st, Index: idx}, Index: idx, Approvals: svc,
		SessionTTL: 8 * time.Hour, IdleTimeout: 30 * time.Minute, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{st: st, c: c, srv: httptest.NewServer(c.Handler())}
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	n.srv.Close()
	n.st.Close()
}

// status is the status of GET path with the client's cookies, redirects
// not followed.
func status(t *testing.T, jar http.CookieJar, base, path string) int {
	t.Helper()
	cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// signedIn logs a new local user in through the form and returns the
// cookie jar, moved to srv's address.
func signedIn(t *testing.T, n *node, clk *clock, name string, role Role) http.CookieJar {
	t.Helper()
	nu, err := CreateUser(context.Background(), n.st, name, role, testPassword, 1000)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(nu.TOTPSecret, clk.now())
	jar, _ := cookiejar.New(nil)
	if resp := login(t, n.srv.URL, name, testPassword, code, jar); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: status %d", resp.StatusCode)
	}
	return jar
}

// moveJar copies the console cookies of jar to another server's address
// (a restarted node listens on a new port).
func moveJar(t *testing.T, jar http.CookieJar, from, to string) http.CookieJar {
	t.Helper()
	fu, _ := url.Parse(from + "/console/")
	tu, _ := url.Parse(to + "/console/")
	nj, _ := cookiejar.New(nil)
	var cks []*http.Cookie
	for _, ck := range jar.Cookies(fu) {
		cks = append(cks, &http.Cookie{Name: ck.Name, Value: ck.Value, Path: "/console/"})
	}
	nj.SetCookies(tu, cks)
	return nj
}

func sessionCookieOf(t *testing.T, jar http.CookieJar, base string) string {
	t.Helper()
	u, _ := url.Parse(base + "/console/")
	for _, ck := range jar.Cookies(u) {
		if ck.Name == sessionCookie {
			return ck.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

// TestSessionSurvivesRestart: a session made before a restart still
// works after it, and the store holds the cookie's hash, never the cookie.
func TestSessionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Now()}
	n1 := startNode(t, dir, clk)
	jar := signedIn(t, n1, clk, "ines", RoleInvestigator)
	if got := status(t, jar, n1.srv.URL, "/console/alerts"); got != http.StatusOK {
		t.Fatalf("before restart: status %d", got)
	}
	tok := sessionCookieOf(t, jar, n1.srv.URL)
	n1.stop()

	// Nothing on disk holds the cookie value itself.
	files, _ := filepath.Glob(filepath.Join(dir, sqlite.FileName+"*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(tok)) {
			t.Fatalf("%s holds the session cookie", filepath.Base(f))
		}
	}

	n2 := startNode(t, dir, clk)
	jar = moveJar(t, jar, n1.srv.URL, n2.srv.URL)
	if got := status(t, jar, n2.srv.URL, "/console/alerts"); got != http.StatusOK {
		t.Fatalf("after restart: status %d, want 200", got)
	}
	ss, err := n2.st.ConsoleSession(context.Background(), tokenKey(tok))
	if err != nil || ss.User != "ines" || ss.Role != string(RoleInvestigator) || ss.Source != sourceLocal {
		t.Fatalf("stored session %+v %v", ss, err)
	}
}

// TestSessionRevocation: logout, a new password, a new role and disabling
// each end the user's sessions, on this node and any other over the store.
func TestSessionRevocation(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		revoke func(t *testing.T, n *node, jar http.CookieJar, user string)
	}{
		{"logout", func(t *testing.T, n *node, jar http.CookieJar, user string) {
			// The CSRF token is derived from the cookie.
			tok := sessionCookieOf(t, jar, n.srv.URL)
			cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp := do(t, cl, "POST", n.srv.URL+"/console/logout", url.Values{"csrf": {csrfFor(tok)}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("logout: status %d", resp.StatusCode)
			}
		}},
		{"password change", func(t *testing.T, n *node, jar http.CookieJar, user string) {
			if err := SetPassword(ctx, n.st, user, "a new password 2", 1000); err != nil {
				t.Fatal(err)
			}
		}},
		{"role change", func(t *testing.T, n *node, jar http.CookieJar, user string) {
			if err := SetRole(ctx, n.st, user, RoleAuditor); err != nil {
				t.Fatal(err)
			}
		}},
		{"disabled", func(t *testing.T, n *node, jar http.CookieJar, user string) {
			if err := n.st.SetConsoleUserDisabled(ctx, user, true); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: time.Now()}
			n := startNode(t, t.TempDir(), clk)
			jar := signedIn(t, n, clk, "ines", RoleInvestigator)
			tok := sessionCookieOf(t, jar, n.srv.URL)
			if got := status(t, jar, n.srv.URL, "/console/alerts"); got != http.StatusOK {
				t.Fatalf("before: status %d", got)
			}
			tc.revoke(t, n, jar, "ines")
			// The row is gone from the store, not only refused here.
			if _, err := n.st.ConsoleSession(ctx, tokenKey(tok)); err != sqlite.ErrNotFound {
				t.Fatalf("session still stored: %v", err)
			}
			jar = moveJar(t, jar, n.srv.URL, n.srv.URL)
			cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			u, _ := url.Parse(n.srv.URL + "/console/")
			jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: tok, Path: "/console/"}})
			if got := status(t, jar, n.srv.URL, "/console/alerts"); got != http.StatusSeeOther {
				t.Fatalf("after: status %d, want a redirect to the login", got)
			}
			resp := do(t, cl, "POST", n.srv.URL+"/console/alerts/x/status", url.Values{"csrf": {csrfFor(tok)}, "status": {"resolved"}})
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("POST after revocation: status %d, want 403", resp.StatusCode)
			}
		})
	}
}

// TestSessionExpiry: a session ends after the idle timeout without use,
// and after the session TTL however busy; use within the idle timeout
// keeps it alive.
func TestSessionExpiry(t *testing.T) {
	cases := []struct {
		name  string
		steps []time.Duration // uses at these intervals, each must succeed
		last  time.Duration   // then one more after this long
		want  int
	}{
		{"used within idle", []time.Duration{20 * time.Minute, 20 * time.Minute}, 20 * time.Minute, http.StatusOK},
		{"idle too long", nil, 31 * time.Minute, http.StatusSeeOther},
		{"idle after use", []time.Duration{20 * time.Minute}, 31 * time.Minute, http.StatusSeeOther},
		{"absolute end", []time.Duration{25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute,
			25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute,
			25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute,
			25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute}, 5 * time.Minute, http.StatusSeeOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: time.Now()}
			n := startNode(t, t.TempDir(), clk)
			jar := signedIn(t, n, clk, "ines", RoleInvestigator)
			for i, d := range tc.steps {
				clk.add(d)
				if got := status(t, jar, n.srv.URL, "/console/alerts"); got != http.StatusOK {
					t.Fatalf("use %d: status %d", i, got)
				}
			}
			clk.add(tc.last)
			if got := status(t, jar, n.srv.URL, "/console/alerts"); got != tc.want {
				t.Fatalf("last use: status %d, want %d", got, tc.want)
			}
		})
	}
}
