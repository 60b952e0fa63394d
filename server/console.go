package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/console"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/trace"
)

// startConsole builds the web console when console.enabled and the API is
// on (it is served on the API's listener, see withConsole), and keeps its
// roll-ups current until runCtx ends.
func (s *Server) startConsole(runCtx context.Context) error {
	if !s.cfg.Console.Enabled || !s.cfg.API.Enabled {
		return nil
	}
	ttl, idle := s.cfg.Console.Session()
	opt := console.Options{
		Store:       s.Store,
		Pipeline:    s.Pipeline,
		Index:       s.Index,
		Approvals:   s.Approvals,
		PolicyFile:  s.cfg.Policy.File,
		CatalogFile: s.cfg.Policy.Catalog,
		Secure:      s.cfg.Console.SecureCookies || s.cfg.API.TLS.Cert != "",
		SessionTTL:  ttl,
		IdleTimeout: idle,
		Log:         s.log,
	}
	if s.Ledger != nil {
		opt.Ledger = s.Ledger
	}
	if o := s.cfg.Console.OIDC; o.Issuer != "" {
		secret, err := os.ReadFile(o.ClientSecretFile)
		if err != nil {
			return fmt.Errorf("server: console.oidc.client_secret_file: %w", err)
		}
		roles := map[string]console.Role{}
		for v, r := range o.Roles {
			roles[v] = console.Role(r)
		}
		opt.OIDC = &console.OIDC{
			Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: strings.TrimSpace(string(secret)),
			RedirectURL: o.RedirectURL, Scopes: o.Scopes, UsernameClaim: o.UsernameClaim, RoleClaim: o.RoleClaim, Roles: roles,
		}
	}
	// Leak tracing reads the export registry and the access index in the
	// store; watermark keys derive from the blind-index key, as for
	// 'custos trace'.
	key, err := blind.LoadKey(blind.KeyFile(s.cfg.DataDir))
	if err != nil {
		return fmt.Errorf("server: console: %w", err)
	}
	opt.Trace = &trace.Tracer{Index: s.Index, Source: s.Store, Keyer: export.NewKeyer(key)}
	if s.Ledger != nil {
		l := s.Ledger
		opt.Trace.Proof = func(ctx context.Context, id string) (any, error) { return l.Proof(ctx, id) }
	}
	c, err := console.New(opt)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.console = c.Handler()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.RollUp(runCtx)
	}()
	return nil
}

// withConsole serves the console at / and /console/ beside the API on the
// same listener; the API keeps /api/, /healthz and /metrics.
func (s *Server) withConsole(api http.Handler) http.Handler {
	if s.console == nil {
		return api
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "/" || p == "/console" || strings.HasPrefix(p, "/console/") {
			s.console.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// ConsoleURL is where the console is served ("" when it is off).
func (s *Server) ConsoleURL() string {
	if s.console == nil || s.listener == nil {
		return ""
	}
	return s.URL() + "/console/"
}
