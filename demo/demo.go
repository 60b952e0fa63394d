package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/server"
	"github.com/custos-dev/custos/sim"
	"github.com/custos-dev/custos/sim/httpdrive"
)

// Options configure a demo run. Zero values take the defaults.
type Options struct {
	DataDir   string        // default: a new temporary directory, removed at the end
	Listen    string        // default 127.0.0.1:8870, or a free port if taken
	Employees int           // default 60
	History   int           // days of history back-filled before live; default 7
	Speedup   float64       // simulated seconds per wall second; default 60
	Duration  time.Duration // 0 runs until ctx ends
	Seed      uint64        // default 1
	// Passengers in the back office's dataset (default 100,000; generated
	// once per data directory).
	Passengers int
	// GatewayListen is the HTTP gateway's address in front of the back
	// office (default 127.0.0.1:8880, or a free port if taken).
	GatewayListen string
	Log           *slog.Logger // default: warnings and errors to stderr
}

// Run runs the demo until ctx ends or Duration passes, printing what to
// look at to out.
func Run(ctx context.Context, opt Options, out io.Writer) error {
	if opt.Employees <= 0 {
		opt.Employees = 60
	}
	if opt.History < 0 {
		opt.History = 0
	} else if opt.History == 0 {
		opt.History = 7
	}
	if opt.Speedup <= 0 {
		opt.Speedup = 60
	}
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if opt.DataDir == "" {
		dir, err := os.MkdirTemp("", "custos-demo-")
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer os.RemoveAll(dir)
		opt.DataDir = dir
	}
	if !server.Initialized(opt.DataDir) {
		if err := server.Init(ctx, opt.DataDir); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}

	org := sim.NewOrg(sim.Config{Kind: sim.Airline, Seed: opt.Seed, Employees: opt.Employees})
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)

	// The back office listens at once and generates its passengers in
	// the background; the HTTP gateway in front of it starts with the node.
	bo, err := startBackOffice(ctx, opt, org, today, opt.Log)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer bo.close()

	cfg := config.Default()
	cfg.DataDir = opt.DataDir
	cfg.API.Listen = opt.Listen
	if cfg.API.Listen == "" {
		cfg.API.Listen = "127.0.0.1:8870"
	}
	if err := configureGateway(&cfg, bo.url); err != nil {
		return fmt.Errorf("demo: back office gateway: %w", err)
	}
	if opt.GatewayListen != "" {
		cfg.HTTPGateway.Listen = opt.GatewayListen
	}
	srv, err := server.Start(ctx, cfg, opt.Log)
	if err != nil && opt.Listen == "" && opt.GatewayListen == "" {
		// A default port is taken (another demo?): take free ones.
		cfg.API.Listen = "127.0.0.1:0"
		cfg.HTTPGateway.Listen = "127.0.0.1:0"
		srv, err = server.Start(ctx, cfg, opt.Log)
	}
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer srv.Close(context.Background())

	_, secret, err := server.CreateToken(ctx, srv.Store, "demo", []custos.Scope{custos.ScopeAdmin})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	fmt.Fprintf(out, "Custos demo: a simulated airline with %d staff and %d passengers\n", len(org.Employees), len(org.People))
	fmt.Fprintf(out, "data directory: %s\n", opt.DataDir)
	feed := &feeder{base: srv.URL() + "/api/v1", token: secret, client: &http.Client{Timeout: 30 * time.Second}}
	if err := feed.watchlist(ctx, org); err != nil {
		return fmt.Errorf("demo: watchlist: %w", err)
	}
	n, rels, err := backfill(ctx, srv, feed, org, today.AddDate(0, 0, -opt.History), opt.History)
	if err != nil {
		return fmt.Errorf("demo: back-fill: %w", err)
	}
	fmt.Fprintf(out, "back-filled %d days of history: %d events, %d business relationships (bookings)\n\n", opt.History, n, rels)
	printTour(out, srv.URL(), secret, org)
	backOfficeTour(out, srv.HTTPGatewayURL(), bo, org)
	if err := consoleTour(ctx, out, srv); err != nil {
		return fmt.Errorf("demo: console: %w", err)
	}

	if opt.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opt.Duration)
		defer cancel()
	}
	fmt.Fprintf(out, "feeding live activity from midnight UTC at %gx speed; Ctrl-C to stop\n", opt.Speedup)
	// The passenger-service staff's look-ups go through the back office
	// and the gateway (once its dataset is ready); everything else, and
	// the bookings that justify look-ups, through the API.
	drive, err := httpdrive.New(httpdrive.Options{
		Base:     srv.HTTPGatewayURL(),
		Org:      org,
		Live:     sim.LiveOptions{Speedup: opt.Speedup, Start: today, Scenarios: liveScenarios(opt.Employees)},
		Replay:   func(ev custos.AccessEvent) bool { return bo.ready() && ev.Resource.System == "reservations" },
		Forward:  feed.emit,
		Insiders: httpdrive.DefaultInsiders(org),
		Log:      opt.Log,
	})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := drive.Run(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("demo: %w", err)
	}
	alerts, _ := srv.Store.Alerts(context.Background(), custos.AlertQuery{Limit: custos.MaxLimit})
	st := drive.Stats()
	fmt.Fprintf(out, "\nstopped: %d live access events and %d logins posted through the API, %d back-office requests through the HTTP gateway (%d refused); %d alerts raised\n",
		feed.access, feed.logins, st.Requests, st.Requests-st.Status[http.StatusOK]-st.Errors, len(alerts))
	return nil
}

// liveScenarios are the insiders and attackers injected into live traffic.
func liveScenarios(employees int) []*sim.Scenario {
	return sim.Suite(employees, 1)
}

// backfill writes days of simulated history straight into the pipeline,
// in batches, so queries have something to show at once. The history's
// business relationships are posted through the API first, as a booking
// system would have, so that detection sees each booking before the
// look-ups it justifies.
func backfill(ctx context.Context, srv *server.Server, feed *feeder, org *sim.Org, start time.Time, days int) (events, relationships int, err error) {
	var rels []sim.Relationship
	var acc []custos.AccessEvent
	var logins []custos.LoginEvent
	err = sim.Generate(org, start, days, nil, func(ev sim.Event) error {
		switch {
		case ev.Access != nil:
			acc = append(acc, *ev.Access)
		case ev.Login != nil:
			logins = append(logins, *ev.Login)
		case ev.Relationship != nil:
			rels = append(rels, *ev.Relationship)
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	if err := feed.emit(ctx, sim.Batch{Relationships: rels}); err != nil {
		return 0, 0, err
	}
	for len(logins) > 0 {
		n := min(len(logins), 2000)
		if _, err := srv.Pipeline.Logins(ctx, logins[:n]); err != nil {
			return 0, 0, err
		}
		logins, events = logins[n:], events+n
	}
	for len(acc) > 0 {
		n := min(len(acc), 2000)
		if _, err := srv.Pipeline.Access(ctx, acc[:n]); err != nil {
			return 0, 0, err
		}
		acc, events = acc[n:], events+n
	}
	return events, len(rels), nil
}

func printTour(out io.Writer, url, token string, org *sim.Org) {
	var passenger, agent string
	for _, p := range org.People {
		if p.Celebrity {
			passenger = p.ID
			break
		}
	}
	if passenger == "" && len(org.People) > 0 {
		passenger = org.People[0].ID
	}
	if len(org.Employees) > 0 {
		agent = org.Employees[0].ID
	}
	fmt.Fprintf(out, "API:   %s/api/v1\n", url)
	fmt.Fprintf(out, "token: %s\n\n", token)
	fmt.Fprintf(out, "Try (synthetic people; the ID below is a watchlisted celebrity passenger):\n")
	fmt.Fprintf(out, "  export TOKEN=%s\n", token)
	fmt.Fprintf(out, "  # who looked at this passenger?\n")
	fmt.Fprintf(out, "  curl -s -H \"Authorization: Bearer $TOKEN\" %s/api/v1/subjects/cn_id/%s/accesses\n", url, passenger)
	fmt.Fprintf(out, "  # what did this employee look at?\n")
	fmt.Fprintf(out, "  curl -s -H \"Authorization: Bearer $TOKEN\" '%s/api/v1/actors/%s/events?limit=5'\n", url, agent)
	fmt.Fprintf(out, "  # what detection noticed (insiders and attackers are injected live)\n")
	fmt.Fprintf(out, "  curl -s -H \"Authorization: Bearer $TOKEN\" '%s/api/v1/alerts?limit=5'\n", url)
	fmt.Fprintf(out, "  # the SIEM feed in OCSF\n")
	fmt.Fprintf(out, "  curl -s -H \"Authorization: Bearer $TOKEN\" '%s/api/v1/events?format=ocsf&limit=2'\n", url)
	fmt.Fprintf(out, "  # metrics\n")
	fmt.Fprintf(out, "  curl -s %s/metrics | grep custos_ingest\n\n", url)
}

// feeder posts live batches through the HTTP API, as an outside system
// would.
type feeder struct {
	base, token    string
	client         *http.Client
	access, logins int
}

// watchlist lists the airline's celebrity passengers (alert on access)
// and its honeytoken passengers (any access is an alarm).
func (f *feeder) watchlist(ctx context.Context, org *sim.Org) error {
	var evs []policy.WatchEvent
	for _, s := range org.Watchlist() {
		evs = append(evs, policy.WatchEvent{Subject: s, Kind: policy.WatchAlert, Note: "celebrity"})
	}
	for _, s := range org.Honeytokens() {
		evs = append(evs, policy.WatchEvent{Subject: s, Kind: policy.WatchHoneytoken, Note: "honey passenger"})
	}
	return f.post(ctx, "/watchlist", evs)
}

func (f *feeder) emit(ctx context.Context, b sim.Batch) error {
	if len(b.Relationships) > 0 {
		evs := make([]policy.RelationshipEvent, len(b.Relationships))
		for i, r := range b.Relationships {
			evs[i] = policy.RelationshipEvent{Actor: r.Actor, Subject: r.Subject, Kind: r.Kind, Expires: r.Until}
		}
		for len(evs) > 0 {
			n := min(len(evs), 5000)
			if err := f.post(ctx, "/relationships", evs[:n]); err != nil {
				return err
			}
			evs = evs[n:]
		}
	}
	if len(b.Logins) > 0 {
		if err := f.post(ctx, "/logins", b.Logins); err != nil {
			return err
		}
		f.logins += len(b.Logins)
	}
	if len(b.Access) > 0 {
		if err := f.post(ctx, "/events", b.Access); err != nil {
			return err
		}
		f.access += len(b.Access)
	}
	return nil
}

func (f *feeder) post(ctx context.Context, path string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", f.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("post %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("post %s: %s: %w", path, msg, errors.New(resp.Status))
	}
	return nil
}
