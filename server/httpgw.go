package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/httpgw"
)

// httpGateway is the running HTTP gateway (http_gateway in custos.yaml).
type httpGateway struct {
	Gateway  *httpgw.Gateway
	listener net.Listener
	tls      bool
}

// sessionKeyFile signs the HTTP gateway's login session cookies, so that
// sessions survive a restart.
func sessionKeyFile(dataDir string) string {
	return filepath.Join(dataDir, "keys", "httpgw-session.key")
}

// startHTTPGateway listens for the HTTP gateway when it is enabled; it
// shuts down, waiting for requests in flight, when ctx ends (Close).
func (s *Server) startHTTPGateway(ctx context.Context) error {
	c := s.cfg.HTTPGateway
	if !c.Enabled {
		return nil
	}
	key, err := loadOrCreateKey(sessionKeyFile(s.cfg.DataDir))
	if err != nil {
		return fmt.Errorf("server: http gateway session key: %w", err)
	}
	fp, err := s.Fingerprinter()
	if err != nil {
		return fmt.Errorf("server: http gateway exports: %w", err)
	}
	gw, err := httpgw.New(c, httpgw.Deps{
		Pipeline:   s.Pipeline,
		Index:      s.Index,
		Policy:     s.Policy,
		Catalog:    s.Catalog,
		Masker:     s.Masker,
		Risk:       s.responses,
		Exports:    exportRecorder{s: s, fp: fp},
		SessionKey: key,
		Logger:     s.log.With("component", "httpgw"),
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("server: http gateway listen: %w", err)
	}
	srv := &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	h := &httpGateway{Gateway: gw, listener: ln}
	if c.TLS.Cert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.Cert, c.TLS.Key)
		if err != nil {
			ln.Close()
			return fmt.Errorf("server: http gateway tls: %w", err)
		}
		// HTTP/2 is negotiated through ALPN by ServeTLS.
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		h.tls = true
	}
	s.httpGateway = h
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		var err error
		if h.tls {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			select {
			case s.errc <- fmt.Errorf("server: http gateway: %w", err):
			default:
			}
		}
	}()
	go func() {
		defer s.wg.Done()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			s.log.Warn("http gateway shutdown", "err", err)
		}
	}()
	s.log.Info("http gateway listening", "addr", ln.Addr().String(), "tls", h.tls, "routes", len(c.Routes))
	return nil
}

// HTTPGatewayURL is the HTTP gateway's base URL ("" when it is disabled).
func (s *Server) HTTPGatewayURL() string {
	if s.httpGateway == nil {
		return ""
	}
	scheme := "http"
	if s.httpGateway.tls {
		scheme = "https"
	}
	return scheme + "://" + s.httpGateway.listener.Addr().String()
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
