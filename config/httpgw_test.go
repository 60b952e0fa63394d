package config

import (
	"strings"
	"testing"
)

func TestHTTPGatewaySection(t *testing.T) {
	const yml = `
http_gateway:
  enabled: true
  listen: 127.0.0.1:0
  rate_limit: {requests_per_second: 5, burst: 10}
  routes:
    - prefix: /
      upstream: http://127.0.0.1:9000
      system: pss
      endpoints:
        - pattern: GET /passengers/{id}
          subjects: [{path: id, type: cn_id}]
  identity:
    header: {trusted_proxies: [10.0.0.0/8]}
    login:
      enabled: true
      users: [{id: emp-1, password_hash: "pbkdf2-sha256$1$AA$AA", roles: [agent]}]
`
	cfg := Default()
	if err := Parse("custos.yaml", []byte(yml), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	g := cfg.HTTPGateway
	if g.Identity.Header.User != "X-Remote-User" || g.MaxBufferBytes != 8<<20 || g.Identity.Login.SessionDuration().Hours() != 8 {
		t.Errorf("defaults not kept: %+v", g.Identity.Header)
	}
	if g.Routes[0].Endpoints[0].Subjects[0].Type != "cn_id" || g.Routes[0].Public {
		t.Errorf("route %+v", g.Routes[0])
	}
}

func TestHTTPGatewayValidate(t *testing.T) {
	ok := func() HTTPGateway {
		g := DefaultHTTPGateway()
		g.Enabled = true
		g.Routes = []HTTPRoute{{Prefix: "/", Upstream: "http://127.0.0.1:9000", System: "pss"}}
		return g
	}
	for _, tc := range []struct {
		name   string
		change func(*HTTPGateway)
		want   string
	}{
		{"no routes", func(g *HTTPGateway) { g.Routes = nil }, "http_gateway.routes"},
		{"bad upstream", func(g *HTTPGateway) { g.Routes[0].Upstream = "ftp://x" }, "routes[0].upstream"},
		{"no system", func(g *HTTPGateway) { g.Routes[0].System = "" }, "routes[0].system"},
		{"duplicate prefix", func(g *HTTPGateway) { g.Routes = append(g.Routes, g.Routes[0]) }, "routes[1].prefix"},
		{"bad pattern", func(g *HTTPGateway) { g.Routes[0].Endpoints = []HTTPEndpoint{{Pattern: "/x"}} }, "pattern"},
		{"missing wildcard", func(g *HTTPGateway) {
			g.Routes[0].Endpoints = []HTTPEndpoint{{Pattern: "GET /p/{id}", Subjects: []HTTPSubjectParam{{Path: "pid", Type: "cn_id"}}}}
		}, "subjects[0].path"},
		{"unknown type", func(g *HTTPGateway) {
			g.Routes[0].Endpoints = []HTTPEndpoint{{Pattern: "GET /p", Subjects: []HTTPSubjectParam{{Query: "q", Type: "shoe_size"}}}}
		}, "subjects[0].type"},
		{"bad cidr", func(g *HTTPGateway) { g.Identity.Header.TrustedProxies = []string{"10.0.0.1"} }, "trusted_proxies[0]"},
		{"oidc without audience", func(g *HTTPGateway) { g.Identity.OIDC.JWKSURL = "https://idp/jwks"; g.Identity.OIDC.Issuer = "x" }, "oidc.audience"},
		{"plain password", func(g *HTTPGateway) {
			g.Identity.Login.Enabled = true
			g.Identity.Login.Users = []HTTPLoginUser{{ID: "a", PasswordHash: "hunter2"}}
		}, "password_hash"},
		{"half tls", func(g *HTTPGateway) { g.TLS.Cert = "c.pem" }, "http_gateway.tls"},
		{"rate without burst", func(g *HTTPGateway) { g.RateLimit.RequestsPerSecond = 1 }, "rate_limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := ok()
			tc.change(&g)
			errs := g.Validate()
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Fatalf("errors %q, want one about %s", all, tc.want)
			}
		})
	}
	if errs := ok().Validate(); len(errs) != 0 {
		t.Fatalf("valid section rejected: %v", errs)
	}
}
