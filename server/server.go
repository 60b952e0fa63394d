package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/api"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/bus/local"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/store/sqlite"
)

// Server is a running Custos node.
type Server struct {
	Store    *sqlite.Store
	Pipeline *ingest.Pipeline
	Bus      *local.Bus
	Index    *blind.Index

	// Need-to-know relationships and the watchlist, fed through the API
	// and consulted by policy.
	Relationships *policy.Relationships
	Watchlist     *policy.Watchlist

	cfg      config.Config
	log      *slog.Logger
	listener net.Listener
	http     *http.Server
	tls      bool

	detection *detection // nil when disabled
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	errc      chan error
}

// Start opens the data directory and starts everything cfg enables. The
// API listens before Start returns, so Addr is valid at once.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	key, err := blind.LoadKey(blind.KeyFile(cfg.DataDir))
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	index, err := blind.New(key)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	st, err := sqlite.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	bus := local.New(st, log)
	s := &Server{
		Store:         st,
		Bus:           bus,
		Index:         index,
		Pipeline:      &ingest.Pipeline{Store: st, Index: index, Notify: bus.Notify},
		Relationships: policy.NewRelationships(),
		Watchlist:     policy.NewWatchlist(),
		cfg:           cfg,
		log:           log,
		errc:          make(chan error, 1),
	}
	var consumers []local.Consumer
	if cfg.Detect.Enabled {
		loc, _ := time.LoadLocation(cfg.Detect.TimeZone)
		det, err := newDetection(ctx, st, cfg.DataDir, loc, cfg.Detect.Snapshots())
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("server: %w", err)
		}
		s.detection = det
		consumers = append(consumers, det.consumer())
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		bus.Run(runCtx, consumers...)
	}()

	if cfg.API.Enabled {
		if err := s.startAPI(index); err != nil {
			s.Close(context.Background())
			return nil, err
		}
	}
	return s, nil
}

func (s *Server) startAPI(index *blind.Index) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a := &api.Server{
		Pipeline: s.Pipeline,
		History:  s.Store,
		Feed:     s.Store,
		Alerts:   s.Store,
		Index:    index,
		Tokens:   s.Store,
		Log:      s.log,
		Registry: reg,
		MaxBatch: s.cfg.API.MaxBatch,
		MaxBody:  s.cfg.API.MaxBodyBytes,
	}
	a.Handle("POST /api/v1/relationships", custos.ScopeIngest,
		&policy.RelationshipHandler{Store: s.Relationships, Hash: index.Hash, Log: s.relationshipLog(), Logger: s.log, MaxBatch: s.cfg.API.MaxBatch, MaxBody: s.cfg.API.MaxBodyBytes})
	a.Handle("POST /api/v1/watchlist", custos.ScopeAdmin,
		&policy.WatchlistHandler{List: s.Watchlist, Hash: index.Hash, MaxBatch: s.cfg.API.MaxBatch})
	ln, err := net.Listen("tcp", s.cfg.API.Listen)
	if err != nil {
		return fmt.Errorf("server: api listen: %w", err)
	}
	s.listener = ln
	s.http = &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	tlsCfg := s.cfg.API.TLS
	if tlsCfg.Cert != "" {
		cert, err := tls.LoadX509KeyPair(tlsCfg.Cert, tlsCfg.Key)
		if err != nil {
			ln.Close()
			return fmt.Errorf("server: api tls: %w", err)
		}
		s.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.tls = true
	}
	go func() {
		var err error
		if s.tls {
			err = s.http.ServeTLS(ln, "", "")
		} else {
			err = s.http.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			s.errc <- fmt.Errorf("server: api: %w", err)
		}
	}()
	s.log.Info("api listening", "addr", ln.Addr().String(), "tls", s.tls)
	return nil
}

// Addr is the API's listening address ("" when the API is disabled).
func (s *Server) Addr() string {
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}

// URL is the API's base URL.
func (s *Server) URL() string {
	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	return scheme + "://" + s.Addr()
}

// Wait blocks until ctx is done or a component fails.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.errc:
		return err
	}
}

// Close shuts down gracefully: the API stops accepting requests and waits
// for those in flight (each answers only once its batch is durable), the
// bus finishes its current deliveries, and the store commits what is
// queued before closing.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("api shutdown: %w", err))
		}
	}
	s.cancel()
	s.wg.Wait()
	if s.detection != nil {
		if err := s.detection.save(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.Store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("store close: %w", err))
	}
	return errors.Join(errs...)
}

// relationshipLog is where accepted relationships go besides policy's
// table: detection's need-to-know table, when detection runs.
func (s *Server) relationshipLog() policy.RelationshipLog {
	if s.detection == nil {
		return nil
	}
	return s.detection
}
