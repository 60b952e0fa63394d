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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/api"
	"github.com/custos-dev/custos/approval"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/bus/local"
	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/detect"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/ledger"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/store/sqlite"
)

// Server is a running Custos node.
type Server struct {
	Store    *sqlite.Store
	Pipeline *ingest.Pipeline
	Bus      *local.Bus
	Index    *blind.Index
	Ledger   *ledger.Ledger // nil when disabled

	// Need-to-know relationships and the watchlist, fed through the API
	// and consulted by policy.
	Relationships *policy.Relationships
	Watchlist     *policy.Watchlist

	// The decision core the gateways share (server/decide.go).
	Policy      *policy.Engine
	Catalog     *catalog.Catalog
	Masker      *mask.Masker
	Approvals   *approval.Service           // nil unless approvals.rules_file is set
	responses   *responses                  // suspensions and risk, for the gateways
	policyStamp string                      // the policy file's version when it was loaded
	relSources  *policy.RelationshipSources // nil unless policy.relationships is set

	cfg      config.Config
	log      *slog.Logger
	listener net.Listener
	http     *http.Server
	tls      bool

	detection *detection // nil when disabled
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	errc      chan error

	httpGateway  *HTTPGateway // nil unless http_gateway.enabled (server/httpgw.go)
	postgresAddr string       // "" unless postgres.enabled (server/pgwire.go)
	console      http.Handler // nil unless console.enabled (server/console.go)
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
	if cfg.Policy.Relationships != "" {
		// has_relationship also asks the business databases it names.
		srcs, err := policy.LoadRelationshipSources(cfg.Policy.Relationships, index.Hash, log)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("server: %w", err)
		}
		s.Relationships.Sources, s.relSources = srcs.Checkers(), srcs
	}
	if err := s.startDecisions(ctx); err != nil {
		s.closeRelSources()
		st.Close()
		return nil, err
	}
	var consumers []local.Consumer
	if cfg.Detect.Enabled {
		loc, _ := time.LoadLocation(cfg.Detect.TimeZone)
		det, err := newDetection(ctx, st, cfg.DataDir, loc, cfg.Detect.Snapshots())
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("server: %w", err)
		}
		det.onAlerts = func(ctx context.Context, alerts []detect.Alert) { s.responses.observe(ctx, alerts) }
		s.detection = det
		consumers = append(consumers, det.consumer())
	}
	if cfg.Ledger.Enabled {
		routeTesseraLogs(log)
		// Tessera's background work lives as long as this context: it must
		// outlive the caller's (a signal context), so that Close can still
		// publish the last checkpoint.
		interval, _ := time.ParseDuration(cfg.Ledger.CheckpointInterval)
		opts := ledger.Options{Logger: log, CheckpointInterval: interval}
		if w := cfg.Ledger.Witness; w.URL != "" {
			hw := &ledger.HTTPWitness{URL: w.URL, Key: w.Key}
			if w.TokenFile != "" {
				if hw.Token, err = readSecret(w.TokenFile); err != nil {
					st.Close()
					return nil, err
				}
			}
			opts.Witness = hw
		}
		l, err := ledger.Open(context.WithoutCancel(ctx), filepath.Join(cfg.DataDir, "ledger"), opts)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("server: %w", err)
		}
		s.Ledger = l
	}
	if err := s.restoreState(ctx); err != nil {
		s.closeEarly()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		bus.Run(runCtx, consumers...)
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.responses.run(runCtx, 2*time.Second)
	}()
	if err := s.startNotifier(runCtx); err != nil {
		s.Close(context.Background())
		return nil, err
	}
	if err := s.startApprovalNotifier(runCtx); err != nil {
		s.Close(context.Background())
		return nil, err
	}
	if cfg.Policy.File != "" {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.watchPolicy(runCtx, 2*time.Second)
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.upkeep(runCtx, upkeepEvery)
	}()
	if s.Ledger != nil {
		// The ledger follows the store by sequence number on its own: it
		// resumes from what the log holds, not from a bus offset.
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.Ledger.Follow(runCtx, st, 0); err != nil && runCtx.Err() == nil {
				s.errc <- fmt.Errorf("server: ledger: %w", err)
			}
		}()
	}

	if err := s.startConsole(runCtx); err != nil {
		s.Close(context.Background())
		return nil, err
	}
	if cfg.API.Enabled {
		if err := s.startAPI(index); err != nil {
			s.Close(context.Background())
			return nil, err
		}
	}
	if err := s.startHTTPGateway(runCtx); err != nil {
		s.Close(context.Background())
		return nil, err
	}
	if err := s.startPostgres(runCtx); err != nil {
		s.Close(context.Background())
		return nil, err
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
	watch := &policy.WatchlistHandler{List: s.Watchlist, Hash: index.Hash, MaxBatch: s.cfg.API.MaxBatch,
		Log: watchLog{s: s, actor: tokenName}}
	a.Handle("POST /api/v1/subjects/{type}/{value}/erase", custos.ScopeAdmin, http.HandlerFunc(s.eraseSubject))
	a.Handle("POST /api/v1/watchlist", custos.ScopeAdmin, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		watch.ServeHTTP(w, r)
		s.refreshDetectionWatchlist()
	}))
	if s.Approvals != nil {
		h := s.approvalHandler()
		a.Handle("/api/v1/approvals", custos.ScopeRead, h)
		a.Handle("/api/v1/approvals/", custos.ScopeRead, h)
	}
	if key := s.cfg.Ledger.ServeWitness.LogKey; key != "" {
		// This node witnesses another Custos's ledger: that ledger posts
		// its checkpoints here with an ingest token.
		fw, err := ledger.OpenFileWitness(filepath.Join(s.cfg.DataDir, "witness"), key)
		if err != nil {
			return fmt.Errorf("server: witness: %w", err)
		}
		s.log.Info("witnessing a ledger", "log_key", key, "witness_key", fw.VerifierKey())
		a.Handle("/api/v1/witness/", custos.ScopeIngest, http.StripPrefix("/api/v1/witness", ledger.WitnessHandler{W: fw}))
	}
	if s.Ledger != nil {
		a.Proofs = ledgerProofs{s.Ledger}
		s.registerLedgerMetrics(reg)
	}
	if err := s.exportRoutes(a, index); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.API.Listen)
	if err != nil {
		return fmt.Errorf("server: api listen: %w", err)
	}
	s.listener = ln
	s.http = &http.Server{
		Handler:           s.withConsole(a.Handler()),
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
	if s.Ledger != nil {
		// Entries are durable once appended; what a slow close can leave
		// behind is only the signed checkpoint covering the last of them,
		// which the next start publishes. So this is a warning, not a
		// failed shutdown.
		if err := s.Ledger.Close(ctx); err != nil {
			s.log.Warn("ledger closed before its last checkpoint was published; the next start publishes it", "err", err)
		}
	}
	s.closeRelSources()
	if err := s.Store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("store close: %w", err))
	}
	return errors.Join(errs...)
}

// closeEarly releases what Start opened before it failed.
func (s *Server) closeEarly() {
	if s.Ledger != nil {
		s.Ledger.Close(context.Background())
	}
	s.Store.Close()
}

// relationshipLog is where accepted relationships go besides policy's
// table: the store, then detection's need-to-know table when detection
// runs.
func (s *Server) relationshipLog() policy.RelationshipLog {
	if s.detection == nil {
		return s.Store
	}
	return relationshipLogs{s.Store, s.detection}
}

// tokenName is the person behind an API request: its token's name.
func tokenName(ctx context.Context) string {
	if tok, ok := api.TokenFrom(ctx); ok {
		return tok.Name
	}
	return "unknown"
}

// ledgerProofs adapts the ledger to the API's proof interface.
type ledgerProofs struct{ l *ledger.Ledger }

func (p ledgerProofs) ProofsFor(ctx context.Context, ids []string) (any, error) {
	return p.l.Proofs(ctx, ids)
}

// registerLedgerMetrics exports how far the ledger trails the store: the
// gap between "stored" and "in the tamper-evident log".
func (s *Server) registerLedgerMetrics(reg *prometheus.Registry) {
	lag := func() ledger.Lag {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		l, err := s.Ledger.MeasureLag(ctx, s.Store, 100000)
		if err != nil {
			s.log.Warn("ledger lag", "err", err)
		}
		return l
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "custos_ledger_pending_events", Help: "Stored events not yet appended to the ledger (capped at 100000 per kind)."},
			func() float64 { l := lag(); return float64(l.PendingAccess + l.PendingLogins + l.PendingAudit) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "custos_ledger_oldest_pending_seconds", Help: "Age by event time of the oldest stored event not yet in the ledger."},
			func() float64 { return lag().OldestPending.Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "custos_ledger_witnessed_size", Help: "Size of the last checkpoint an external witness cosigned (0 without a witness)."},
			func() float64 { return float64(s.Ledger.Witnessed()) }),
	)
}

// approvalHandler serves the approval service over the API.
func (s *Server) approvalHandler() http.Handler { return ApprovalHandler(s.Approvals) }

// ApprovalHandler serves an approval service at /api/v1/approvals. The
// person acting is the API token's holder (a token named after each
// approver).
func ApprovalHandler(svc *approval.Service) http.Handler {
	return &approval.Handler{
		Service: svc,
		Identity: func(r *http.Request) (approval.Identity, error) {
			tok, ok := api.TokenFrom(r.Context())
			if !ok {
				return approval.Identity{}, fmt.Errorf("no token")
			}
			return approval.Identity{ID: tok.Name}, nil
		},
	}
}

// closeRelSources closes the business-database handles of the
// relationship sources, if any.
func (s *Server) closeRelSources() {
	if s.relSources != nil {
		if err := s.relSources.Close(); err != nil {
			s.log.Warn("closing relationship sources", "err", err)
		}
	}
}
