package demo

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/demo/backoffice"
	"github.com/custos-dev/custos/sim"
)

// BackOfficeSystem is the back office's resource.system in events, policy
// and catalogue.
const BackOfficeSystem = "passenger-service"

// The demo's policy and catalogue for the back office, written into the
// data directory at start (docs/demo.md explains them).
var (
	//go:embed backoffice-policy.yaml
	backOfficePolicy []byte
	//go:embed backoffice-catalog.yaml
	backOfficeCatalog []byte
)

// backOffice is the demo airline's passenger-service app, listening on a
// loopback port at once and serving once its dataset is ready (generated
// in the background the first time: a few seconds for 100,000 passengers).
type backOffice struct {
	url    string
	srv    *http.Server
	app    atomic.Pointer[backoffice.App]
	done   chan struct{} // closed when generation has ended
	cancel context.CancelFunc
	err    error // generation's error, after done
	count  int
}

func startBackOffice(ctx context.Context, opt Options, org *sim.Org, today time.Time, log *slog.Logger) (*backOffice, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("back office: %w", err)
	}
	if opt.Passengers <= 0 {
		opt.Passengers = backoffice.DefaultPassengers
	}
	ctx, cancel := context.WithCancel(ctx)
	b := &backOffice{url: "http://" + ln.Addr().String(), done: make(chan struct{}), cancel: cancel, count: max(opt.Passengers, len(org.People))}
	b.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if a := b.app.Load(); a != nil {
				a.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Retry-After", "5")
			http.Error(w, "the demo back office is generating its passengers; try again in a few seconds", http.StatusServiceUnavailable)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go b.srv.Serve(ln)
	go func() {
		defer close(b.done)
		a, err := backoffice.Open(ctx, backoffice.Options{Dir: opt.DataDir, Seed: opt.Seed, Passengers: opt.Passengers, Org: org, Today: today})
		if err != nil {
			b.err = err
			if ctx.Err() == nil {
				log.Error("demo back office", "err", err)
			}
			return
		}
		a.Log = log
		b.app.Store(a)
	}()
	return b, nil
}

// ready reports whether the back office serves its data.
func (b *backOffice) ready() bool { return b.app.Load() != nil }

func (b *backOffice) close() {
	b.cancel() // stops a generation still running
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.srv.Shutdown(sctx)
	<-b.done
	if a := b.app.Load(); a != nil {
		a.Close()
	}
}

// configureGateway writes the back office's policy and catalogue into
// the data directory and puts the back office behind the HTTP gateway:
// employees identified by the trusted SSO headers from loopback, subjects
// named by the paths and queries, exports and need-to-know by policy.
func configureGateway(cfg *config.Config, upstream string) error {
	dir := filepath.Join(cfg.DataDir, "demo")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	cfg.Policy.File = filepath.Join(dir, "policy.yaml")
	cfg.Policy.Catalog = filepath.Join(dir, "catalog.yaml")
	if err := os.WriteFile(cfg.Policy.File, backOfficePolicy, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(cfg.Policy.Catalog, backOfficeCatalog, 0o600); err != nil {
		return err
	}
	gw := config.DefaultHTTPGateway()
	gw.Enabled = true
	gw.Listen = "127.0.0.1:8880"
	if ln, err := net.Listen("tcp", gw.Listen); err != nil {
		gw.Listen = "127.0.0.1:0" // taken (another demo?): any free port
	} else {
		ln.Close()
	}
	gw.Identity.Header.TrustedProxies = []string{"127.0.0.0/8", "::1/128"}
	gw.RateLimit = config.HTTPRateLimit{RequestsPerSecond: 10, Burst: 20}
	byID := []config.HTTPSubjectParam{{Path: "id", Type: "cn_id"}}
	byQuery := []config.HTTPSubjectParam{{Query: "idno", Type: "cn_id"}, {Query: "phone", Type: "cn_mobile"}}
	gw.Routes = []config.HTTPRoute{
		{Prefix: "/", Upstream: upstream, System: BackOfficeSystem, Endpoints: []config.HTTPEndpoint{
			{Pattern: "GET /passengers", Action: "search", Subjects: byQuery},
			{Pattern: "GET /api/passengers", Action: "search", Subjects: byQuery},
			{Pattern: "GET /passengers/{id}", Action: "read", Subjects: byID},
			{Pattern: "GET /api/passengers/{id}", Action: "read", Subjects: byID},
			{Pattern: "GET /flights/{flight}/{date}", Action: "read"},
			{Pattern: "GET /api/flights/{flight}/{date}/manifest", Action: "export"},
			{Pattern: "GET /export/manifest.csv", Action: "export"},
			{Pattern: "GET /export/manifest.xlsx", Action: "export"},
		}},
		{Prefix: "/static/", Upstream: upstream, System: BackOfficeSystem, Public: true},
	}
	if errs := gw.Validate(); len(errs) > 0 {
		return errors.Join(errs...)
	}
	cfg.HTTPGateway = gw
	return nil
}

// backOfficeTour prints how to use the back office as an employee.
func backOfficeTour(out io.Writer, gatewayURL string, b *backOffice, org *sim.Org) {
	if gatewayURL == "" {
		return
	}
	var agent, supervisor string
	for _, e := range org.Employees {
		if e.Role == "agent" && agent == "" {
			agent = e.ID
		}
		if e.Role == "supervisor" && supervisor == "" {
			supervisor = e.ID
		}
	}
	var celebrity sim.Person
	for _, p := range org.People {
		if p.Celebrity {
			celebrity = p
			break
		}
	}
	state := "ready"
	if !b.ready() {
		state = "generating its passengers, ready in a few seconds"
	}
	fmt.Fprintf(out, "Back office (airline passenger service, %d synthetic passengers; %s)\n", b.count, state)
	fmt.Fprintf(out, "behind the HTTP gateway: %s\n", gatewayURL)
	fmt.Fprintf(out, "  The gateway trusts the SSO headers X-Remote-User and X-Remote-Roles from this machine;\n")
	fmt.Fprintf(out, "  in a browser, set them with a header extension (e.g. ModHeader). With curl:\n")
	fmt.Fprintf(out, "  # a supervisor searches (masked by policy)\n")
	fmt.Fprintf(out, "  curl -s -H 'X-Remote-User: %s' -H 'X-Remote-Roles: supervisor' '%s/api/passengers?q=WANG'\n", supervisor, gatewayURL)
	fmt.Fprintf(out, "  # an agent opens a celebrity with no booking (need-to-know denies; the watchlist alerts)\n")
	fmt.Fprintf(out, "  curl -s -H 'X-Remote-User: %s' -H 'X-Remote-Roles: agent' %s/api/passengers/%s\n", agent, gatewayURL, celebrity.ID)
	fmt.Fprintf(out, "  # a manifest export (approval required)\n")
	fmt.Fprintf(out, "  curl -s -H 'X-Remote-User: %s' -H 'X-Remote-Roles: supervisor' '%s/export/manifest.csv?flight=%s&date=%s'\n",
		supervisor, gatewayURL, backoffice.Flights()[0].Flight, time.Now().In(sim.Zone).Format("2006-01-02"))
	fmt.Fprintf(out, "  Staff and insiders (celebrity look-ups, a crawler, a bulk exporter) use it live: their\n")
	fmt.Fprintf(out, "  requests are the events with channel \"http\" and system %q.\n\n", BackOfficeSystem)
}
