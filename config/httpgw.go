package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/custos-dev/custos"
)

// HTTPGateway configures the HTTP reverse-proxy gateway (docs/httpgw.md):
// who the employee is, which upstream each path goes to, what each response
// reveals and how much of it one employee may see.
type HTTPGateway struct {
	Enabled bool   `yaml:"enabled"`
	Listen  string `yaml:"listen"` // host:port
	// TLS terminates HTTPS (HTTP/2 is offered through ALPN); both empty
	// means plain HTTP/1.1.
	TLS TLS `yaml:"tls"`
	// Routes map path prefixes to upstream applications; the longest
	// matching prefix wins.
	Routes   []HTTPRoute  `yaml:"routes"`
	Identity HTTPIdentity `yaml:"identity"`
	// MaxBufferBytes is the largest response inspected whole (so that
	// quotas can count every subject before anything is released);
	// larger JSON, HTML and text responses are rewritten as they stream,
	// larger CSV as text, and larger XLSX files are refused on protected
	// routes.
	MaxBufferBytes int64 `yaml:"max_buffer_bytes"`
	// RateLimit is the per-session token bucket; 0 requests per second
	// disables it.
	RateLimit HTTPRateLimit `yaml:"rate_limit"`
	// StepUpRisk is the risk score (0..1) from detection at or above which
	// an employee must log in again (Custos login) or is refused with a
	// step-up notice (SSO and bearer identities); 0 disables step-up.
	StepUpRisk float64 `yaml:"step_up_risk"`
	// StepUpMaxAge is how recent a login must be to satisfy step-up.
	StepUpMaxAge string `yaml:"step_up_max_age"`
}

// HTTPRoute sends requests under Prefix to Upstream.
type HTTPRoute struct {
	Prefix   string `yaml:"prefix"`   // "/" or "/pss/"
	Upstream string `yaml:"upstream"` // http://127.0.0.1:9000
	System   string `yaml:"system"`   // resource.system in events, policy and catalogue
	// Public routes pass without identity and without inspection (login
	// assets, health checks). Routes are protected unless they say so.
	Public bool `yaml:"public"`
	// StripPrefix removes Prefix before forwarding.
	StripPrefix bool `yaml:"strip_prefix"`
	// Endpoints name the requests of this route that the gateway knows
	// more about: their action and the subjects their path or query names.
	Endpoints []HTTPEndpoint `yaml:"endpoints"`
}

// HTTPEndpoint describes one request pattern of a route.
type HTTPEndpoint struct {
	// Pattern is "METHOD /path/{param}" (net/http ServeMux syntax), the
	// same string as the catalogue's route.
	Pattern string `yaml:"pattern"`
	// Action is read, search or export (default: read for GET and HEAD,
	// update for PUT and PATCH, create for POST, delete for DELETE).
	Action string `yaml:"action"`
	// Subjects are the data subjects the request names, decided with the
	// policy (has_relationship) before the request reaches the upstream.
	Subjects []HTTPSubjectParam `yaml:"subjects"`
}

// HTTPSubjectParam maps a path wildcard or query parameter to a subject
// type: {path: id, type: cn_id} or {query: idno, type: cn_id}.
type HTTPSubjectParam struct {
	Path  string `yaml:"path"`
	Query string `yaml:"query"`
	Type  string `yaml:"type"`
}

// HTTPRateLimit is a token bucket per session.
type HTTPRateLimit struct {
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	Burst             int     `yaml:"burst"`
}

// HTTPIdentity says how the gateway learns who the employee is. The first
// method that yields an identity wins: trusted header, bearer token,
// session cookie.
type HTTPIdentity struct {
	Header HTTPHeaderIdentity `yaml:"header"`
	OIDC   HTTPOIDC           `yaml:"oidc"`
	Login  HTTPLogin          `yaml:"login"`
}

// HTTPHeaderIdentity accepts the user set by an SSO proxy in front of
// Custos, only from the proxies' addresses.
type HTTPHeaderIdentity struct {
	TrustedProxies []string `yaml:"trusted_proxies"` // CIDRs; empty disables the header
	User           string   `yaml:"user"`            // default X-Remote-User
	Roles          string   `yaml:"roles"`           // default X-Remote-Roles (comma-separated)
	OrgUnit        string   `yaml:"org_unit"`        // default X-Remote-Org
}

// HTTPOIDC verifies bearer JWTs with the identity provider's keys.
type HTTPOIDC struct {
	JWKSURL  string `yaml:"jwks_url"` // empty disables bearer tokens
	Issuer   string `yaml:"issuer"`
	Audience string `yaml:"audience"`
	// Claims naming the actor, roles and org unit (defaults sub, roles,
	// org_unit).
	ActorClaim   string `yaml:"actor_claim"`
	RolesClaim   string `yaml:"roles_claim"`
	OrgUnitClaim string `yaml:"org_unit_claim"`
	// Cookie, if set, names a cookie the identity provider's own login
	// sets with the same JWT (for browser apps without bearer headers).
	Cookie string `yaml:"cookie"`
}

// HTTPLogin is Custos's own login page (password and TOTP) for apps
// without SSO.
type HTTPLogin struct {
	Enabled bool `yaml:"enabled"`
	// SessionTTL is how long a session cookie is valid (default 8h).
	SessionTTL string          `yaml:"session_ttl"`
	Users      []HTTPLoginUser `yaml:"users"`
}

// HTTPLoginUser is one employee of the login page. PasswordHash is
// "pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>" (`custos` prints one
// with httpgw.HashPassword); TOTPSecret is base32, empty for password only.
type HTTPLoginUser struct {
	ID           string   `yaml:"id"`
	PasswordHash string   `yaml:"password_hash"`
	TOTPSecret   string   `yaml:"totp_secret"`
	Roles        []string `yaml:"roles"`
	OrgUnit      string   `yaml:"org_unit"`
}

// DefaultHTTPGateway is the gateway section's defaults (disabled).
func DefaultHTTPGateway() HTTPGateway {
	return HTTPGateway{
		Listen:         "127.0.0.1:8880",
		MaxBufferBytes: 8 << 20,
		StepUpMaxAge:   "5m",
		Identity: HTTPIdentity{
			Header: HTTPHeaderIdentity{User: "X-Remote-User", Roles: "X-Remote-Roles", OrgUnit: "X-Remote-Org"},
			OIDC:   HTTPOIDC{ActorClaim: "sub", RolesClaim: "roles", OrgUnitClaim: "org_unit"},
			Login:  HTTPLogin{SessionTTL: "8h"},
		},
	}
}

// SessionDuration returns Login.SessionTTL (valid after Validate).
func (l HTTPLogin) SessionDuration() time.Duration {
	d, _ := time.ParseDuration(l.SessionTTL)
	return d
}

// StepUpAge returns StepUpMaxAge (valid after Validate).
func (g HTTPGateway) StepUpAge() time.Duration {
	d, _ := time.ParseDuration(g.StepUpMaxAge)
	return d
}

// Validate names every bad field of the section (prefix http_gateway).
func (g HTTPGateway) Validate() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("http_gateway.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if !g.Enabled {
		return nil
	}
	if _, _, err := net.SplitHostPort(g.Listen); err != nil {
		bad("listen", "must be host:port (e.g. 127.0.0.1:8880)")
	}
	if (g.TLS.Cert == "") != (g.TLS.Key == "") {
		bad("tls", "cert and key must both be set or both be empty")
	}
	if len(g.Routes) == 0 {
		bad("routes", "at least one route is required")
	}
	if g.MaxBufferBytes < 1024 {
		bad("max_buffer_bytes", "must be at least 1024")
	}
	if g.RateLimit.RequestsPerSecond < 0 || (g.RateLimit.RequestsPerSecond > 0 && g.RateLimit.Burst < 1) {
		bad("rate_limit", "requests_per_second must be positive with a burst of at least 1, or 0 to disable")
	}
	if g.StepUpRisk < 0 || g.StepUpRisk > 1 {
		bad("step_up_risk", "must be between 0 and 1")
	}
	if d, err := time.ParseDuration(g.StepUpMaxAge); err != nil || d <= 0 {
		bad("step_up_max_age", "must be a positive duration (e.g. 5m)")
	}
	seen := map[string]bool{}
	for i, r := range g.Routes {
		f := fmt.Sprintf("routes[%d]", i)
		if !strings.HasPrefix(r.Prefix, "/") {
			bad(f+".prefix", "must start with /")
		}
		if seen[r.Prefix] {
			bad(f+".prefix", "%q is used by an earlier route", r.Prefix)
		}
		seen[r.Prefix] = true
		if u, err := url.Parse(r.Upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(f+".upstream", "must be an http:// or https:// URL")
		}
		if r.System == "" {
			bad(f+".system", "required")
		}
		for j, e := range r.Endpoints {
			ef := fmt.Sprintf("%s.endpoints[%d]", f, j)
			method, path, ok := strings.Cut(e.Pattern, " ")
			if !ok || method == "" || !strings.HasPrefix(path, "/") {
				bad(ef+".pattern", "must be \"METHOD /path/{param}\"")
			}
			switch custos.Action(e.Action) {
			case "", custos.ActionRead, custos.ActionSearch, custos.ActionExport, custos.ActionUpdate, custos.ActionDelete, custos.ActionCreate:
			default:
				bad(ef+".action", "must be read, search, export, update, delete or create")
			}
			for k, s := range e.Subjects {
				sf := fmt.Sprintf("%s.subjects[%d]", ef, k)
				if (s.Path == "") == (s.Query == "") {
					bad(sf, "exactly one of path and query is required")
				}
				if s.Path != "" && !strings.Contains(path, "{"+s.Path+"}") && !strings.Contains(path, "{"+s.Path+"...}") {
					bad(sf+".path", "pattern has no {%s}", s.Path)
				}
				if !custos.KnownType(s.Type) {
					bad(sf+".type", "unknown data type %q", s.Type)
				}
			}
		}
	}
	for i, c := range g.Identity.Header.TrustedProxies {
		if _, err := netip.ParsePrefix(c); err != nil {
			bad(fmt.Sprintf("identity.header.trusted_proxies[%d]", i), "must be a CIDR (e.g. 10.0.0.0/8)")
		}
	}
	if len(g.Identity.Header.TrustedProxies) > 0 && g.Identity.Header.User == "" {
		bad("identity.header.user", "required with trusted_proxies")
	}
	if o := g.Identity.OIDC; o.JWKSURL != "" {
		if u, err := url.Parse(o.JWKSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			bad("identity.oidc.jwks_url", "must be an http(s) URL")
		}
		if o.Issuer == "" {
			bad("identity.oidc.issuer", "required with jwks_url")
		}
		if o.Audience == "" {
			bad("identity.oidc.audience", "required with jwks_url")
		}
		if o.ActorClaim == "" {
			bad("identity.oidc.actor_claim", "required")
		}
	}
	if l := g.Identity.Login; l.Enabled {
		if d, err := time.ParseDuration(l.SessionTTL); err != nil || d < time.Minute {
			bad("identity.login.session_ttl", "must be a duration of at least 1m")
		}
		ids := map[string]bool{}
		for i, u := range l.Users {
			f := fmt.Sprintf("identity.login.users[%d]", i)
			if u.ID == "" || ids[u.ID] {
				bad(f+".id", "required and unique")
			}
			ids[u.ID] = true
			if !strings.HasPrefix(u.PasswordHash, "pbkdf2-sha256$") {
				bad(f+".password_hash", "must be a pbkdf2-sha256$… hash (never a plain password)")
			}
		}
	}
	return errs
}
