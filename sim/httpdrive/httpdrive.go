// Package httpdrive drives a simulated organization's staff through the
// demo back office (demo/backoffice) over HTTP, normally through Custos's
// HTTP gateway: every simulated passenger look-up becomes a real request
// (search, view, export) carrying the employee's identity in the trusted
// SSO headers, and scheduled insiders misuse the app the way insiders do —
// an agent opening celebrities with no booking, a crawler enumerating
// passenger records at machine cadence, a bulk exporter of manifests.
//
// Run paces simulated time with sim.Live; what it does not replay over
// HTTP (relationships, logins, the other systems' accesses) it hands to
// Options.Forward, so one simulation feeds both the event API and the app.
package httpdrive

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/sim"
)

// Options configure a driver.
type Options struct {
	// Base is the back office's URL as employees reach it: the gateway's
	// (http://127.0.0.1:8880) or, in tests, the app's own.
	Base string
	Org  *sim.Org
	// Client sends the requests (default: 30 s timeout).
	Client *http.Client
	// Identity headers, as the gateway's trusted SSO header identity
	// expects them (defaults X-Remote-User, X-Remote-Roles, X-Remote-Org).
	UserHeader, RolesHeader, OrgHeader string
	// Live paces the simulation (its Scenarios are injected as usual and
	// their accesses replayed if Replay says so).
	Live sim.LiveOptions
	// Replay says which simulated accesses are made over HTTP (default:
	// those of resource system "reservations", the passenger-service
	// staff's look-ups).
	Replay func(custos.AccessEvent) bool
	// Forward receives every batch's relationships, logins and the
	// accesses not replayed (nil drops them). It is called before the
	// batch's requests, so relationships exist before the look-ups they
	// justify.
	Forward func(context.Context, sim.Batch) error
	// Insiders are scheduled misuse of the app (see DefaultInsiders).
	Insiders []Insider
	// Log receives request failures (URLs never hold personal data in
	// logs: only the path pattern is logged).
	Log *slog.Logger
}

// InsiderKind is a kind of misuse.
type InsiderKind string

const (
	// CelebrityLookup: an agent searches for and opens the watchlisted
	// passengers, with whom they have no booking.
	CelebrityLookup InsiderKind = "celebrity_lookup"
	// Crawler: an account enumerates /api/passengers/{id} sequentially
	// at machine cadence.
	Crawler InsiderKind = "crawler"
	// BulkExport: an account downloads many flight manifests (CSV and
	// XLSX).
	BulkExport InsiderKind = "bulk_export"
)

// Insider is one scheduled misuse.
type Insider struct {
	Kind  InsiderKind
	Actor string // an employee of Org
	// At is when it starts, in simulated time after Live.Start.
	At time.Duration
	// Count is how many records (crawler, default 300) or manifests
	// (exporter, default 40).
	Count int
	// From is the crawler's first record id (default 1).
	From int
	// Every is the wall-clock pause between requests (default 50 ms for
	// the crawler — machine cadence — and 200 ms otherwise).
	Every time.Duration
}

// DefaultInsiders schedules one of each kind early in the first simulated
// working day (Live.Start is midnight UTC, 08:00 in sim.Zone), so a demo
// shows them within minutes at 60x: celebrity look-ups one simulated hour
// in, the crawler at two hours, the bulk exporter at three.
func DefaultInsiders(org *sim.Org) []Insider {
	pick := func(role string) string {
		id := ""
		for _, e := range org.Employees {
			if e.Role == role {
				id = e.ID // the last of the role
			}
		}
		if id == "" && len(org.Employees) > 0 {
			id = org.Employees[0].ID
		}
		return id
	}
	return []Insider{
		{Kind: CelebrityLookup, Actor: pick("agent"), At: time.Hour},
		{Kind: Crawler, Actor: pick("call_center"), At: 2 * time.Hour, Count: 300, From: 1},
		{Kind: BulkExport, Actor: pick("supervisor"), At: 3 * time.Hour, Count: 40},
	}
}

// Stats count the requests made.
type Stats struct {
	Requests int         // all requests sent
	Errors   int         // transport errors (no answer)
	Status   map[int]int // answers by status code
	Insider  int         // requests made by insiders
}

// Driver makes the requests.
type Driver struct {
	opt     Options
	byID    map[string]*sim.Employee
	mu      sync.Mutex
	stats   Stats
	flights []string
}

// New returns a driver; Options.Base and Org are required.
func New(opt Options) (*Driver, error) {
	if opt.Base == "" || opt.Org == nil {
		return nil, errors.New("httpdrive: Base and Org are required")
	}
	opt.Base = strings.TrimSuffix(opt.Base, "/")
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opt.UserHeader == "" {
		opt.UserHeader = "X-Remote-User"
	}
	if opt.RolesHeader == "" {
		opt.RolesHeader = "X-Remote-Roles"
	}
	if opt.OrgHeader == "" {
		opt.OrgHeader = "X-Remote-Org"
	}
	if opt.Replay == nil {
		opt.Replay = func(ev custos.AccessEvent) bool { return ev.Resource.System == "reservations" }
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	d := &Driver{opt: opt, byID: map[string]*sim.Employee{}, stats: Stats{Status: map[int]int{}}}
	for i := range opt.Org.Employees {
		d.byID[opt.Org.Employees[i].ID] = &opt.Org.Employees[i]
	}
	return d, nil
}

// Stats returns a copy of the counts so far.
func (d *Driver) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.Status = make(map[int]int, len(d.stats.Status))
	for k, v := range d.stats.Status {
		s.Status[k] = v
	}
	return s
}

// Run drives the organization until ctx ends (returning nil), Forward
// fails or the back office cannot be reached at all. Insiders still
// running when ctx ends stop with it.
func (d *Driver) Run(ctx context.Context) error {
	start := d.opt.Live.Start
	if start.IsZero() {
		start = time.Now()
		d.opt.Live.Start = start
	}
	pending := append([]Insider(nil), d.opt.Insiders...)
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err := sim.Live(ctx, d.opt.Org, d.opt.Live, func(ctx context.Context, b sim.Batch) error {
		var replay []custos.AccessEvent
		fwd := sim.Batch{Relationships: b.Relationships, Logins: b.Logins}
		var last time.Time
		for _, ev := range b.Access {
			if ev.Time.After(last) {
				last = ev.Time
			}
			if d.opt.Replay(ev) {
				replay = append(replay, ev)
			} else {
				fwd.Access = append(fwd.Access, ev)
			}
		}
		for _, l := range b.Logins {
			if l.Time.After(last) {
				last = l.Time
			}
		}
		if d.opt.Forward != nil && len(fwd.Relationships)+len(fwd.Logins)+len(fwd.Access) > 0 {
			if err := d.opt.Forward(ctx, fwd); err != nil {
				return err
			}
		}
		// Insiders whose simulated time has come start beside the
		// ordinary traffic.
		rest := pending[:0]
		for _, in := range pending {
			if !last.IsZero() && !last.Before(start.Add(in.At)) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := d.Insider(ctx, in); err != nil && ctx.Err() == nil {
						d.opt.Log.Warn("httpdrive: insider", "kind", in.Kind, "actor", in.Actor, "err", err)
					}
				}()
			} else {
				rest = append(rest, in)
			}
		}
		pending = rest
		for _, ev := range replay {
			if err := d.Replay(ctx, ev); err != nil && ctx.Err() == nil {
				d.opt.Log.Warn("httpdrive: replay", "actor", ev.Actor.ID, "err", err)
			}
		}
		return nil
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// Replay makes one simulated access as the request an employee's browser
// or client would send: searches by ID number or phone (HTML or JSON),
// record views by ID number (HTML or JSON), chosen deterministically from
// the event's id.
func (d *Driver) Replay(ctx context.Context, ev custos.AccessEvent) error {
	var cnid, mobile string
	for _, s := range ev.Subjects {
		switch s.Type {
		case custos.TypeCNID:
			cnid = s.Value
		case custos.TypeCNMobile:
			mobile = s.Value
		}
	}
	if cnid == "" && mobile == "" {
		return nil
	}
	h := fnv.New32a()
	io.WriteString(h, ev.ID)
	n := h.Sum32()
	api := n%2 == 0
	var path string
	switch {
	case ev.Action == custos.ActionSearch || cnid == "":
		q := url.Values{}
		if cnid != "" && (mobile == "" || n%3 != 0) {
			q.Set("idno", cnid)
		} else {
			q.Set("phone", mobile)
		}
		path = "/passengers?" + q.Encode()
		if api {
			path = "/api" + path
		}
	default:
		path = "/passengers/" + cnid
		if api {
			path = "/api" + path
		}
	}
	_, err := d.get(ctx, ev.Actor.ID, path, false)
	return err
}

// Insider runs one scheduled misuse now.
func (d *Driver) Insider(ctx context.Context, in Insider) error {
	switch in.Kind {
	case CelebrityLookup:
		return d.celebrities(ctx, in)
	case Crawler:
		return d.crawl(ctx, in)
	case BulkExport:
		return d.export(ctx, in)
	}
	return fmt.Errorf("httpdrive: unknown insider kind %q", in.Kind)
}

func (d *Driver) celebrities(ctx context.Context, in Insider) error {
	every := in.Every
	if every <= 0 {
		every = 200 * time.Millisecond
	}
	for _, p := range d.opt.Org.People {
		if !p.Celebrity {
			continue
		}
		for _, path := range []string{"/passengers?idno=" + p.ID, "/passengers/" + p.ID} {
			if _, err := d.get(ctx, in.Actor, path, true); err != nil {
				return err
			}
			if !sleep(ctx, every) {
				return nil
			}
		}
	}
	return nil
}

func (d *Driver) crawl(ctx context.Context, in Insider) error {
	every, count, from := in.Every, in.Count, in.From
	if every <= 0 {
		every = 50 * time.Millisecond
	}
	if count <= 0 {
		count = 300
	}
	if from <= 0 {
		from = 1
	}
	for id := from; id < from+count; id++ {
		if _, err := d.get(ctx, in.Actor, fmt.Sprintf("/api/passengers/%d", id), true); err != nil {
			return err
		}
		if !sleep(ctx, every) {
			return nil
		}
	}
	return nil
}

func (d *Driver) export(ctx context.Context, in Insider) error {
	every, count := in.Every, in.Count
	if every <= 0 {
		every = 200 * time.Millisecond
	}
	if count <= 0 {
		count = 40
	}
	flights, err := d.flightList(ctx, in.Actor)
	if err != nil {
		return err
	}
	day := d.opt.Live.Start.In(sim.Zone)
	for i := 0; i < count; i++ {
		f := flights[i%len(flights)]
		date := day.AddDate(0, 0, -(i / len(flights))).Format("2006-01-02")
		ext := "csv"
		if i%4 == 3 {
			ext = "xlsx"
		}
		q := url.Values{"flight": {f}, "date": {date}}
		if _, err := d.get(ctx, in.Actor, "/export/manifest."+ext+"?"+q.Encode(), true); err != nil {
			return err
		}
		if !sleep(ctx, every) {
			return nil
		}
	}
	return nil
}

// flightList reads the schedule from the app (it holds no personal data).
func (d *Driver) flightList(ctx context.Context, actor string) ([]string, error) {
	d.mu.Lock()
	have := d.flights
	d.mu.Unlock()
	if have != nil {
		return have, nil
	}
	body, err := d.get(ctx, actor, "/api/flights", true)
	if err != nil {
		return nil, err
	}
	// A tiny scan for "flight":"CU1001" keeps this free of the app's types.
	var out []string
	for _, part := range strings.Split(string(body), `"flight":"`)[1:] {
		if i := strings.IndexByte(part, '"'); i > 0 {
			out = append(out, part[:i])
		}
	}
	if len(out) == 0 {
		return nil, errors.New("httpdrive: the back office lists no flights")
	}
	d.mu.Lock()
	d.flights = out
	d.mu.Unlock()
	return out, nil
}

// get sends one request as employee actor and returns the body (refusals
// by the gateway are answers, not errors).
func (d *Driver) get(ctx context.Context, actor, path string, insider bool) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", d.opt.Base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(d.opt.UserHeader, actor)
	if e := d.byID[actor]; e != nil {
		req.Header.Set(d.opt.RolesHeader, e.Role)
		req.Header.Set(d.opt.OrgHeader, e.OrgUnit)
	}
	if strings.HasPrefix(path, "/api/") {
		req.Header.Set("Accept", "application/json")
	} else {
		req.Header.Set("Accept", "text/html,*/*")
	}
	resp, err := d.opt.Client.Do(req)
	if err != nil && ctx.Err() != nil {
		return nil, nil // stopped, not failed: not counted
	}
	d.mu.Lock()
	d.stats.Requests++
	if insider {
		d.stats.Insider++
	}
	if err != nil {
		d.stats.Errors++
		d.mu.Unlock()
		return nil, fmt.Errorf("httpdrive: GET %s: %w", pattern(path), err)
	}
	d.stats.Status[resp.StatusCode]++
	d.mu.Unlock()
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("httpdrive: GET %s: %w", pattern(path), err)
	}
	return body, nil
}

// pattern is a path without what may identify a person (for logs).
func pattern(path string) string {
	path, _, _ = strings.Cut(path, "?")
	if i := strings.LastIndexByte(path, '/'); i > 0 && strings.HasPrefix(path, "/api/passengers/") || strings.HasPrefix(path, "/passengers/") {
		return path[:i] + "/{id}"
	}
	return path
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
