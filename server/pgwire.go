package server

import (
	"context"
	"fmt"
)

// startPostgres runs the PostgreSQL gateway when postgres.enabled is set.
// It decides with the node's shared policy, catalogue and masker, records
// through the node's pipeline, and closes (recording what is in flight)
// when ctx ends.
func (s *Server) startPostgres(ctx context.Context) error {
	if !s.cfg.Postgres.Enabled {
		return nil
	}
	fp, err := s.Fingerprinter()
	if err != nil {
		return fmt.Errorf("server: postgres gateway exports: %w", err)
	}
	addr, err := ServePostgres(ctx, s.cfg.Postgres, s.gatewayDeps(fp), Running{WG: &s.wg, Errc: s.errc})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.postgresAddr = addr
	return nil
}

// PostgresAddr is the PostgreSQL gateway's listening address ("" when it
// is disabled).
func (s *Server) PostgresAddr() string { return s.postgresAddr }
