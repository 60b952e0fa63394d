package httpdrive_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custos-dev/custos/demo/backoffice"
	"github.com/custos-dev/custos/sim"
	"github.com/custos-dev/custos/sim/httpdrive"
)

type seen struct {
	user, roles, org, path string
	status                 int
}

type recorder struct {
	h    http.Handler
	mu   sync.Mutex
	reqs []seen
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, status: 200}
	// The app is reached directly here: pass the identity on as the
	// gateway would.
	r.Header.Set(backoffice.ActorHeader, r.Header.Get("X-Remote-User"))
	rec.h.ServeHTTP(sw, r)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, seen{r.Header.Get("X-Remote-User"), r.Header.Get("X-Remote-Roles"), r.Header.Get("X-Remote-Org"), r.URL.RequestURI(), sw.status})
	rec.mu.Unlock()
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(c int) { s.status = c; s.ResponseWriter.WriteHeader(c) }

func TestDriveBackOffice(t *testing.T) {
	org := sim.NewOrg(sim.Config{Kind: sim.Airline, Seed: 2, Employees: 8})
	app, err := backoffice.Open(context.Background(), backoffice.Options{Dir: t.TempDir(), Org: org, Passengers: 5000, Today: sim.SuiteStart})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	rec := &recorder{h: app}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)

	insiders := []httpdrive.Insider{
		{Kind: httpdrive.CelebrityLookup, Actor: "airline-e0001", At: 9 * time.Hour, Every: time.Millisecond},
		{Kind: httpdrive.Crawler, Actor: "airline-e0004", At: 10 * time.Hour, Count: 30, From: 100, Every: time.Millisecond},
		{Kind: httpdrive.BulkExport, Actor: "airline-e0008", At: 11 * time.Hour, Count: 5, Every: time.Millisecond},
	}
	var fmu sync.Mutex
	var forwarded sim.Batch
	d, err := httpdrive.New(httpdrive.Options{
		Base: srv.URL,
		Org:  org,
		Live: sim.LiveOptions{Start: sim.SuiteStart, Speedup: 36000, Tick: 10 * time.Millisecond, MaxAhead: -1},
		Forward: func(_ context.Context, b sim.Batch) error {
			fmu.Lock()
			defer fmu.Unlock()
			forwarded.Relationships = append(forwarded.Relationships, b.Relationships...)
			forwarded.Logins = append(forwarded.Logins, b.Logins...)
			forwarded.Access = append(forwarded.Access, b.Access...)
			return nil
		},
		Insiders: insiders,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Run until the insiders are done and the working day is under way
	// (10 simulated hours a second; a loaded machine may need longer).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			st := d.Stats()
			if st.Insider >= 20+30+1+5 && st.Requests-st.Insider >= 40 {
				cancel()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if err := d.Run(ctx); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()

	employees := map[string]sim.Employee{}
	for _, e := range org.Employees {
		employees[e.ID] = e
	}
	by := map[string][]string{}
	for _, s := range rec.reqs {
		e, ok := employees[s.user]
		if !ok || s.roles != e.Role || s.org != e.OrgUnit {
			t.Fatalf("request %s with identity %q/%q/%q", s.path, s.user, s.roles, s.org)
		}
		if s.status != http.StatusOK {
			t.Errorf("%s: status %d", s.path, s.status)
		}
		by[s.user] = append(by[s.user], s.path)
	}
	st := d.Stats()
	// Requests cut short by the end of the run are not counted.
	if st.Errors != 0 || st.Status[200] != st.Requests || st.Requests > len(rec.reqs) || st.Requests < len(rec.reqs)-2 {
		t.Fatalf("stats %+v for %d requests", st, len(rec.reqs))
	}

	// The crawler enumerates records in order at machine cadence.
	var crawl []string
	for _, p := range by["airline-e0004"] {
		if strings.HasPrefix(p, "/api/passengers/") && !strings.Contains(p, "?") && len(p) < 24 {
			crawl = append(crawl, p)
		}
	}
	if len(crawl) != 30 {
		t.Fatalf("crawler made %d record requests, want 30", len(crawl))
	}
	for i, p := range crawl {
		if want := fmt.Sprintf("/api/passengers/%d", 100+i); p != want {
			t.Fatalf("crawl[%d] = %s, want %s", i, p, want)
		}
	}
	// The exporter downloads manifests.
	exports := 0
	for _, p := range by["airline-e0008"] {
		if strings.HasPrefix(p, "/export/manifest.") {
			exports++
		}
	}
	if exports != 5 {
		t.Fatalf("exporter downloaded %d manifests, want 5", exports)
	}
	// The agent opens every celebrity.
	for _, p := range org.People {
		if !p.Celebrity {
			continue
		}
		found := false
		for _, path := range by["airline-e0001"] {
			found = found || path == "/passengers/"+p.ID
		}
		if !found {
			t.Fatal("the agent did not open a celebrity's record")
		}
	}
	// Ordinary staff work through the app too, and everything else was
	// forwarded.
	ordinary := 0
	for user, paths := range by {
		if user != "airline-e0004" && user != "airline-e0008" {
			ordinary += len(paths)
		}
	}
	if ordinary < 20 {
		t.Fatalf("only %d ordinary requests", ordinary)
	}
	if len(forwarded.Relationships) == 0 || len(forwarded.Logins) == 0 {
		t.Fatalf("forwarded %d relationships, %d logins", len(forwarded.Relationships), len(forwarded.Logins))
	}
	for _, a := range forwarded.Access {
		if a.Resource.System == "reservations" {
			t.Fatal("a reservations access was forwarded instead of replayed")
		}
	}
	t.Logf("%d requests (%d insider), %d accesses forwarded", st.Requests, st.Insider, len(forwarded.Access))
}
