package httpgw

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/policy"
)

// Config is the gateway's configuration: the http_gateway section of
// custos.yaml (config.HTTPGateway). Start from config.DefaultHTTPGateway.
type Config = config.HTTPGateway

// RiskSource reports an employee's current risk score (0..1) from
// detection; the gateway asks for step-up at or above Config.StepUpRisk.
type RiskSource interface {
	Risk(actor string) float64
}

// Deps are the parts of a Custos node the gateway uses. Pipeline and Index
// are required; the rest may be nil.
type Deps struct {
	// Pipeline makes each request's access event durable before the
	// response is released.
	Pipeline *ingest.Pipeline
	// Index hashes subjects for the policy (need-to-know, quotas).
	Index *blind.Index
	// Policy decides every request; nil masks all personal data found
	// with the partial masks and allows the rest.
	Policy *policy.Engine
	// Catalog says which JSON paths and CSV columns hold what; nil leaves
	// responses to the detectors alone.
	Catalog *catalog.Catalog
	// Masker applies the policy's transforms; nil uses partial masks and
	// no tokens.
	Masker *mask.Masker
	// Risk enables step-up; nil disables it.
	Risk RiskSource
	// Exports fingerprints and registers CSV downloads; nil leaves them
	// unmarked (their access events are still recorded).
	Exports ExportRecorder
	// SessionKey signs login session cookies (at least 32 bytes); nil
	// uses a random key, so sessions end when the process restarts.
	SessionKey []byte
	// Transport reaches the upstreams; nil uses a default transport.
	Transport http.RoundTripper
	Logger    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Gateway is the HTTP reverse-proxy gateway: an http.Handler that
// identifies the employee, decides each request with the policy, forwards
// it to the route's upstream, inspects and masks the response, and
// releases it only once the request's access event is durable.
type Gateway struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	routes []*route // longest prefix first
	auth   *authenticator
	limits *rateLimiter
	proxy  *httputil.ReverseProxy
	pool   sync.Pool // *inspection
}

// route is one configured upstream.
type route struct {
	config.HTTPRoute
	upstream *url.URL
	mux      *http.ServeMux // endpoint patterns
	eps      map[string]*endpoint
}

// endpoint is what the gateway knows about one request pattern.
type endpoint struct {
	pattern  string
	action   custos.Action
	subjects []config.HTTPSubjectParam
	fields   map[string]catalog.Field // catalogue JSON paths and columns
}

// New builds a gateway. It fails on a configuration the gateway cannot
// serve (bad upstream URL, conflicting endpoint patterns).
func New(cfg Config, deps Deps) (*Gateway, error) {
	if deps.Pipeline == nil || deps.Index == nil {
		return nil, errors.New("httpgw: Pipeline and Index are required")
	}
	if errs := cfg.Validate(); len(errs) > 0 && cfg.Enabled {
		return nil, fmt.Errorf("httpgw: %w", errors.Join(errs...))
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Masker == nil {
		deps.Masker = &mask.Masker{}
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if cfg.MaxBufferBytes <= 0 {
		cfg.MaxBufferBytes = config.DefaultHTTPGateway().MaxBufferBytes
	}
	g := &Gateway{cfg: cfg, deps: deps, log: deps.Logger}
	for i, rc := range cfg.Routes {
		r, err := newRoute(rc, deps.Catalog)
		if err != nil {
			return nil, fmt.Errorf("httpgw: routes[%d]: %w", i, err)
		}
		g.routes = append(g.routes, r)
	}
	sort.SliceStable(g.routes, func(a, b int) bool { return len(g.routes[a].Prefix) > len(g.routes[b].Prefix) })
	auth, err := newAuthenticator(cfg.Identity, deps)
	if err != nil {
		return nil, err
	}
	g.auth = auth
	if cfg.RateLimit.RequestsPerSecond > 0 {
		g.limits = newRateLimiter(cfg.RateLimit.RequestsPerSecond, cfg.RateLimit.Burst, deps.Now)
	}
	transport := deps.Transport
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 256
		// The gateway decodes and re-encodes compressed bodies itself.
		t.DisableCompression = true
		transport = t
	}
	g.proxy = &httputil.ReverseProxy{
		Rewrite:        g.rewrite,
		Transport:      transport,
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.proxyError,
		ErrorLog:       slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
		FlushInterval:  -1,
		BufferPool:     &bufferPool{},
	}
	g.pool.New = func() any { return &inspection{hash: deps.Index.Hash} }
	return g, nil
}

func newRoute(rc config.HTTPRoute, cat *catalog.Catalog) (r *route, err error) {
	u, err := url.Parse(rc.Upstream)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("upstream %q is not a URL", rc.Upstream)
	}
	r = &route{HTTPRoute: rc, upstream: u, mux: http.NewServeMux(), eps: map[string]*endpoint{}}
	defer func() {
		// ServeMux panics on conflicting or malformed patterns.
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("endpoint patterns: %v", p)
		}
	}()
	add := func(pattern string) *endpoint {
		if ep, ok := r.eps[pattern]; ok {
			return ep
		}
		ep := &endpoint{pattern: pattern, fields: map[string]catalog.Field{}}
		r.eps[pattern] = ep
		r.mux.HandleFunc(pattern, func(http.ResponseWriter, *http.Request) {})
		return ep
	}
	for _, e := range rc.Endpoints {
		ep := add(e.Pattern)
		ep.action = custos.Action(e.Action)
		ep.subjects = e.Subjects
	}
	if cat != nil {
		for _, res := range cat.File().Resources {
			if res.System != rc.System || res.Route == "" {
				continue
			}
			ep := add(res.Route)
			for name, f := range res.Fields {
				ep.fields[name] = f
				// CSV and XLSX columns are looked up by bare name.
				if col, ok := strings.CutPrefix(name, "$."); ok && !strings.ContainsAny(col, ".[") {
					ep.fields[col] = f
				}
			}
		}
	}
	return r, nil
}

// ServeHTTP identifies, decides, forwards, inspects and records.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, loginPrefix) {
		g.auth.serveLogin(w, r)
		return
	}
	rt := g.match(r.URL.Path)
	if rt == nil {
		http.Error(w, "no route", http.StatusNotFound)
		return
	}
	if rt.Public {
		g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, &exchange{route: rt, public: true})))
		return
	}
	id, ok := g.auth.identify(r)
	if !ok {
		g.auth.challenge(w, r)
		return
	}
	x := g.newExchange(r, rt, id)
	if g.limits != nil && !g.limits.allow(firstOf(x.source.Session, "actor:"+x.actor.ID)) {
		x.deny(policy.Decision{Effect: custos.DecisionDeny, Rules: []string{"rate_limit"}, Reason: "rate limit"})
		g.refuse(w, r, x, http.StatusTooManyRequests, "rate_limited",
			"Too many requests in this session. Slow down and try again shortly.")
		return
	}
	if g.cfg.StepUpRisk > 0 && g.deps.Risk != nil && g.deps.Risk.Risk(x.actor.ID) >= g.cfg.StepUpRisk {
		if !id.recentLogin(g.deps.Now(), g.cfg.StepUpAge()) {
			x.deny(policy.Decision{Effect: custos.DecisionDeny, Rules: []string{"step_up"}, Reason: "step-up required"})
			if id.method == methodSession && wantsHTML(r) {
				if err := g.record(r.Context(), x); err != nil {
					g.fail(w, x, err)
					return
				}
				g.auth.redirectToLogin(w, r, true)
				return
			}
			g.refuse(w, r, x, http.StatusForbidden, "step_up_required",
				"Your recent activity needs confirmation: log in again through the Custos login page, or ask an approver, before continuing.")
			return
		}
	}
	// Decide what the request itself asks for before it reaches the
	// upstream — subjects named in the path or query (need-to-know), the
	// catalogue's types for the endpoint, the action — when it names
	// subjects, exports, writes or upgrades the protocol: those are
	// refused here, before the upstream sees them. A read that names
	// nobody (a search page) is decided on its response, with the
	// subjects it reveals.
	if len(x.reqHashes) > 0 || x.action != custos.ActionRead && x.action != custos.ActionSearch || r.Header.Get("Upgrade") != "" {
		if pre := g.decide(r.Context(), x, false); refused(pre.Effect) {
			x.decision = pre
			g.refuseDecision(w, r, x)
			return
		}
	}
	g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)))
}

func refused(e custos.Decision) bool {
	return e == custos.DecisionDeny || e == custos.DecisionApprovalRequired
}

func (g *Gateway) match(path string) *route {
	for _, rt := range g.routes {
		if strings.HasPrefix(path, rt.Prefix) || path+"/" == rt.Prefix {
			return rt
		}
	}
	return nil
}

// upstreamPath is the path as the upstream sees it.
func (rt *route) upstreamPath(p string) string {
	if !rt.StripPrefix {
		return p
	}
	s := strings.TrimPrefix(p, strings.TrimSuffix(rt.Prefix, "/"))
	if !strings.HasPrefix(s, "/") {
		s = "/" + s
	}
	return s
}

func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	x, _ := pr.In.Context().Value(exchangeKey{}).(*exchange)
	rt := x.route
	pr.Out.URL.Path = rt.upstreamPath(pr.In.URL.Path)
	pr.Out.URL.RawPath = ""
	if pr.In.URL.RawPath != "" {
		pr.Out.URL.RawPath = rt.upstreamPath(pr.In.URL.RawPath)
	}
	pr.SetURL(rt.upstream)
	pr.SetXForwarded()
	// The upstream learns who the employee is from Custos, never from
	// the client: identity headers from outside are dropped.
	h := g.cfg.Identity.Header
	for _, name := range []string{h.User, h.Roles, h.OrgUnit, "X-Custos-Actor", "X-Custos-Roles"} {
		if name != "" {
			pr.Out.Header.Del(name)
		}
	}
	if !x.public {
		// Ask only for encodings the gateway can read back (gzip, deflate);
		// anything else would pass uninspected.
		if ae := pr.In.Header.Get("Accept-Encoding"); strings.Contains(ae, "gzip") {
			pr.Out.Header.Set("Accept-Encoding", "gzip")
		} else {
			pr.Out.Header.Del("Accept-Encoding")
		}
		if isWebSocket(pr.In.Header) {
			// No permessage-deflate: frames must arrive readable.
			pr.Out.Header.Del("Sec-WebSocket-Extensions")
		}
		pr.Out.Header.Set("X-Custos-Actor", x.actor.ID)
		if len(x.actor.Roles) > 0 {
			pr.Out.Header.Set("X-Custos-Roles", strings.Join(x.actor.Roles, ","))
		}
	}
	if x.bearer == "" {
		// A Custos session cookie is the gateway's, not the app's.
		removeCookie(pr.Out, sessionCookie)
	}
}

func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	x, _ := r.Context().Value(exchangeKey{}).(*exchange)
	if errors.Is(err, context.Canceled) {
		if x != nil && !x.public && !x.recorded {
			x.outcome = custos.OutcomeError
			_ = g.record(context.WithoutCancel(r.Context()), x)
		}
		return
	}
	var ru *refusedUpgrade
	if errors.As(err, &ru) {
		writeProblem(w, r, http.StatusForbidden, ru.code, ru.msg)
		return
	}
	var de *durableError
	if errors.As(err, &de) {
		g.log.Error("httpgw: access event not durable; response withheld", "err", de.err, "system", x.route.System)
		writeProblem(w, r, http.StatusServiceUnavailable, "not_recorded",
			"The access could not be recorded, so the response is withheld. Try again.")
		return
	}
	g.log.Warn("httpgw: upstream", "err", err, "route", x.route.Prefix)
	if x != nil && !x.public && !x.recorded {
		x.outcome = custos.OutcomeError
		x.status = http.StatusBadGateway
		if rerr := g.record(context.WithoutCancel(r.Context()), x); rerr != nil {
			g.fail(w, x, rerr)
			return
		}
	}
	writeProblem(w, r, http.StatusBadGateway, "upstream_error", "The application behind Custos did not answer.")
}

// newEventID returns a random event id.
func newEventID() string {
	var b [16]byte
	rand.Read(b[:])
	return "http-" + hex.EncodeToString(b[:])
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

// bufferPool lends the proxy its copy buffers.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }
