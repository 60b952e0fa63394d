package cluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/go-sql-driver/mysql" // the ledger's MySQL driver
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/api"
	"github.com/custos-dev/custos/blind"
	natsbus "github.com/custos-dev/custos/bus/nats"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/ledger"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/server"
	"github.com/custos-dev/custos/store/postgres"
)

// Role is what a node does in the cluster.
type Role string

// The roles. RoleAll is the embedded single process (package server), not
// started by this package.
const (
	RoleGateway  Role = "gateway"
	RoleDetector Role = "detector"
	RoleAPI      Role = "api"
	RoleAll      Role = "all"
)

// ParseRole checks a --role value.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleGateway, RoleDetector, RoleAPI, RoleAll:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (gateway, detector, api or all)", s)
}

// Node is a running cluster node.
type Node struct {
	Role      Role
	ID        string
	Store     *postgres.Store
	Bus       *natsbus.Bus
	Publisher *natsbus.Publisher // gateway and api
	Ledger    *ledger.Ledger     // api, when the ledger is enabled

	cfg          config.Config
	log          *slog.Logger
	reg          *prometheus.Registry
	metrics      *metrics
	listener     net.Listener
	http         *http.Server
	spool        *natsbus.Spool
	ledgerDB     *sql.DB
	ledgerUnlock func() // releases the cluster's ledger lock
	// approvalsUnlock releases the lock of the api node serving approvals.
	approvalsUnlock func()
	det             *detector
	postgresAddr    string              // inline PostgreSQL gateway (gateway nodes)
	httpGateway     *server.HTTPGateway // inline HTTP gateway (gateway nodes)

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errc   chan error
}

// Start starts a node of role (gateway, detector or api) from cfg, which
// must select the nats bus and the postgres store. The node's HTTP
// listener (the API on gateways and api nodes, cluster.listen on
// detectors) is listening when Start returns.
func Start(ctx context.Context, cfg config.Config, role Role, log *slog.Logger) (*Node, error) {
	if role == RoleAll || role == "" {
		return nil, errors.New("cluster: role all is the embedded server (package server)")
	}
	if err := cfg.Cluster.Distributed(); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	id := cfg.Cluster.NodeID
	if id == "" {
		host, _ := os.Hostname()
		id = fmt.Sprintf("%s-%s-%d", strings.NewReplacer(".", "_", " ", "_").Replace(host), role, os.Getpid())
	}
	log = log.With("role", string(role), "node", id)
	n := &Node{Role: role, ID: id, cfg: cfg, log: log, errc: make(chan error, 4), reg: prometheus.NewRegistry()}
	n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.metrics = newMetrics(n.reg, n)
	ok := false
	defer func() {
		if !ok {
			n.Close(context.Background())
		}
	}()

	st, err := postgres.Open(ctx, cfg.Cluster.Store.DSN)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	n.Store = st
	bus, err := natsbus.Connect(ctx, natsbus.Options{
		URL: cfg.Cluster.Bus.URL, Stream: cfg.Cluster.Bus.Stream, Partitions: cfg.Cluster.Bus.Partitions,
		Replicas: cfg.Cluster.Bus.Replicas,
		LeaseTTL: cfg.Cluster.Bus.LeaseDuration(), PublishTimeout: cfg.Cluster.Bus.PublishWait(),
		Name: "custos " + string(role) + " " + id, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	n.Bus = bus

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	switch role {
	case RoleGateway, RoleAPI:
		if err := n.startGateway(ctx, runCtx, role); err != nil {
			return nil, err
		}
		if role == RoleAPI && cfg.Ledger.Enabled {
			if err := n.startLedger(ctx, runCtx); err != nil {
				return nil, err
			}
		}
	case RoleDetector:
		det, err := newDetector(n, cfg)
		if err != nil {
			return nil, err
		}
		n.det = det
		// Engines start with what the store holds now.
		if err := det.state.load(ctx, st); err != nil {
			return nil, fmt.Errorf("cluster: load relationships and watchlist: %w", err)
		}
		n.metrics.registerState(n.reg, det.state)
		n.wg.Add(2)
		go func() {
			defer n.wg.Done()
			det.refresh(runCtx)
		}()
		go func() {
			defer n.wg.Done()
			if err := bus.RunPartitions(runCtx, id, det.work, det.setOwned); err != nil {
				n.errc <- err
			}
		}()
		if cfg.Cluster.Listen != "" {
			if err := n.listen(cfg.Cluster.Listen, n.baseMux()); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("cluster: unknown role %q", role)
	}
	ok = true
	return n, nil
}

// startGateway serves the API with a pipeline that publishes to the bus,
// the inline gateways custos.yaml enables and, on an api node, approvals.
func (n *Node) startGateway(ctx, runCtx context.Context, role Role) error {
	key, err := blind.LoadKey(blind.KeyFile(n.cfg.DataDir))
	if err != nil {
		return fmt.Errorf("cluster: %w (every gateway needs the cluster's blind-index key in its data_dir)", err)
	}
	index, err := blind.New(key)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	p := &natsbus.Publisher{Bus: n.Bus, FailClosed: n.cfg.Cluster.FailMode == "closed", Log: n.log}
	if !p.FailClosed {
		dir := n.cfg.Cluster.SpoolDir
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(n.cfg.DataDir, dir)
		}
		if p.Spool, err = natsbus.OpenSpool(dir); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		n.spool = p.Spool
		if pending := p.Spool.Pending(); pending > 0 {
			n.log.Info("spool holds events from before the restart; replaying when the bus answers", "events", pending)
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			p.Run(runCtx, 200*time.Millisecond)
		}()
	}
	n.Publisher = p
	pipeline := &ingest.Pipeline{Store: p, Index: index}
	gs, err := n.startInlineGateways(runCtx, pipeline, index)
	if err != nil {
		return err
	}
	a := &api.Server{
		Pipeline: pipeline,
		History:  n.Store,
		Feed:     n.Store,
		Alerts:   n.Store,
		Index:    index,
		Tokens:   n.Store,
		Log:      n.log,
		Registry: n.reg,
		MaxBatch: n.cfg.API.MaxBatch,
		MaxBody:  n.cfg.API.MaxBodyBytes,
	}
	// Relationships and the watchlist go to PostgreSQL, where every node
	// loads them from. With inline gateways on this node they count here
	// at once; otherwise the handlers' in-memory tables are per request (a
	// node without gateways decides nothing on them).
	rels := policy.RelationshipHandler{Hash: index.Hash, Log: n.Store, Logger: n.log, MaxBatch: n.cfg.API.MaxBatch, MaxBody: n.cfg.API.MaxBodyBytes}
	a.Handle("POST /api/v1/relationships", custos.ScopeIngest, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := rels
		h.Store = policy.NewRelationships()
		if gs != nil {
			h.Store = gs.rel
		}
		h.ServeHTTP(w, r)
	}))
	watch := policy.WatchlistHandler{Hash: index.Hash, MaxBatch: n.cfg.API.MaxBatch, Log: watchLog{n}}
	a.Handle("POST /api/v1/watchlist", custos.ScopeAdmin, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := watch
		h.List = policy.NewWatchlist()
		if gs != nil {
			h.List = gs.watch
		}
		h.ServeHTTP(w, r)
	}))
	reg := registry{Store: n.Store}
	if gs != nil {
		reg.watch = gs.watch
	}
	if err := n.exportRoutes(runCtx, a, index, reg); err != nil {
		return err
	}
	n.suspensionRoutes(a)
	if role == RoleAPI {
		if err := n.startApprovals(ctx, runCtx, a); err != nil {
			return err
		}
		if err := n.startNotifier(runCtx); err != nil {
			return err
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", n.readyz)
	mux.Handle("/", a.Handler())
	return n.listen(n.cfg.API.Listen, mux)
}

// startLedger opens the ledger (MySQL or POSIX log, signing key and leaf
// index in <data_dir>/ledger) and follows the PostgreSQL store.
func (n *Node) startLedger(ctx, runCtx context.Context) error {
	// Two api nodes appending the same store to one ledger would each
	// number the entries their own way; the second one refuses to start.
	unlock, err := n.Store.Lock(ctx, "ledger")
	if err != nil {
		return fmt.Errorf("cluster: ledger: exactly one api node may run the ledger: %w", err)
	}
	n.ledgerUnlock = unlock
	opts := ledger.Options{Logger: n.log}
	if n.cfg.Cluster.Ledger.Driver == "mysql" {
		db, err := sql.Open("mysql", n.cfg.Cluster.Ledger.DSN)
		if err != nil {
			return errors.New("cluster: ledger: invalid mysql dsn")
		}
		n.ledgerDB = db
		opts.MySQL = db
		opts.CheckpointInterval = time.Second // Tessera's minimum on MySQL
	}
	// Tessera's background work (checkpoints) lives as long as this
	// context: not the caller's, which a signal cancels before Close has
	// published the last checkpoint.
	l, err := ledger.Open(context.WithoutCancel(ctx), filepath.Join(n.cfg.DataDir, "ledger"), opts)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	n.Ledger = l
	n.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "custos_ledger_pending_events",
		Help: "Stored events not yet appended to the ledger (capped at 100000 per kind).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		lag, err := l.MeasureLag(ctx, n.Store, 100000)
		if err != nil {
			return -1
		}
		return float64(lag.PendingAccess + lag.PendingLogins)
	}))
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := l.Follow(runCtx, n.Store, 0); err != nil && runCtx.Err() == nil {
			n.errc <- fmt.Errorf("cluster: ledger: %w", err)
		}
	}()
	return nil
}

// baseMux serves health, readiness and metrics (detectors).
func (n *Node) baseMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", n.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	return mux
}

// readyz answers 200 when the node can do its job now: the store answers,
// and the bus is connected (a spooling gateway is ready without it).
func (n *Node) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var problems []string
	if err := n.Store.Pool().Ping(ctx); err != nil {
		problems = append(problems, "store unreachable")
	}
	if !n.Bus.Connected() && (n.Publisher == nil || n.Publisher.FailClosed) {
		problems = append(problems, "bus unreachable")
	}
	w.Header().Set("Content-Type", "application/json")
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `{"status":"unavailable","problems":["%s"]}`+"\n", strings.Join(problems, `","`))
		return
	}
	w.Write([]byte(`{"status":"ready"}` + "\n"))
}

func (n *Node) listen(addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cluster: listen %s: %w", addr, err)
	}
	n.listener = ln
	n.http = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := n.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			n.errc <- fmt.Errorf("cluster: http: %w", err)
		}
	}()
	n.log.Info("listening", "addr", ln.Addr().String())
	return nil
}

// Addr is the HTTP listener's address ("" without one).
func (n *Node) Addr() string {
	if n.listener == nil {
		return ""
	}
	return n.listener.Addr().String()
}

// Wait blocks until ctx is done or a component fails.
func (n *Node) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-n.errc:
		return err
	}
}

// Close shuts down gracefully: the HTTP server finishes requests in flight
// (each answered only once its batch is on the bus or in the spool),
// detectors snapshot their partitions and release the leases so others
// take over at once, the ledger publishes its checkpoint.
func (n *Node) Close(ctx context.Context) error {
	var errs []error
	if n.http != nil {
		if err := n.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	}
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	if n.Ledger != nil {
		if err := n.Ledger.Close(ctx); err != nil {
			n.log.Warn("ledger closed before its last checkpoint was published; the next start publishes it", "err", err)
		}
	}
	n.closeResources()
	return errors.Join(errs...)
}

func (n *Node) closeResources() {
	if n.cancel != nil {
		n.cancel()
	}
	if n.spool != nil {
		n.spool.Close()
	}
	if n.Bus != nil {
		n.Bus.Close()
	}
	if n.Store != nil {
		n.Store.Close()
	}
	if n.ledgerDB != nil {
		n.ledgerDB.Close()
	}
	if n.ledgerUnlock != nil {
		n.ledgerUnlock()
	}
	if n.approvalsUnlock != nil {
		n.approvalsUnlock()
	}
}
