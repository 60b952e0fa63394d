package httpgw

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/pquerna/otp/totp"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/config"
)

const (
	loginPrefix   = "/.custos/"
	loginPath     = "/.custos/login"
	logoutPath    = "/.custos/logout"
	sessionCookie = "custos_session"
)

type authMethod uint8

const (
	methodHeader authMethod = iota + 1
	methodBearer
	methodSession
)

// identity is who a request is from, and how the gateway knows.
type identity struct {
	actor    custos.Actor
	method   authMethod
	session  string
	bearer   string
	authTime time.Time
}

// recentLogin reports whether the employee logged in with Custos within
// maxAge: what step-up asks for.
func (id identity) recentLogin(now time.Time, maxAge time.Duration) bool {
	return id.method == methodSession && now.Sub(id.authTime) <= maxAge
}

// authenticator identifies requests: trusted SSO header, bearer JWT,
// session cookie.
type authenticator struct {
	cfg     config.HTTPIdentity
	deps    Deps
	proxies []netip.Prefix
	jwks    *jwksCache
	users   map[string]config.HTTPLoginUser
	key     []byte
	ttl     time.Duration
	secure  bool
}

func newAuthenticator(cfg config.HTTPIdentity, deps Deps) (*authenticator, error) {
	a := &authenticator{cfg: cfg, deps: deps, users: map[string]config.HTTPLoginUser{}, ttl: cfg.Login.SessionDuration()}
	for _, c := range cfg.Header.TrustedProxies {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("httpgw: trusted proxy %q: %w", c, err)
		}
		a.proxies = append(a.proxies, p.Masked())
	}
	if cfg.OIDC.JWKSURL != "" {
		a.jwks = &jwksCache{url: cfg.OIDC.JWKSURL, client: &http.Client{Timeout: 5 * time.Second}, now: deps.Now}
	}
	for _, u := range cfg.Login.Users {
		a.users[u.ID] = u
	}
	if a.ttl <= 0 {
		a.ttl = 8 * time.Hour
	}
	a.key = deps.SessionKey
	if len(a.key) < 32 {
		a.key = make([]byte, 32)
		rand.Read(a.key)
	}
	return a, nil
}

// identify returns the request's identity, if it has a valid one.
func (a *authenticator) identify(r *http.Request) (identity, bool) {
	if len(a.proxies) > 0 && a.cfg.Header.User != "" {
		if user := r.Header.Get(a.cfg.Header.User); user != "" && a.trusted(r) {
			id := identity{method: methodHeader, actor: custos.Actor{ID: user}}
			if a.cfg.Header.Roles != "" {
				id.actor.Roles = splitList(r.Header.Get(a.cfg.Header.Roles))
			}
			if a.cfg.Header.OrgUnit != "" {
				id.actor.OrgUnit = r.Header.Get(a.cfg.Header.OrgUnit)
			}
			return id, true
		}
	}
	if a.jwks != nil {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok && a.cfg.OIDC.Cookie != "" {
			if c, err := r.Cookie(a.cfg.OIDC.Cookie); err == nil && c.Value != "" {
				tok, ok = c.Value, true
			}
		}
		if ok {
			id, err := a.verifyJWT(r.Context(), strings.TrimSpace(tok))
			if err == nil {
				return id, true
			}
			a.deps.Logger.Info("httpgw: bearer token refused", "reason", err.Error())
			return identity{}, false
		}
	}
	if c, err := r.Cookie(sessionCookie); err == nil && a.cfg.Login.Enabled {
		if id, ok := a.verifySession(c.Value); ok {
			return id, true
		}
	}
	return identity{}, false
}

func (a *authenticator) trusted(r *http.Request) bool {
	ip, err := netip.ParseAddr(clientIP(r))
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range a.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// challenge answers a request without identity: browsers go to the login
// page when there is one, API clients get 401.
func (a *authenticator) challenge(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Login.Enabled && wantsHTML(r) {
		a.redirectToLogin(w, r, false)
		return
	}
	if a.jwks != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="custos"`)
	}
	writeProblem(w, r, http.StatusUnauthorized, "unauthenticated", "Log in first: this application is protected by Custos.")
}

func (a *authenticator) redirectToLogin(w http.ResponseWriter, r *http.Request, stepUp bool) {
	q := url.Values{"next": {r.URL.RequestURI()}}
	if stepUp {
		q.Set("step_up", "1")
	}
	http.Redirect(w, r, loginPath+"?"+q.Encode(), http.StatusSeeOther)
}

// --- bearer tokens ---

var jwtAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

func (a *authenticator) verifyJWT(ctx context.Context, raw string) (identity, error) {
	tok, err := jwt.ParseSigned(raw, jwtAlgorithms)
	if err != nil {
		return identity{}, errors.New("malformed token")
	}
	if len(tok.Headers) != 1 {
		return identity{}, errors.New("token must have one signature")
	}
	key, err := a.jwks.key(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return identity{}, err
	}
	var std jwt.Claims
	var extra map[string]any
	if err := tok.Claims(key, &std, &extra); err != nil {
		return identity{}, errors.New("bad signature")
	}
	o := a.cfg.OIDC
	exp := jwt.Expected{Issuer: o.Issuer, AnyAudience: jwt.Audience{o.Audience}, Time: a.deps.Now()}
	if err := std.ValidateWithLeeway(exp, time.Minute); err != nil {
		return identity{}, err
	}
	if std.Expiry == nil {
		return identity{}, errors.New("token without exp")
	}
	actor, _ := extra[o.ActorClaim].(string)
	if actor == "" {
		return identity{}, fmt.Errorf("token without %s claim", o.ActorClaim)
	}
	id := identity{method: methodBearer, bearer: raw, actor: custos.Actor{ID: actor}}
	switch roles := extra[o.RolesClaim].(type) {
	case []any:
		for _, r := range roles {
			if s, ok := r.(string); ok {
				id.actor.Roles = append(id.actor.Roles, s)
			}
		}
	case string:
		id.actor.Roles = splitList(roles)
	}
	id.actor.OrgUnit, _ = extra[o.OrgUnitClaim].(string)
	if sid, ok := extra["sid"].(string); ok {
		id.session = clip(sid, 128)
	} else if std.ID != "" {
		id.session = clip(std.ID, 128)
	}
	return id, nil
}

// jwksCache fetches the identity provider's keys and keeps them; an
// unknown key id triggers a refetch at most every 30 seconds (key
// rotation).
type jwksCache struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	set     jose.JSONWebKeySet
	fetched time.Time
}

const jwksTTL = 10 * time.Minute

func (c *jwksCache) key(ctx context.Context, kid string) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	stale := now.Sub(c.fetched) > jwksTTL
	keys := c.set.Key(kid)
	if len(keys) == 0 && now.Sub(c.fetched) > 30*time.Second || stale {
		if err := c.fetch(ctx); err != nil && len(c.set.Keys) == 0 {
			return nil, err
		}
		c.fetched = now
		keys = c.set.Key(kid)
	}
	if kid == "" && len(keys) == 0 && len(c.set.Keys) == 1 {
		keys = c.set.Keys
	}
	if len(keys) == 0 {
		return nil, errors.New("unknown signing key")
	}
	return keys[0].Key, nil
}

func (c *jwksCache) fetch(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jwks: status %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	c.set = set
	return nil
}

// --- login page and sessions ---

type sessionClaims struct {
	User    string   `json:"u"`
	Roles   []string `json:"r,omitempty"`
	OrgUnit string   `json:"o,omitempty"`
	Session string   `json:"s"`
	Auth    int64    `json:"a"`
	Expires int64    `json:"e"`
}

func (a *authenticator) sign(c sessionClaims) string {
	b, _ := json.Marshal(c)
	p := base64.RawURLEncoding.EncodeToString(b)
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(p))
	return p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (a *authenticator) verifySession(v string) (identity, bool) {
	p, sig, ok := strings.Cut(v, ".")
	if !ok {
		return identity{}, false
	}
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(p))
	want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		return identity{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return identity{}, false
	}
	var c sessionClaims
	if json.Unmarshal(b, &c) != nil || a.deps.Now().Unix() > c.Expires {
		return identity{}, false
	}
	if _, ok := a.users[c.User]; !ok {
		return identity{}, false // removed from the configuration
	}
	return identity{method: methodSession, session: c.Session, authTime: time.Unix(c.Auth, 0),
		actor: custos.Actor{ID: c.User, Roles: c.Roles, OrgUnit: c.OrgUnit}}, true
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Custos login</title></head>
<body style="font-family:sans-serif;max-width:24em;margin:4em auto">
<h1>Log in</h1>
{{if .StepUp}}<p>Your recent activity needs you to confirm who you are.</p>{{end}}
{{if .Error}}<p style="color:#a00">{{.Error}}</p>{{end}}
<form method="post" action="/.custos/login">
<input type="hidden" name="next" value="{{.Next}}">
<p><label>User <input name="user" autocomplete="username" required></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><label>One-time code <input name="totp" inputmode="numeric" autocomplete="one-time-code"></label></p>
<p><button type="submit">Log in</button></p>
</form></body></html>`))

func (a *authenticator) serveLogin(w http.ResponseWriter, r *http.Request) {
	if !a.cfg.Login.Enabled {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case r.URL.Path == loginPath && r.Method == http.MethodGet:
		a.renderLogin(w, r.URL.Query().Get("next"), r.URL.Query().Get("step_up") == "1", "", http.StatusOK)
	case r.URL.Path == loginPath && r.Method == http.MethodPost:
		a.login(w, r)
	case r.URL.Path == logoutPath && r.Method == http.MethodPost:
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, loginPath, http.StatusSeeOther)
	default:
		http.NotFound(w, r)
	}
}

func (a *authenticator) renderLogin(w http.ResponseWriter, next string, stepUp bool, msg string, status int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	loginPage.Execute(w, map[string]any{"Next": safeNext(next), "StepUp": stepUp, "Error": msg})
}

// safeNext keeps redirects on this host.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (a *authenticator) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		a.renderLogin(w, "/", false, "Bad form.", http.StatusBadRequest)
		return
	}
	user, pass, code, next := r.PostFormValue("user"), r.PostFormValue("password"), r.PostFormValue("totp"), r.PostFormValue("next")
	u, known := a.users[user]
	reason := ""
	switch {
	case !known:
		reason = "unknown_user"
		CheckPassword("pbkdf2-sha256$600000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", pass) // same work as a known user
	case !CheckPassword(u.PasswordHash, pass):
		reason = "bad_password"
	case u.TOTPSecret != "" && !totp.Validate(strings.TrimSpace(code), u.TOTPSecret):
		reason = "bad_totp"
	}
	now := a.deps.Now()
	ev := custos.LoginEvent{
		ID: newEventID(), Time: now, Account: clip(user, 128),
		Source:                custos.Source{IP: clientIP(r), UserAgent: clip(r.UserAgent(), 512)},
		System:                "custos-http-gateway",
		Method:                "password+totp",
		Outcome:               custos.OutcomeSuccess,
		Reason:                reason,
		CredentialFingerprint: sha1Hex(pass),
	}
	if u.TOTPSecret == "" {
		ev.Method = "password"
	}
	if reason != "" {
		ev.Outcome = custos.OutcomeFailure
	}
	if ev.Account == "" {
		ev.Account = "-"
	}
	if _, err := a.deps.Pipeline.Logins(r.Context(), []custos.LoginEvent{ev}); err != nil {
		a.deps.Logger.Error("httpgw: login event not durable", "err", err)
		a.renderLogin(w, next, false, "Login is unavailable right now; try again.", http.StatusServiceUnavailable)
		return
	}
	if reason != "" {
		a.renderLogin(w, next, false, "Wrong user, password or code.", http.StatusUnauthorized)
		return
	}
	var sid [16]byte
	rand.Read(sid[:])
	c := sessionClaims{User: u.ID, Roles: u.Roles, OrgUnit: u.OrgUnit, Session: hex.EncodeToString(sid[:]),
		Auth: now.Unix(), Expires: now.Add(a.ttl).Unix()}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: a.sign(c), Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode, Expires: now.Add(a.ttl)})
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func sha1Hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// removeCookie drops one cookie from an outgoing request.
func removeCookie(r *http.Request, name string) {
	cs := r.Cookies()
	r.Header.Del("Cookie")
	for _, c := range cs {
		if c.Name != name {
			r.AddCookie(c)
		}
	}
}

// --- password hashes ---

const pbkdf2Iterations = 600_000

// HashPassword returns a pbkdf2-sha256 hash of password for
// http_gateway.identity.login.users[].password_hash.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	return hashWith(password, salt, pbkdf2Iterations)
}

func hashWith(password string, salt []byte, iter int) (string, error) {
	dk, err := pbkdf2.Key(sha256.New, password, salt, iter, 32)
	if err != nil {
		return "", fmt.Errorf("httpgw: hash password: %w", err)
	}
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", iter, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(dk)), nil
}

// CheckPassword reports whether password matches a HashPassword hash.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 10_000_000 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	dk, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(dk, want) == 1
}
