package pgwire

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/pgsql"
	"github.com/custos-dev/custos/policy"
)

// User is an employee's gateway login.
type User struct {
	Name     string
	Verifier Verifier
	Roles    []string
	OrgUnit  string
	// AppKey, when set, lets this (service) account attribute statements
	// to its application's end users with signed comments (docs/pgsql.md).
	AppKey []byte
}

// Credential is an upstream login.
type Credential struct {
	User     string
	Password string
}

// Upstream is the PostgreSQL server behind the gateway.
type Upstream struct {
	Address  string // host:port
	Database string // when the client names none
	// SSLMode is libpq's sslmode for the upstream leg.
	SSLMode string
	// CAFile is the CA for verify-ca and verify-full.
	CAFile string
	// Credentials are the upstream logins per Custos role.
	Credentials map[string]Credential
	// Meta is the login for the gateway's own catalogue look-ups.
	Meta Credential
}

// ExportRegistry stores exports durably (the server's export registry).
type ExportRegistry interface {
	RegisterExport(ctx context.Context, ex export.Export) error
}

// Recorder makes access events durable; ingest.Pipeline implements it.
// Access must return only once the events are on disk.
type Recorder interface {
	Access(ctx context.Context, events []custos.AccessEvent) (custos.AppendResult, error)
}

// Server is the gateway. Fill the fields, then call Serve.
type Server struct {
	// System is the upstream's name in the catalogue, policy and events.
	System   string
	Upstream Upstream
	Users    map[string]User
	// TLS is offered to clients that send SSLRequest; nil answers 'N'.
	TLS *tls.Config
	// RequireTLS refuses clients that do not negotiate TLS.
	RequireTLS bool
	// MaxConnections bounds concurrent client connections (0: 1000).
	MaxConnections int
	// RecordAll records an access event for every statement; by default
	// only statements whose result holds personal data, that name a
	// catalogued relation, or that the gateway refused are recorded.
	RecordAll bool
	// AutoPrepare runs each simple-protocol SELECT with numeric constants
	// as a prepared statement of its shape on the client's upstream
	// connection (pgsql.Lifted): the server parses and plans a shape once
	// per connection instead of once per query. The client sees the
	// answers of its simple query, byte for byte the same.
	AutoPrepare bool

	Policy  *policy.Engine
	Catalog *catalog.Catalog
	Masker  *mask.Masker
	Index   *blind.Index
	Events  Recorder
	// Exports registers COPY … TO and large results in the export
	// registry, so that a leaked copy can be traced to them; nil leaves
	// them recorded as access events only.
	Exports ExportRegistry
	// ExportRows is the result size from which a query counts as an
	// export (default 1,000 rows).
	ExportRows int64
	Log        *slog.Logger
	// Now is the clock for events; time.Now when nil.
	Now func() time.Time

	once     sync.Once
	analyses *pgsql.Cache
	tables   tableCache
	meta     *metaCache
	cancels  *cancelMap
	sem      chan struct{}

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	closed    bool
	wg        sync.WaitGroup
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
		if s.Now == nil {
			s.Now = time.Now
		}
		if s.Masker == nil {
			s.Masker = &mask.Masker{}
		}
		n := s.MaxConnections
		if n <= 0 {
			n = 1000
		}
		s.sem = make(chan struct{}, n)
		s.cancels = newCancelMap()
		s.meta = newMetaCache(s)
		s.analyses = pgsql.NewCache(analysisCacheSize)
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[net.Conn]struct{}{}
	})
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("pgwire: server closed")

// Serve accepts connections on ln until Close. Each connection is served
// on its own goroutines; a failing connection never affects the others.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	if s.Events == nil {
		ln.Close()
		return errors.New("pgwire: no event recorder: the gateway answers only once an access is recorded")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("pgwire: accept: %w", err)
		}
		delay = 0
		if !s.track(c) {
			c.Close()
			return ErrServerClosed
		}
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			s.serveConn(c)
		}()
	}
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Close stops the listeners, closes every client connection (and so its
// upstream connection) and waits for their goroutines, which record the
// events of statements in flight before they end.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.meta.close()
	return nil
}

// serveConn runs one client connection from startup to termination.
func (s *Server) serveConn(c net.Conn) {
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		refuse(c, "53300", "too many connections to the Custos gateway")
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := s.startup(ctx, c)
	if err != nil {
		if !errors.Is(err, errHandled) {
			s.Log.Debug("pgwire: startup failed", "remote", c.RemoteAddr().String(), "err", err)
		}
		return
	}
	defer st.client.Close()
	sess, err := s.connectUpstream(ctx, st)
	if err != nil {
		s.Log.Warn("pgwire: upstream connection failed", "user", st.user.Name, "err", err)
		fatal(st.be, "08006", "Custos gateway could not connect to the upstream server")
		return
	}
	sess.run(ctx)
}
