package httpgw

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/pquerna/otp/totp"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/config"
)

func TestBearerJWTWithJWKS(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	}))
	t.Cleanup(idp.Close)
	h := newHarness(t, appMux(), func(c *Config, d *Deps) {
		c.Identity.Header.TrustedProxies = nil
		c.Identity.OIDC = config.HTTPOIDC{JWKSURL: idp.URL, Issuer: "https://idp.example", Audience: "backoffice",
			ActorClaim: "preferred_username", RolesClaim: "roles", OrgUnitClaim: "org_unit", Cookie: "idp_token"}
	})
	sig, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	badSig, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: other, KeyID: "k1"}}, nil)
	token := func(s jose.Signer, iss, aud string, exp time.Time) string {
		tok, err := jwt.Signed(s).Claims(jwt.Claims{Issuer: iss, Audience: jwt.Audience{aud}, Expiry: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(time.Now())}).
			Claims(map[string]any{"preferred_username": "emp-42", "roles": []string{"supervisor"}, "org_unit": "beijing"}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hour := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name  string
		token string
		want  int
	}{
		{"valid", token(sig, "https://idp.example", "backoffice", hour), 200},
		{"wrong audience", token(sig, "https://idp.example", "other-app", hour), 401},
		{"wrong issuer", token(sig, "https://evil.example", "backoffice", hour), 401},
		{"expired", token(sig, "https://idp.example", "backoffice", time.Now().Add(-time.Hour)), 401},
		{"foreign key", token(badSig, "https://idp.example", "backoffice", hour), 401},
		{"garbage", "not.a.jwt", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.get("/search", "", "", "Authorization", "Bearer "+tc.token)
			if r.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.want)
			}
		})
	}
	// The same token in the IdP's cookie.
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/search", nil)
	req.AddCookie(&http.Cookie{Name: "idp_token", Value: token(sig, "https://idp.example", "backoffice", hour)})
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("token in cookie: %d", resp.StatusCode)
	}
	ev := h.lastEvent("emp-42")
	if ev.Actor.OrgUnit != "beijing" || len(ev.Actor.Roles) != 1 || ev.Actor.Roles[0] != "supervisor" {
		t.Errorf("actor %+v", ev.Actor)
	}
	if h.upHits.Load() != 2 {
		t.Errorf("upstream saw %d requests, want only the two valid ones", h.upHits.Load())
	}
}

func TestLoginPageWithTOTP(t *testing.T) {
	hash, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	secret := "JBSWY3DPEHPK3PXP"
	h := newHarness(t, appMux(), func(c *Config, d *Deps) {
		c.Identity.Header.TrustedProxies = nil
		c.Identity.Login = config.HTTPLogin{Enabled: true, SessionTTL: "1h", Users: []config.HTTPLoginUser{
			{ID: "emp-7", PasswordHash: hash, TOTPSecret: secret, Roles: []string{"supervisor"}, OrgUnit: "pek"}}}
	})
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login := func(pass, code string) *http.Response {
		resp, err := client.PostForm(h.srv.URL+"/.custos/login", url.Values{"user": {"emp-7"}, "password": {pass}, "totp": {code}, "next": {"/search"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	code, _ := totp.GenerateCode(secret, time.Now())
	if r := login("wrong", code); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", r.StatusCode)
	}
	if r := login("correct horse", "000000"); r.StatusCode != http.StatusUnauthorized && code != "000000" {
		t.Fatalf("wrong code: %d", r.StatusCode)
	}
	r := login("correct horse", code)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/search" {
		t.Fatalf("login: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v", session)
	}
	resp, err := client.Get(h.srv.URL + "/search")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("with session: %d", resp.StatusCode)
	}
	ev := h.lastEvent("emp-7")
	if ev.Source.Session == "" || ev.Actor.OrgUnit != "pek" {
		t.Errorf("event source %+v actor %+v", ev.Source, ev.Actor)
	}
	logins, err := h.store.AccountLogins(context.Background(), "emp-7", custos.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var ok, failed int
	for _, l := range logins {
		if l.Outcome == custos.OutcomeSuccess {
			ok++
		} else {
			failed++
		}
	}
	if ok != 1 || failed < 1 {
		t.Errorf("login events: %d ok, %d failed", ok, failed)
	}
	// A tampered cookie is no session.
	bad := *session
	bad.Value = strings.Replace(session.Value, ".", "x.", 1)
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/search", nil)
	req.AddCookie(&bad)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("tampered cookie: %d", resp.StatusCode)
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := hashWith("s3cret", []byte("0123456789abcdef"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "s3cret") || CheckPassword(h, "s3cret ") || CheckPassword("plain", "plain") {
		t.Fatal("CheckPassword")
	}
}
