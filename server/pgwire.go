package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/custos-dev/custos/pgwire"
)

// startPostgres runs the PostgreSQL gateway when postgres.enabled is set.
// It decides with the node's shared policy, catalogue and masker, records
// through the node's pipeline, and closes (recording what is in flight)
// when ctx ends.
func (s *Server) startPostgres(ctx context.Context) error {
	c := s.cfg.Postgres
	if !c.Enabled {
		return nil
	}
	users := make(map[string]pgwire.User, len(c.Users))
	for _, u := range c.Users {
		v, err := pgwire.ParseVerifier(u.Verifier)
		if err != nil {
			return fmt.Errorf("server: postgres.users %s: %w", u.Name, err)
		}
		pu := pgwire.User{Name: u.Name, Verifier: v, Roles: u.Roles, OrgUnit: u.OrgUnit}
		if u.AppKeyFile != "" {
			key, err := os.ReadFile(u.AppKeyFile)
			if err != nil {
				return fmt.Errorf("server: postgres.users %s: app key: %w", u.Name, err)
			}
			pu.AppKey = bytes.TrimSpace(key)
			if len(pu.AppKey) < 16 {
				return fmt.Errorf("server: postgres.users %s: app key shorter than 16 bytes", u.Name)
			}
		}
		users[u.Name] = pu
	}
	creds := make(map[string]pgwire.Credential, len(c.Credentials))
	for _, cr := range c.Credentials {
		creds[cr.Role] = pgwire.Credential{User: cr.User, Password: cr.Password}
	}
	gw := &pgwire.Server{
		System: c.System,
		Upstream: pgwire.Upstream{
			Address:     c.Upstream.Address,
			Database:    c.Upstream.Database,
			SSLMode:     c.Upstream.SSLMode,
			CAFile:      c.Upstream.CA,
			Credentials: creds,
			Meta:        pgwire.Credential{User: c.Upstream.Meta.User, Password: c.Upstream.Meta.Password},
		},
		Users:          users,
		RequireTLS:     c.RequireTLS,
		MaxConnections: c.MaxConnections,
		RecordAll:      c.RecordAll,
		Policy:         s.Policy,
		Catalog:        s.Catalog,
		Masker:         s.Masker,
		Index:          s.Index,
		Events:         s.Pipeline,
		Exports:        s,
		Log:            s.log.With("component", "pgwire"),
	}
	if c.TLS.Cert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.Cert, c.TLS.Key)
		if err != nil {
			return fmt.Errorf("server: postgres tls: %w", err)
		}
		gw.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("server: postgres listen: %w", err)
	}
	s.postgresAddr = ln.Addr().String()
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := gw.Serve(ln); !errors.Is(err, pgwire.ErrServerClosed) {
			select {
			case s.errc <- fmt.Errorf("server: postgres gateway: %w", err):
			default:
			}
		}
	}()
	go func() {
		defer s.wg.Done()
		<-ctx.Done()
		gw.Close()
	}()
	s.log.Info("postgres gateway listening", "addr", s.postgresAddr, "tls", gw.TLS != nil, "upstream", c.Upstream.Address, "system", c.System)
	return nil
}

// PostgresAddr is the PostgreSQL gateway's listening address ("" when it
// is disabled).
func (s *Server) PostgresAddr() string { return s.postgresAddr }
