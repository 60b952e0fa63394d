package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/httpgw"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/pgwire"
)

// GatewayDeps is what the inline gateways (PostgreSQL and HTTP) of a node
// share. The embedded server fills it from its own store; a cluster
// gateway node (package cluster) from the bus and PostgreSQL.
type GatewayDeps struct {
	DataDir  string           // holds the session key of the HTTP gateway
	Pipeline *ingest.Pipeline // makes every event durable before the answer
	Index    *blind.Index
	*Decisions
	// Risk enables the HTTP gateway's step-up; nil disables it.
	Risk httpgw.RiskSource
	// Exports fingerprints and registers exports; nil records them as
	// accesses only.
	Exports Exports
	Log     *slog.Logger
}

// Exports is the export registry as the gateways use it: fingerprint a
// table before it leaves, then register it.
type Exports interface {
	Fingerprint(*export.Export, *export.Table) error
	RegisterExport(context.Context, export.Export) error
}

// Running tracks the goroutines of a node's gateways and reports the
// first one that fails.
type Running struct {
	WG   *sync.WaitGroup
	Errc chan<- error
}

func (r Running) fail(err error) {
	select {
	case r.Errc <- err:
	default:
	}
}

// ServePostgres runs the PostgreSQL gateway of c (which must be enabled)
// until ctx ends, and returns its listening address.
func ServePostgres(ctx context.Context, c config.Postgres, d GatewayDeps, run Running) (string, error) {
	users := make(map[string]pgwire.User, len(c.Users))
	for _, u := range c.Users {
		v, err := pgwire.ParseVerifier(u.Verifier)
		if err != nil {
			return "", fmt.Errorf("postgres.users %s: %w", u.Name, err)
		}
		pu := pgwire.User{Name: u.Name, Verifier: v, Roles: u.Roles, OrgUnit: u.OrgUnit}
		if u.AppKeyFile != "" {
			key, err := os.ReadFile(u.AppKeyFile)
			if err != nil {
				return "", fmt.Errorf("postgres.users %s: app key: %w", u.Name, err)
			}
			pu.AppKey = bytes.TrimSpace(key)
			if len(pu.AppKey) < 16 {
				return "", fmt.Errorf("postgres.users %s: app key shorter than 16 bytes", u.Name)
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
		AutoPrepare:    c.AutoPrepare,
		Policy:         d.Policy,
		Catalog:        d.Catalog,
		Masker:         d.Masker,
		Index:          d.Index,
		Events:         d.Pipeline,
		Log:            d.Log.With("component", "pgwire"),
	}
	if d.Exports != nil {
		gw.Exports = d.Exports
	}
	if c.TLS.Cert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.Cert, c.TLS.Key)
		if err != nil {
			return "", fmt.Errorf("postgres tls: %w", err)
		}
		gw.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return "", fmt.Errorf("postgres listen: %w", err)
	}
	addr := ln.Addr().String()
	run.WG.Add(2)
	go func() {
		defer run.WG.Done()
		if err := gw.Serve(ln); !errors.Is(err, pgwire.ErrServerClosed) {
			run.fail(fmt.Errorf("postgres gateway: %w", err))
		}
	}()
	go func() {
		defer run.WG.Done()
		<-ctx.Done()
		gw.Close()
	}()
	d.Log.Info("postgres gateway listening", "addr", addr, "tls", gw.TLS != nil, "upstream", c.Upstream.Address, "system", c.System)
	return addr, nil
}

// ServeHTTPGateway runs the HTTP gateway of c (which must be enabled)
// until ctx ends; shutting down waits up to 30 s for requests in flight.
func ServeHTTPGateway(ctx context.Context, c config.HTTPGateway, d GatewayDeps, run Running) (*HTTPGateway, error) {
	key, err := loadOrCreateKey(sessionKeyFile(d.DataDir))
	if err != nil {
		return nil, fmt.Errorf("http gateway session key: %w", err)
	}
	deps := httpgw.Deps{
		Pipeline:   d.Pipeline,
		Index:      d.Index,
		Policy:     d.Policy,
		Catalog:    d.Catalog,
		Masker:     d.Masker,
		Risk:       d.Risk,
		SessionKey: key,
		Logger:     d.Log.With("component", "httpgw"),
	}
	if d.Exports != nil {
		deps.Exports = d.Exports
	}
	gw, err := httpgw.New(c, deps)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("http gateway listen: %w", err)
	}
	srv := &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(d.Log.Handler(), slog.LevelWarn),
	}
	h := &HTTPGateway{Gateway: gw, listener: ln}
	if c.TLS.Cert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.Cert, c.TLS.Key)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("http gateway tls: %w", err)
		}
		// HTTP/2 is negotiated through ALPN by ServeTLS.
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		h.tls = true
	}
	run.WG.Add(2)
	go func() {
		defer run.WG.Done()
		var err error
		if h.tls {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			run.fail(fmt.Errorf("http gateway: %w", err))
		}
	}()
	go func() {
		defer run.WG.Done()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			d.Log.Warn("http gateway shutdown", "err", err)
		}
	}()
	d.Log.Info("http gateway listening", "addr", ln.Addr().String(), "tls", h.tls, "routes", len(c.Routes))
	return h, nil
}

// HTTPGateway is a running HTTP gateway.
type HTTPGateway struct {
	Gateway  *httpgw.Gateway
	listener net.Listener
	tls      bool
}

// URL is the gateway's base URL.
func (h *HTTPGateway) URL() string {
	scheme := "http"
	if h.tls {
		scheme = "https"
	}
	return scheme + "://" + h.listener.Addr().String()
}
