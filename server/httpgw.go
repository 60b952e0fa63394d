package server

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/custos-dev/custos/export"
)

// sessionKeyFile signs the HTTP gateway's login session cookies, so that
// sessions survive a restart.
func sessionKeyFile(dataDir string) string {
	return filepath.Join(dataDir, "keys", "httpgw-session.key")
}

// startHTTPGateway listens for the HTTP gateway when it is enabled; it
// shuts down, waiting for requests in flight, when ctx ends (Close).
func (s *Server) startHTTPGateway(ctx context.Context) error {
	if !s.cfg.HTTPGateway.Enabled {
		return nil
	}
	fp, err := s.Fingerprinter()
	if err != nil {
		return fmt.Errorf("server: http gateway exports: %w", err)
	}
	h, err := ServeHTTPGateway(ctx, s.cfg.HTTPGateway, s.gatewayDeps(fp), Running{WG: &s.wg, Errc: s.errc})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.httpGateway = h
	return nil
}

// gatewayDeps is what this node's gateways share; fp fingerprints their
// exports.
func (s *Server) gatewayDeps(fp *export.Fingerprinter) GatewayDeps {
	return GatewayDeps{
		DataDir:   s.cfg.DataDir,
		Pipeline:  s.Pipeline,
		Index:     s.Index,
		Decisions: &Decisions{Policy: s.Policy, Catalog: s.Catalog, Masker: s.Masker},
		Risk:      s.responses,
		Exports:   exportRecorder{s: s, fp: fp},
		Log:       s.log,
	}
}

// HTTPGatewayURL is the HTTP gateway's base URL ("" when it is disabled).
func (s *Server) HTTPGatewayURL() string {
	if s.httpGateway == nil {
		return ""
	}
	return s.httpGateway.URL()
}

// exportRecorder gives the HTTP gateway the node's fingerprinting and
// export registry.
type exportRecorder struct {
	s  *Server
	fp *export.Fingerprinter
}

func (e exportRecorder) Fingerprint(ex *export.Export, t *export.Table) error {
	return e.fp.Apply(ex, t)
}

func (e exportRecorder) RegisterExport(ctx context.Context, ex export.Export) error {
	return e.s.RegisterExport(ctx, ex)
}
