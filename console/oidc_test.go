package console

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/custos-dev/custos/approval"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/store/sqlite"
)

// testIdP is an OpenID Connect provider: discovery, an authorization
// endpoint that signs the person in at once, a token endpoint that checks
// the client secret and the PKCE verifier and issues an RS256 ID token,
// and the JWKS. tamper lets a case spoil the ID token it issues.
type testIdP struct {
	srv            *httptest.Server
	key, wrongKey  *rsa.PrivateKey
	clientID       string
	secret         string
	redirect       string
	mu             sync.Mutex
	codes          map[string]pending
	claims         map[string]any // the person's claims
	tamper         func(claims map[string]any)
	signWithWrong  bool
	tokenCalls     int
	challengeSeen  bool
	verifierWasBad bool
}

type pending struct {
	challenge, nonce string
}

func newTestIdP(t *testing.T) *testIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &testIdP{key: key, wrongKey: wrong, clientID: "custos-console", secret: "s3cret-of-the-client", codes: map[string]pending{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                p.srv.URL,
			"authorization_endpoint":                p.srv.URL + "/authorize",
			"token_endpoint":                        p.srv.URL + "/token",
			"jwks_uri":                              p.srv.URL + "/jwks",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported":      []string{"S256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != p.clientID || q.Get("redirect_uri") != p.redirect || q.Get("response_type") != "code" ||
			!strings.Contains(" "+q.Get("scope")+" ", " openid ") {
			http.Error(w, "bad authorization request", http.StatusBadRequest)
			return
		}
		if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" {
			http.Error(w, "PKCE S256 and a nonce are required", http.StatusBadRequest)
			return
		}
		code := randomToken()
		p.mu.Lock()
		p.codes[code] = pending{challenge: q.Get("code_challenge"), nonce: q.Get("nonce")}
		p.challengeSeen = true
		p.mu.Unlock()
		http.Redirect(w, r, p.redirect+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
		}
		if id != p.clientID || secret != p.secret {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
			return
		}
		p.mu.Lock()
		p.tokenCalls++
		pd, found := p.codes[r.PostFormValue("code")]
		delete(p.codes, r.PostFormValue("code")) // one use
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		verifierOK := base64.RawURLEncoding.EncodeToString(sum[:]) == pd.challenge
		if !verifierOK {
			p.verifierWasBad = true
		}
		claims := map[string]any{
			"iss": p.srv.URL, "sub": "248289761001", "aud": p.clientID, "nonce": pd.nonce,
			"iat": time.Now().Unix(), "exp": time.Now().Add(5 * time.Minute).Unix(),
		}
		for k, v := range p.claims {
			claims[k] = v
		}
		if p.tamper != nil {
			p.tamper(claims)
		}
		signKey := p.key
		if p.signWithWrong {
			signKey = p.wrongKey
		}
		p.mu.Unlock()
		if !found || r.PostFormValue("grant_type") != "authorization_code" || r.PostFormValue("redirect_uri") != p.redirect || !verifierOK {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: signKey, KeyID: "k1"}},
			(&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		payload, _ := json.Marshal(claims)
		jws, err := signer.Sign(payload)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		raw, _ := jws.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": randomToken(), "token_type": "Bearer", "expires_in": 300, "id_token": raw})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// oidcConsole is a console over a real store that signs in through idp.
func oidcConsole(t *testing.T, idp *testIdP) (*Console, *sqlite.Store, *httptest.Server) {
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
	svc, err := approval.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The console's address must be known before the console: it is the
	// redirect URL registered at the provider.
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	idp.redirect = srv.URL + "/console/oidc/callback"
	c, err := New(Options{Store: st, Pipeline: &ingest.Pipeline{Store: st, Index: idx}, Index: idx, Approvals: svc,
		OIDC: &OIDC{
			Issuer: idp.srv.URL, ClientID: idp.clientID, ClientSecret: idp.secret, RedirectURL: idp.redirect,
			Scopes: []string{"profile", "groups"},
			Roles:  map[string]Role{"custos-investigators": RoleInvestigator, "custos-auditors": RoleAuditor},
		}})
	if err != nil {
		t.Fatal(err)
	}
	h = c.Handler()
	return c, st, srv
}

// TestOIDCLogin runs the authorization-code flow with PKCE against the
// test provider, over HTTP, following every redirect as a browser would.
func TestOIDCLogin(t *testing.T) {
	cases := []struct {
		name     string
		groups   any
		user     any
		tamper   func(claims map[string]any)
		badSig   bool
		wantRole Role   // "" means refused
		wantErr  string // in the audit of a refusal: refused for this reason
	}{
		{name: "investigator", groups: []string{"staff", "custos-investigators"}, user: "alice", wantRole: RoleInvestigator},
		{name: "auditor by a string claim", groups: "custos-auditors", user: "bob", wantRole: RoleAuditor},
		{name: "unknown to the mapping", groups: []string{"staff", "sales"}, user: "carol", wantErr: "no value of claim groups"},
		{name: "no groups claim", user: "carol", wantErr: "no value of claim groups"},
		{name: "two roles", groups: []string{"custos-investigators", "custos-auditors"}, user: "dave", wantErr: "maps to 2 console roles"},
		{name: "no user name", groups: []string{"custos-investigators"}, wantErr: "preferred_username is missing"},
		{name: "wrong audience", groups: []string{"custos-investigators"}, user: "eve",
			tamper: func(c map[string]any) { c["aud"] = "another-client" }, wantErr: "audience"},
		{name: "wrong nonce", groups: []string{"custos-investigators"}, user: "eve",
			tamper: func(c map[string]any) { c["nonce"] = "a-nonce-from-another-sign-in" }, wantErr: "nonce"},
		{name: "expired", groups: []string{"custos-investigators"}, user: "eve",
			tamper: func(c map[string]any) {
				c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
				c["exp"] = time.Now().Add(-time.Hour).Unix()
			}, wantErr: "expired"},
		{name: "wrong issuer", groups: []string{"custos-investigators"}, user: "eve",
			tamper: func(c map[string]any) { c["iss"] = "https://idp.evil.example" }, wantErr: "different provider"},
		{name: "bad signature", groups: []string{"custos-investigators"}, user: "eve", badSig: true, wantErr: "signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idp := newTestIdP(t)
			_, st, srv := oidcConsole(t, idp)
			idp.claims = map[string]any{}
			if tc.groups != nil {
				idp.claims["groups"] = tc.groups
			}
			if tc.user != nil {
				idp.claims["preferred_username"] = tc.user
			}
			idp.tamper, idp.signWithWrong = tc.tamper, tc.badSig

			jar, _ := cookiejar.New(nil)
			cl := &http.Client{Jar: jar}
			// The login page offers single sign-on.
			page := get(t, cl, srv.URL+"/console/login")
			if !strings.Contains(page, `href="/console/oidc/login"`) {
				t.Fatal("login page does not offer single sign-on")
			}
			resp, err := cl.Get(srv.URL + "/console/oidc/login")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			idp.mu.Lock()
			seen, calls, badVerifier := idp.challengeSeen, idp.tokenCalls, idp.verifierWasBad
			idp.mu.Unlock()
			if !seen || calls != 1 || badVerifier {
				t.Fatalf("flow: PKCE challenge sent %v, token calls %d, verifier refused %v", seen, calls, badVerifier)
			}
			if tc.wantRole == "" {
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("refused sign-in: status %d at %s, want 401", resp.StatusCode, resp.Request.URL.Path)
				}
				if got := status(t, jar, srv.URL, "/console/alerts"); got != http.StatusSeeOther {
					t.Fatalf("after a refused sign-in the alerts page answers %d", got)
				}
				if !strings.Contains(string(body), "Single sign-on refused") {
					t.Fatalf("refusal page: %s", body)
				}
				audit, err := st.ConsoleAudit(context.Background(), "", 0, 10)
				if err != nil || len(audit) == 0 || audit[0].Action != "login.failed" || !strings.Contains(audit[0].Detail, tc.wantErr) {
					t.Fatalf("audit of the refusal %+v %v, want a login.failed naming %q", audit, err, tc.wantErr)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/console/" {
				t.Fatalf("sign-in: status %d at %s: %s", resp.StatusCode, resp.Request.URL.Path, body)
			}
			user := "oidc:" + tc.user.(string)
			if !strings.Contains(string(body), user) {
				t.Errorf("overview does not name %s", user)
			}
			// The role from the mapping is enforced: an investigator reads
			// alerts and not the audit; an auditor reads the audit.
			wantAudit := http.StatusForbidden
			if tc.wantRole == RoleAuditor {
				wantAudit = http.StatusOK
			}
			if got := status(t, jar, srv.URL, "/console/audit"); got != wantAudit {
				t.Errorf("audit page as %s: status %d, want %d", tc.wantRole, got, wantAudit)
			}
			u, _ := url.Parse(srv.URL + "/console/")
			var tok string
			for _, ck := range jar.Cookies(u) {
				if ck.Name == sessionCookie {
					tok = ck.Value
				}
			}
			ss, err := st.ConsoleSession(context.Background(), tokenKey(tok))
			if err != nil || ss.User != user || ss.Role != string(tc.wantRole) || ss.Source != sourceOIDC {
				t.Fatalf("stored session %+v %v", ss, err)
			}
		})
	}
}

// TestOIDCCallbackForged: a callback that this browser did not start (no
// flow cookie, or another state) is refused before the code is redeemed.
func TestOIDCCallbackForged(t *testing.T) {
	idp := newTestIdP(t)
	_, _, srv := oidcConsole(t, idp)
	idp.claims = map[string]any{"groups": "custos-investigators", "preferred_username": "alice"}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	// No flow cookie at all (login CSRF: an attacker's code in a victim's browser).
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, CheckRedirect: noRedirect}
	resp, err := cl.Get(srv.URL + "/console/oidc/callback?code=abc&state=xyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("callback without a flow: status %d, want 400", resp.StatusCode)
	}
	// A flow started here, answered with another state.
	resp, err = cl.Get(srv.URL + "/console/oidc/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	authz, _ := url.Parse(resp.Header.Get("Location"))
	resp, err = cl.Get(authz.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, _ := url.Parse(resp.Header.Get("Location"))
	q := cb.Query()
	q.Set("state", "not-the-state")
	cb.RawQuery = q.Encode()
	resp, err = cl.Get(cb.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("callback with another state: status %d, want 401", resp.StatusCode)
	}
	idp.mu.Lock()
	defer idp.mu.Unlock()
	if idp.tokenCalls != 0 {
		t.Fatalf("the code was redeemed %d times for a forged callback", idp.tokenCalls)
	}
}

func get(t *testing.T, cl *http.Client, u string) string {
	t.Helper()
	resp, err := cl.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
