package console

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/approval"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/ledger"
	"github.com/custos-dev/custos/store/sqlite"
	"github.com/custos-dev/custos/trace"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Ledger is what the console reads from the tamper-evident log.
type Ledger interface {
	Size(ctx context.Context) (uint64, error)
	Checkpoint(ctx context.Context) ([]byte, error)
	Proofs(ctx context.Context, ids []string) (map[string]ledger.Proof, error)
}

// Options are what the console is built from. Store, Pipeline and Index
// are required; the others switch pages on.
type Options struct {
	Store     *sqlite.Store
	Pipeline  *ingest.Pipeline // records investigators' searches as access events
	Index     *blind.Index     // hashes searched identifiers
	Ledger    Ledger           // nil: ledger off
	Approvals *approval.Service
	Trace     *trace.Tracer // nil: no leak-tracing page

	// PolicyFile and CatalogFile are shown read-only ("" = built-in defaults).
	PolicyFile, CatalogFile string

	// OIDC, when set, offers sign-in through an OpenID Connect provider
	// beside local accounts.
	OIDC *OIDC

	// Secure marks cookies Secure (the listener is TLS, or a TLS proxy is in front).
	Secure bool
	// SessionTTL and IdleTimeout bound sessions (defaults 8h and 30m).
	SessionTTL, IdleTimeout time.Duration

	Log *slog.Logger
	Now func() time.Time // nil: time.Now
}

// Console serves the console's pages. Build it with New.
type Console struct {
	opt   Options
	store *sqlite.Store
	log   *slog.Logger
	sess  *sessions
	limit *limiter
	codes *usedCodes
	oidc  *oidcLogin // nil: local accounts only
	pages map[string]*template.Template

	dummyOnce sync.Once
	dummyHash string // checked for unknown users, so they take as long as known ones
}

// New checks opt and parses the templates.
func New(opt Options) (*Console, error) {
	if opt.Store == nil || opt.Pipeline == nil || opt.Index == nil {
		return nil, fmt.Errorf("console: Store, Pipeline and Index are required")
	}
	if opt.SessionTTL <= 0 {
		opt.SessionTTL = 8 * time.Hour
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = 30 * time.Minute
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	var ol *oidcLogin
	if opt.OIDC != nil {
		if ol, err = newOIDCLogin(*opt.OIDC, opt.Now); err != nil {
			return nil, err
		}
	}
	return &Console{
		oidc:  ol,
		opt:   opt,
		store: opt.Store,
		log:   opt.Log,
		sess:  newSessions(opt.Store, opt.SessionTTL, opt.IdleTimeout),
		limit: newLimiter(failWindow),
		codes: &usedCodes{m: map[string]usedCode{}},
		pages: pages,
	}, nil
}

func parseTemplates() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// RollUp keeps the overview's and timelines' roll-ups current until ctx
// ends: it counts new events every few seconds, in slices small enough
// not to hold up ingest.
func (c *Console) RollUp(ctx context.Context) {
	for {
		n, err := c.store.RollUpConsole(ctx, 20000)
		if err != nil && ctx.Err() == nil {
			c.log.Warn("console roll-up", "err", err)
		}
		wait := 2 * time.Second
		if n > 0 && err == nil {
			wait = 10 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// route is one console endpoint and the permission it needs ("" with
// public true: no login; "" otherwise: any logged-in user).
type route struct {
	method, pattern string
	perm            Permission
	public          bool
	maxBody         int64 // POST body limit; 0 means maxForm
	h               func(c *Console, w http.ResponseWriter, r *http.Request, v *view)
}

func routes() []route {
	return []route{
		{method: "GET", pattern: "/console/login", public: true, h: (*Console).loginPage},
		{method: "POST", pattern: "/console/login", public: true, h: (*Console).login},
		{method: "GET", pattern: "/console/lang", public: true, h: (*Console).setLang},
		{method: "GET", pattern: "/console/oidc/login", public: true, h: (*Console).oidcStart},
		{method: "GET", pattern: "/console/oidc/callback", public: true, h: (*Console).oidcCallback},
		{method: "POST", pattern: "/console/logout", h: (*Console).logout},
		{method: "GET", pattern: "/console/{$}", perm: PermOverview, h: (*Console).overview},
		{method: "GET", pattern: "/console/alerts", perm: PermAlerts, h: (*Console).alerts},
		{method: "GET", pattern: "/console/alerts/{id}", perm: PermAlerts, h: (*Console).alert},
		{method: "POST", pattern: "/console/alerts/{id}/status", perm: PermTriage, h: (*Console).alertStatus},
		{method: "GET", pattern: "/console/actors/{id}", perm: PermActors, h: (*Console).actor},
		{method: "POST", pattern: "/console/actors/{id}/suspend", perm: PermTriage, h: (*Console).suspend},
		{method: "POST", pattern: "/console/actors/{id}/unsuspend", perm: PermTriage, h: (*Console).unsuspend},
		{method: "GET", pattern: "/console/subjects", perm: PermSubjects, h: (*Console).subjectsPage},
		{method: "POST", pattern: "/console/subjects", perm: PermSubjects, h: (*Console).subjectSearch},
		{method: "GET", pattern: "/console/approvals", perm: PermApprovals, h: (*Console).approvals},
		{method: "POST", pattern: "/console/approvals/{id}/{verb}", perm: PermApprovals, h: (*Console).approvalAction},
		{method: "GET", pattern: "/console/trace", perm: PermTrace, h: (*Console).tracePage},
		{method: "POST", pattern: "/console/trace", perm: PermTrace, maxBody: maxUpload, h: (*Console).traceUpload},
		{method: "GET", pattern: "/console/policy", perm: PermPolicy, h: (*Console).policy},
		{method: "GET", pattern: "/console/audit", perm: PermAudit, h: (*Console).auditPage},
		{method: "GET", pattern: "/console/users", perm: PermUsers, h: (*Console).users},
	}
}

// Handler serves the console under /console/ (and redirects / to it).
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFiles, "static")
	fileServer := http.StripPrefix("/console/static/", http.FileServerFS(static))
	mux.Handle("GET /console/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	})
	for _, rt := range routes() {
		mux.Handle(rt.method+" "+rt.pattern, c.wrap(rt))
	}
	return securityHeaders(mux)
}

// securityHeaders sets a strict CSP (scripts and styles from our own
// origin only, no inline code) and the usual hardening headers.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/console/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

const (
	sessionCookie = "custos_session"
	loginCookie   = "custos_login"
	langCookie    = "custos_lang"
	maxForm       = 1 << 20
	maxUpload     = 32 << 20 // a leaked file
)

// wrap authenticates, authorizes and checks CSRF before a handler runs.
func (c *Console) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := &view{L: c.lang(r), Path: r.URL.Path}
		if r.Method == http.MethodPost {
			limit := rt.maxBody
			if limit == 0 {
				limit = maxForm
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		if !rt.public {
			ck, _ := r.Cookie(sessionCookie)
			var tok string
			if ck != nil {
				tok = ck.Value
			}
			ss, ok, err := c.sess.get(r.Context(), tok, c.opt.Now())
			if err != nil {
				c.internal(w, r, v, err)
				return
			}
			if ok && !c.stillValid(r.Context(), ss) {
				// Disabled, removed or given another role since signing
				// in (the store also ends sessions on those changes).
				if err := c.sess.delete(r.Context(), tok); err != nil {
					c.internal(w, r, v, err)
					return
				}
				ok = false
			}
			if !ok {
				if r.Method == http.MethodGet {
					http.Redirect(w, r, "/console/login", http.StatusSeeOther)
					return
				}
				c.fail(w, r, v, http.StatusForbidden, "err.login_required")
				return
			}
			v.User, v.Role, v.CSRF = ss.user, ss.role, ss.csrf
			v.Nav = c.nav(ss.role)
			if rt.perm != "" && !Allowed(ss.role, rt.perm) {
				c.audit(r, v, "denied", r.Method+" "+r.URL.Path, "", false)
				c.fail(w, r, v, http.StatusForbidden, "err.forbidden")
				return
			}
			if r.Method == http.MethodPost {
				got := r.PostFormValue("csrf")
				if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(ss.csrf)) != 1 {
					c.fail(w, r, v, http.StatusForbidden, "err.csrf")
					return
				}
			}
		}
		rt.h(c, w, r, v)
	})
}

// stillValid reports whether a local session's user still exists, is
// enabled and has the role the session was made with (one indexed read).
// A single-sign-on session's role came from the provider at sign-in and
// lasts until the session ends.
func (c *Console) stillValid(ctx context.Context, ss session) bool {
	if ss.source == sourceOIDC {
		return true
	}
	u, err := c.store.ConsoleUser(ctx, ss.user)
	return err == nil && !u.Disabled && Role(u.Role) == ss.role
}

// view is what every template gets.
type view struct {
	L     string // language: en or zh-CN
	User  string
	Role  Role
	CSRF  string
	Path  string
	Title string // message key
	Nav   []navItem
	Flash string // message key
	Error string // message key
	D     any    // the page's data
}

type navItem struct {
	Href, Key string
}

func (c *Console) nav(role Role) []navItem {
	all := []struct {
		perm Permission
		item navItem
	}{
		{PermOverview, navItem{"/console/", "nav.overview"}},
		{PermAlerts, navItem{"/console/alerts", "nav.alerts"}},
		{PermSubjects, navItem{"/console/subjects", "nav.subjects"}},
		{PermApprovals, navItem{"/console/approvals", "nav.approvals"}},
		{PermTrace, navItem{"/console/trace", "nav.trace"}},
		{PermPolicy, navItem{"/console/policy", "nav.policy"}},
		{PermAudit, navItem{"/console/audit", "nav.audit"}},
		{PermUsers, navItem{"/console/users", "nav.users"}},
	}
	var out []navItem
	for _, a := range all {
		if Allowed(role, a.perm) {
			out = append(out, a.item)
		}
	}
	return out
}

// render writes a page; template errors become a 500 without partial
// output.
func (c *Console) render(w http.ResponseWriter, status int, page string, v *view) {
	t, ok := c.pages[page]
	if !ok {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		c.log.Error("console: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail renders an error page with a translated message.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *view, status int, key string) {
	v.Title = "title.error"
	v.Error = key
	c.render(w, status, "error", v)
}

// internal logs err (which never carries personal data) and answers 500.
func (c *Console) internal(w http.ResponseWriter, r *http.Request, v *view, err error) {
	c.log.Error("console", "path", routePath(r), "err", err)
	c.fail(w, r, v, http.StatusInternalServerError, "err.internal")
}

// routePath is the request's route pattern, not its path: paths can carry
// actor ids, and logs name routes.
func routePath(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.Method
}

// audit records a console action durably; a failure is logged (the action
// itself already happened or was refused).
func (c *Console) audit(r *http.Request, v *view, action, target, detail string, ok bool) {
	err := c.store.AppendConsoleAudit(r.Context(), sqlite.ConsoleAuditEntry{
		Time: c.opt.Now(), User: v.User, Role: string(v.Role), Action: action,
		Target: target, Detail: detail, IP: clientIP(r), OK: ok,
	})
	if err != nil {
		c.log.Error("console: audit", "action", action, "err", err)
	}
	// Actions of signed-in users also go to the ledger's audit stream.
	// Failed sign-ins stay out of the permanent log: what was typed as a
	// user name is sometimes a password.
	if v.User == "" || action == "login.failed" || action == "login.limited" {
		return
	}
	detailMap := map[string]string{"role": string(v.Role), "ip": clientIP(r), "ok": fmt.Sprint(ok)}
	if detail != "" {
		detailMap["detail"] = detail
	}
	ev := custos.AuditEvent{ID: "console-" + randomToken()[:22], Time: c.opt.Now().UTC(), Actor: v.User,
		Action: "console." + action, Object: target, Detail: detailMap}
	if err := c.store.AppendAudit(context.WithoutCancel(r.Context()), []custos.AuditEvent{ev}); err != nil {
		c.log.Error("console: ledger audit", "action", action, "err", err)
	}
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/console/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.opt.Secure, SameSite: http.SameSiteStrictMode,
	})
}
