// Command console measures the web console's server time per page over a
// large event store: it loads synthetic access events (10 M by default)
// and alerts into a data directory, brings the console's roll-ups up to
// date, signs in as each role through the real login form (password and
// TOTP), and renders every page many times in-process (handler time, no
// network), printing p50 / p95 / max per page.
//
//	go run ./bench/console -dir /var/tmp/custos-console-10m -events 10000000
//	go run ./bench/console -dir /var/tmp/custos-console-10m -events 10000000 -load=false
//
// The load writes the database file directly by default (see bulkLoad);
// -bulk=false loads through the store's AppendAccess instead.
//
// Events are a pure function of (seed, index), so a reused data dir and
// the page sampler agree on what was loaded.
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/approval"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/console"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/store/sqlite"
)

type config struct {
	dir      string
	events   int
	actors   int
	subjects int
	days     int
	alerts   int
	renders  int
	from     int
	load     bool
	bulk     bool
	seed     uint64
}

func main() {
	var c config
	flag.StringVar(&c.dir, "dir", "", "data directory (required)")
	flag.IntVar(&c.events, "events", 10_000_000, "events to load")
	flag.IntVar(&c.actors, "actors", 5000, "distinct actors")
	flag.IntVar(&c.subjects, "subjects", 2_000_000, "distinct data subjects")
	flag.IntVar(&c.days, "days", 60, "days the events are spread over, ending now")
	flag.IntVar(&c.alerts, "alerts", 5000, "alerts to store")
	flag.IntVar(&c.renders, "renders", 50, "renders per page")
	flag.BoolVar(&c.load, "load", true, "load events (false: reuse a dir loaded with the same flags)")
	flag.BoolVar(&c.bulk, "bulk", true, "load into a new dir directly (no fsync, indexes built at the end); false: through AppendAccess")
	flag.IntVar(&c.from, "from", 0, "first event index to load (resume a load cut short)")
	flag.Uint64Var(&c.seed, "seed", 1, "seed")
	flag.Parse()
	if c.dir == "" {
		fmt.Fprintln(os.Stderr, "-dir is required")
		os.Exit(2)
	}
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "bench/console:", err)
		os.Exit(1)
	}
}

var categories = [][]string{
	{custos.CategoryIdentity, custos.CategoryContact},
	{custos.CategoryWhereabouts, custos.CategoryIdentity},
	{custos.CategoryCredit},
	{custos.CategoryFinancial, custos.CategoryTransaction},
	{custos.CategoryContact},
	{custos.CategoryAccommodation, custos.CategoryWhereabouts},
}

func email(n int) string { return fmt.Sprintf("p%07d@example.com", n) }

// event i: an actor reads 1-3 people (e-mail subjects, blind-indexed with
// the bench's fixed key) in one of a few category mixes.
func event(c config, idx *blind.Index, start time.Time, step time.Duration, i int) custos.AccessEvent {
	r := rand.New(rand.NewPCG(c.seed, uint64(i)))
	actor := r.IntN(c.actors)
	e := custos.AccessEvent{
		ID:         fmt.Sprintf("ev-%010d", i),
		Time:       start.Add(time.Duration(i) * step),
		Actor:      custos.Actor{ID: fmt.Sprintf("emp-%05d", actor), Roles: []string{"agent"}},
		Source:     custos.Source{IP: fmt.Sprintf("10.%d.%d.%d", actor/65536%256, actor/256%256, actor%256)},
		Channel:    custos.ChannelIngest,
		Action:     custos.ActionRead,
		Resource:   custos.Resource{System: "pss", Object: "passengers"},
		Purpose:    custos.Purpose{Name: "customer_service", Ticket: fmt.Sprintf("INC-%d", r.IntN(1_000_000))},
		Categories: categories[r.IntN(len(categories))],
		DataTypes:  []string{custos.TypeEmail},
		Decision:   custos.DecisionAllow,
		Outcome:    custos.OutcomeSuccess,
	}
	n := 1 + r.IntN(3)
	for range n {
		v := email(r.IntN(c.subjects))
		h, _ := idx.Hash(custos.TypeEmail, v)
		e.Subjects = append(e.Subjects, custos.Subject{Type: custos.TypeEmail, Hash: h, Masked: mask.Partial(custos.TypeEmail, v)})
	}
	e.Records = int64(n)
	return e
}

func run(ctx context.Context, c config) error {
	key := sha256.Sum256([]byte("bench/console key"))
	idx, err := blind.New(key[:])
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	// The events end at the hour the load started (recorded on first load).
	endFile := c.dir + "/bench-end"
	var end time.Time
	if b, err := os.ReadFile(endFile); err == nil {
		end, _ = time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	} else {
		end = time.Now().UTC().Truncate(time.Hour)
		os.WriteFile(endFile, []byte(end.Format(time.RFC3339)), 0o600)
	}
	span := time.Duration(c.days) * 24 * time.Hour
	start, step := end.Add(-span), span/time.Duration(c.events)
	if c.load && c.bulk {
		if err := bulkLoad(ctx, c, idx, start, step); err != nil {
			return err
		}
	}
	if c.bulk {
		if err := bulkRollUp(ctx, c, idx, start, step); err != nil {
			return err
		}
	}
	st, err := sqlite.Open(ctx, c.dir)
	if err != nil {
		return err
	}
	defer st.Close()
	if c.load && !c.bulk {
		if err := load(ctx, c, st, idx, start, step); err != nil {
			return err
		}
	}
	t0 := time.Now()
	var rolled int
	for {
		n, err := st.RollUpConsole(ctx, 200_000)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		rolled += n
	}
	if rolled > 0 {
		d := time.Since(t0)
		fmt.Printf("roll-up: %d events in %s (%.0f events/s)\n", rolled, d.Round(time.Millisecond), float64(rolled)/d.Seconds())
	}
	// The store may hold fewer events than -events (a load cut short):
	// alerts and "now" follow what is there.
	chans, err := st.ConsoleChannels(ctx)
	if err != nil {
		return err
	}
	var stored int64
	for _, ch := range chans {
		stored += ch.Events
		if h := ch.LastHour.Add(time.Hour); h.Before(end) {
			end = h
		}
	}
	if stored == 0 {
		return fmt.Errorf("no events in %s", c.dir)
	}
	if err := storeAlerts(ctx, c, st, int(stored), start, step); err != nil {
		return err
	}
	return renders(ctx, c, st, idx, stored, end)
}

func load(ctx context.Context, c config, st *sqlite.Store, idx *blind.Index, start time.Time, step time.Duration) error {
	const batch, writers = 5000, 2
	begin := time.Now()
	batches := make(chan []custos.AccessEvent, 2*writers)
	go func() {
		defer close(batches)
		for i := c.from; i < c.events; i += batch {
			b := make([]custos.AccessEvent, 0, batch)
			for j := i; j < min(i+batch, c.events); j++ {
				b = append(b, event(c, idx, start, step, j))
			}
			batches <- b
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	stored := c.from
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				res, err := st.AppendAccess(ctx, b)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				stored += res.Stored
				if stored%1_000_000 < batch {
					fmt.Fprintf(os.Stderr, "loaded %d events (%s)\n", stored, time.Since(begin).Round(time.Second))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	d := time.Since(begin)
	fmt.Printf("load: %d events in %s (%.0f events/s)\n", stored-c.from, d.Round(time.Second), float64(stored-c.from)/d.Seconds())
	return nil
}

// storeAlerts upserts the synthetic alerts (idempotent: also on reuse).
func storeAlerts(ctx context.Context, c config, st *sqlite.Store, stored int, start time.Time, step time.Duration) error {
	var alerts []custos.AlertRecord
	sev := []string{"low", "medium", "high", "critical"}
	rules := []string{"bulk_access", "off_hours", "watchlist", "enumeration", "no_relationship"}
	for i := range c.alerts {
		at := start.Add(time.Duration(stored/c.alerts*i) * step)
		alerts = append(alerts, custos.AlertRecord{
			ID: fmt.Sprintf("al-%06d", i), Rule: rules[i%len(rules)], Severity: sev[i%len(sev)],
			Actor: fmt.Sprintf("emp-%05d", i*7%c.actors), FirstSeen: at.Add(-time.Hour), LastSeen: at,
			Summary: "synthetic alert", Doc: []byte(fmt.Sprintf(`{"evidence":["ev-%010d"],"subjects":["p***@example.com"],"threshold":20,"observed":31,"events":31}`, stored/c.alerts*i)),
		})
	}
	return st.UpsertAlerts(ctx, alerts)
}

// cpuTime is the process's user and system CPU time: on a shared machine
// the wall-clock time of a render includes waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// client signs in through the login form and keeps the session cookie.
type client struct {
	h      http.Handler
	cookie string
	csrf   string
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (cl *client) do(method, path string, form url.Values) (*httptest.ResponseRecorder, time.Duration) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cl.cookie != "" {
		req.Header.Set("Cookie", cl.cookie)
	}
	rec := httptest.NewRecorder()
	t := time.Now()
	cl.h.ServeHTTP(rec, req)
	return rec, time.Since(t)
}

func signIn(ctx context.Context, h http.Handler, st *sqlite.Store, name string, role console.Role, now time.Time) (*client, error) {
	const password = "bench password 1"
	nu, err := console.CreateUser(ctx, st, name+fmt.Sprint(time.Now().UnixNano()), role, password, 1000)
	if err != nil {
		return nil, err
	}
	cl := &client{h: h}
	rec, _ := cl.do("GET", "/console/login", nil)
	m := csrfRe.FindStringSubmatch(rec.Body.String())
	if m == nil {
		return nil, fmt.Errorf("no csrf on the login page")
	}
	var loginCookie string
	for _, ck := range rec.Result().Cookies() {
		loginCookie = ck.Name + "=" + ck.Value
	}
	cl.cookie = loginCookie
	code, _ := totp.GenerateCode(nu.TOTPSecret, now)
	rec, _ = cl.do("POST", "/console/login", url.Values{"csrf": {m[1]}, "name": {nu.Name}, "password": {password}, "code": {code}})
	if rec.Code != http.StatusSeeOther {
		return nil, fmt.Errorf("login as %s: status %d", role, rec.Code)
	}
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == "custos_session" {
			cl.cookie = ck.Name + "=" + ck.Value
		}
	}
	rec, _ = cl.do("GET", "/console/policy", nil)
	if m := csrfRe.FindStringSubmatch(rec.Body.String()); m != nil {
		cl.csrf = m[1]
	}
	return cl, nil
}

func renders(ctx context.Context, c config, st *sqlite.Store, idx *blind.Index, stored int64, end time.Time) error {
	svc, err := approval.New([]approval.Rule{{ID: "bench", ApproverRoles: []string{"approver"}}})
	if err != nil {
		return err
	}
	for i := range 50 {
		svc.Submit(ctx, approval.Identity{ID: fmt.Sprintf("emp-%05d", i)}, approval.NewRequest{
			Kind: approval.KindUnmask, Scope: approval.Scope{System: "pss"}, Reason: "bench request number " + fmt.Sprint(i)})
	}
	con, err := console.New(console.Options{
		Store: st, Pipeline: &ingest.Pipeline{Store: st, Index: idx}, Index: idx, Approvals: svc,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Now: func() time.Time { return end },
	})
	if err != nil {
		return err
	}
	h := con.Handler()
	inv, err := signIn(ctx, h, st, "inv", console.RoleInvestigator, end)
	if err != nil {
		return err
	}
	appr, err := signIn(ctx, h, st, "appr", console.RoleApprover, end)
	if err != nil {
		return err
	}
	aud, err := signIn(ctx, h, st, "aud", console.RoleAuditor, end)
	if err != nil {
		return err
	}
	pages := []struct {
		name   string
		cl     *client
		method string
		path   func(i int) string
		form   func(i int) url.Values
	}{
		{"overview", inv, "GET", func(int) string { return "/console/" }, nil},
		{"alert queue (open)", inv, "GET", func(int) string { return "/console/alerts" }, nil},
		{"alert queue (all)", inv, "GET", func(int) string { return "/console/alerts?status=all" }, nil},
		{"alert detail", inv, "GET", func(i int) string { return fmt.Sprintf("/console/alerts/al-%06d", i*97%c.alerts) }, nil},
		{"actor timeline", inv, "GET", func(i int) string { return fmt.Sprintf("/console/actors/emp-%05d", (i*131+42)%c.actors) }, nil},
		{"subject search (recorded)", inv, "POST", func(int) string { return "/console/subjects" }, func(i int) url.Values {
			return url.Values{"csrf": {inv.csrf}, "type": {"email"}, "value": {email(i * 7919 % c.subjects)}, "purpose": {"bench"}}
		}},
		{"approvals inbox", appr, "GET", func(int) string { return "/console/approvals" }, nil},
		{"console audit", aud, "GET", func(int) string { return "/console/audit" }, nil},
		{"policy and catalogue", aud, "GET", func(int) string { return "/console/policy" }, nil},
	}
	fmt.Printf("\n%d events stored; %d renders per page (server time in the handler)\n\n", stored, c.renders)
	fmt.Println("| page | p50 | p95 | max | CPU per render |")
	fmt.Println("|---|---|---|---|---|")
	for _, p := range pages {
		var ds []time.Duration
		cpu0 := cpuTime()
		for i := range c.renders {
			var form url.Values
			if p.form != nil {
				form = p.form(i)
			}
			rec, d := p.cl.do(p.method, p.path(i), form)
			if rec.Code != http.StatusOK {
				return fmt.Errorf("%s: status %d", p.name, rec.Code)
			}
			ds = append(ds, d)
		}
		cpu := (cpuTime() - cpu0) / time.Duration(c.renders)
		slices.Sort(ds)
		ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
		fmt.Printf("| %s | %s | %s | %s | %s |\n", p.name, ms(ds[len(ds)/2]), ms(ds[len(ds)*95/100]), ms(ds[len(ds)-1]), ms(cpu))
	}
	return nil
}
