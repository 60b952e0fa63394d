package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDC configures sign-in through an OpenID Connect provider (the
// authorization-code flow with PKCE). Who may sign in, and with which
// role, comes from one claim of the ID token: its values are looked up in
// Roles, and a person none of whose values is there is refused.
type OIDC struct {
	Issuer       string // e.g. https://idp.example.com/realms/staff
	ClientID     string
	ClientSecret string
	// RedirectURL is this console's callback as the provider knows it:
	// https://custos.example.com/console/oidc/callback.
	RedirectURL string
	// Scopes requested besides "openid" (default profile and email).
	Scopes []string
	// UsernameClaim names the user in the console and its audit
	// (default preferred_username); the console shows it as "oidc:NAME".
	UsernameClaim string
	// RoleClaim holds a string or a list of strings (default groups).
	RoleClaim string
	// Roles maps a value of RoleClaim to a console role. A person whose
	// values map to two different roles is refused: one person, one role.
	Roles map[string]Role
	// HTTPClient talks to the provider (nil: a client with a 10 s timeout).
	HTTPClient *http.Client
}

// oidcLogin runs the flow; it discovers the provider at the first sign-in
// (and again after a failed discovery), so that the console starts while
// the provider is down.
type oidcLogin struct {
	cfg    OIDC
	client *http.Client
	now    func() time.Time

	mu       sync.Mutex
	provider *oidc.Provider
}

const (
	oidcCookie     = "custos_oidc"
	oidcCookiePath = "/console/oidc/"
	oidcUserPrefix = "oidc:"
)

func newOIDCLogin(cfg OIDC, now func() time.Time) (*oidcLogin, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, fmt.Errorf("console: oidc: issuer, client id and redirect URL are required")
	}
	if len(cfg.Roles) == 0 {
		return nil, fmt.Errorf("console: oidc: no role mapping: nobody could sign in")
	}
	for v, r := range cfg.Roles {
		if _, err := ParseRole(string(r)); err != nil {
			return nil, fmt.Errorf("console: oidc: roles[%q]: %w", v, err)
		}
	}
	if cfg.UsernameClaim == "" {
		cfg.UsernameClaim = "preferred_username"
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "groups"
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"profile", "email"}
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &oidcLogin{cfg: cfg, client: client, now: now}, nil
}

func (o *oidcLogin) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.client)
}

func (o *oidcLogin) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(o.ctx(ctx), o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("console: oidc: discover %s: %w", o.cfg.Issuer, err)
	}
	o.provider = p
	return p, nil
}

func (o *oidcLogin) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: o.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: append([]string{oidc.ScopeOpenID}, o.cfg.Scopes...),
	}
}

// flow is what the browser carries between the redirect to the provider
// and the callback, in an HttpOnly cookie scoped to /console/oidc/: the
// state (ties the callback to this browser), the nonce (ties the ID token
// to this sign-in) and the PKCE verifier (ties the code to this browser).
type flow struct {
	state, nonce, verifier string
}

func (f flow) String() string { return f.state + "." + f.nonce + "." + f.verifier }

func parseFlow(s string) (flow, bool) {
	p := strings.Split(s, ".")
	if len(p) != 3 || p[0] == "" || p[1] == "" || p[2] == "" {
		return flow{}, false
	}
	return flow{p[0], p[1], p[2]}, true
}

// start returns the provider's authorization URL and the flow to keep.
func (o *oidcLogin) start(ctx context.Context) (string, flow, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return "", flow{}, err
	}
	f := flow{state: randomToken(), nonce: randomToken(), verifier: oauth2.GenerateVerifier()}
	u := o.oauth(p).AuthCodeURL(f.state, oauth2.S256ChallengeOption(f.verifier), oidc.Nonce(f.nonce))
	return u, f, nil
}

// errOIDCRefused is a sign-in the provider vouched for but the console
// does not accept (no mapped role, two roles, no user name).
var errOIDCRefused = errors.New("oidc: refused")

// identity is who a verified ID token names.
type identity struct {
	user string
	role Role
}

// finish checks the callback against the flow, redeems the code with the
// PKCE verifier, verifies the ID token (signature against the provider's
// JWKS, issuer, audience, expiry, then the nonce) and maps its claims to a
// console role.
func (o *oidcLogin) finish(ctx context.Context, f flow, state, code string) (identity, error) {
	if state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(f.state)) != 1 {
		return identity{}, fmt.Errorf("console: oidc: state does not match this browser's sign-in")
	}
	if code == "" {
		return identity{}, fmt.Errorf("console: oidc: callback without a code")
	}
	p, err := o.discover(ctx)
	if err != nil {
		return identity{}, err
	}
	ctx = o.ctx(ctx)
	tok, err := o.oauth(p).Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		return identity{}, fmt.Errorf("console: oidc: redeem code: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return identity{}, fmt.Errorf("console: oidc: token response without an id_token")
	}
	idt, err := p.VerifierContext(ctx, &oidc.Config{ClientID: o.cfg.ClientID, Now: o.now}).Verify(ctx, raw)
	if err != nil {
		return identity{}, fmt.Errorf("console: oidc: id token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.nonce)) != 1 {
		return identity{}, fmt.Errorf("console: oidc: id token nonce does not match this sign-in")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return identity{}, fmt.Errorf("console: oidc: id token claims: %w", err)
	}
	return o.identify(claims)
}

// identify maps an ID token's claims to a console user and role.
func (o *oidcLogin) identify(claims map[string]any) (identity, error) {
	name, _ := claims[o.cfg.UsernameClaim].(string)
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 128 || strings.ContainsAny(name, " \t\r\n") {
		return identity{}, fmt.Errorf("%w: claim %s is missing or not a user name", errOIDCRefused, o.cfg.UsernameClaim)
	}
	var values []string
	switch v := claims[o.cfg.RoleClaim].(type) {
	case string:
		values = []string{v}
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				values = append(values, s)
			}
		}
	}
	var roles []Role
	for _, v := range values {
		if r, ok := o.cfg.Roles[v]; ok && !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	switch len(roles) {
	case 0:
		return identity{}, fmt.Errorf("%w: no value of claim %s maps to a console role", errOIDCRefused, o.cfg.RoleClaim)
	case 1:
		return identity{user: oidcUserPrefix + name, role: roles[0]}, nil
	default:
		// Separation of duties: the provider put this person in groups of
		// two console roles; which one is meant is not ours to guess.
		return identity{}, fmt.Errorf("%w: claim %s maps to %d console roles, one is allowed", errOIDCRefused, o.cfg.RoleClaim, len(roles))
	}
}

// ---- handlers

func (c *Console) oidcStart(w http.ResponseWriter, r *http.Request, v *view) {
	if c.oidc == nil {
		http.NotFound(w, r)
		return
	}
	u, f, err := c.oidc.start(r.Context())
	if err != nil {
		c.log.Warn("console: oidc sign-in", "err", err)
		c.fail(w, r, v, http.StatusBadGateway, "err.oidc")
		return
	}
	// SameSite=Lax, not Strict: the callback is a navigation from the
	// provider's site, and a Strict cookie would not come with it.
	http.SetCookie(w, &http.Cookie{
		Name: oidcCookie, Value: f.String(), Path: oidcCookiePath, MaxAge: 600,
		HttpOnly: true, Secure: c.opt.Secure, SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, u, http.StatusFound)
}

func (c *Console) oidcCallback(w http.ResponseWriter, r *http.Request, v *view) {
	if c.oidc == nil {
		http.NotFound(w, r)
		return
	}
	now := c.opt.Now()
	ip := clientIP(r)
	// The flow cookie is good for one try.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: oidcCookiePath, MaxAge: -1,
		HttpOnly: true, Secure: c.opt.Secure, SameSite: http.SameSiteLaxMode})
	if !c.limit.allowed("ip:"+ip, maxFailsPerIP, now) {
		c.audit(r, v, "login.limited", "oidc", "", false)
		c.fail(w, r, v, http.StatusTooManyRequests, "err.rate_limited")
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		// The provider said no (the person cancelled, or is not allowed
		// this client); its error code is a fixed token, safe to record.
		c.audit(r, v, "login.failed", "oidc", "provider: "+truncate(e, 64), false)
		c.fail(w, r, v, http.StatusUnauthorized, "err.oidc_refused")
		return
	}
	var f flow
	ck, _ := r.Cookie(oidcCookie)
	ok := ck != nil
	if ok {
		f, ok = parseFlow(ck.Value)
	}
	if !ok {
		c.fail(w, r, v, http.StatusBadRequest, "err.oidc_expired")
		return
	}
	id, err := c.oidc.finish(r.Context(), f, q.Get("state"), q.Get("code"))
	if err != nil {
		c.limit.fail("ip:"+ip, now)
		// Errors name claims and checks, never token contents.
		c.log.Warn("console: oidc sign-in refused", "err", err)
		c.audit(r, v, "login.failed", "oidc", err.Error(), false)
		c.fail(w, r, v, http.StatusUnauthorized, "err.oidc_refused")
		return
	}
	tok, _, err := c.sess.create(r.Context(), id.user, id.role, sourceOIDC, now)
	if err != nil {
		c.internal(w, r, v, err)
		return
	}
	c.setCookie(w, sessionCookie, tok, int(c.opt.SessionTTL.Seconds()))
	v.User, v.Role = id.user, id.role
	c.audit(r, v, "login", id.user, "oidc", true)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}
