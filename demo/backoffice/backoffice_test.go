package backoffice_test

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"

	"context"
	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/pii"
	"github.com/xuri/excelize/v2"
	"os"
	"testing"
	"time"

	"github.com/custos-dev/custos/demo/backoffice"
	"github.com/custos-dev/custos/sim"
)

func TestGenerate100k(t *testing.T) {
	if os.Getenv("BACKOFFICE_FULL") == "" {
		t.Skip("set BACKOFFICE_FULL=1")
	}
	org := sim.NewOrg(sim.Config{Kind: sim.Airline, Seed: 1, Employees: 60})
	start := time.Now()
	a, err := backoffice.Open(context.Background(), backoffice.Options{Dir: t.TempDir(), Org: org})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	t.Logf("100k passengers in %v (%d)", time.Since(start), a.Passengers())
}

func small(t *testing.T, dir string) (*backoffice.App, *sim.Org) {
	t.Helper()
	org := sim.NewOrg(sim.Config{Kind: sim.Airline, Seed: 3, Employees: 4})
	a, err := backoffice.Open(context.Background(), backoffice.Options{Dir: dir, Org: org, Passengers: 3000, Seed: 5, Today: today})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, org
}

var today = time.Date(2026, 3, 2, 0, 0, 0, 0, sim.Zone)

func get(t *testing.T, h http.Handler, url string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func dump(t *testing.T, a *backoffice.App) string {
	t.Helper()
	h := sha256.New()
	for id := int64(1); id <= a.Passengers(); id++ {
		rec := get(t, a, fmt.Sprintf("/api/passengers/%d", id))
		h.Write(rec.Body.Bytes())
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestDeterministic(t *testing.T) {
	a, _ := small(t, t.TempDir())
	b, _ := small(t, t.TempDir())
	if a.Passengers() != 3000 || b.Passengers() != 3000 {
		t.Fatalf("passengers %d, %d; want 3000", a.Passengers(), b.Passengers())
	}
	if da, db := dump(t, a), dump(t, b); da != db {
		t.Fatalf("two generations with the same seed differ: %s vs %s", da, db)
	}
}

func TestCacheReused(t *testing.T) {
	dir := t.TempDir()
	small(t, dir)
	files, _ := filepath.Glob(filepath.Join(dir, "*.db"))
	if len(files) != 1 {
		t.Fatalf("want one cached database, have %v", files)
	}
	st1, _ := os.Stat(files[0])
	small(t, dir)
	st2, _ := os.Stat(files[0])
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Fatal("second Open regenerated the database")
	}
}

func TestWatchlistAndHoneytokensArePassengers(t *testing.T) {
	a, org := small(t, t.TempDir())
	for _, list := range [][]custos.Subject{org.Watchlist(), org.Honeytokens()} {
		if len(list) == 0 {
			t.Fatal("org has no watchlist or honeytokens")
		}
		for _, s := range list {
			q := "idno"
			if s.Type == custos.TypeCNMobile {
				q = "phone"
			}
			rec := get(t, a, "/api/passengers?"+q+"="+s.Value)
			var res struct {
				Passengers []backoffice.Passenger `json:"passengers"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || len(res.Passengers) == 0 {
				t.Fatalf("%s: not a passenger (%d %v)", s.Type, rec.Code, err)
			}
		}
	}
	// The organization's people all have a booking, so their pages show
	// a travel record.
	p := org.People[0]
	rec := get(t, a, "/api/passengers/"+p.ID)
	var v struct {
		Passenger backoffice.Passenger `json:"passenger"`
		Bookings  []backoffice.Booking `json:"bookings"`
		History   []backoffice.Booking `json:"history"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Passenger.CNID != p.ID || v.Passenger.Mobile != p.Mobile || len(v.Bookings)+len(v.History) == 0 {
		t.Fatalf("celebrity record: %+v", v)
	}
}

func TestPassengerData(t *testing.T) {
	a, _ := small(t, t.TempDir())
	for id := int64(1); id <= a.Passengers(); id += 97 {
		var v struct {
			Passenger backoffice.Passenger `json:"passenger"`
		}
		rec := get(t, a, fmt.Sprintf("/api/passengers/%d", id))
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		p := v.Passenger
		if !pii.Valid(custos.TypeCNID, p.CNID) {
			t.Errorf("passenger %d: invalid ID number", id)
		}
		if sim.CNIDCheck(p.CNID[:17]) != p.CNID[17] {
			t.Errorf("passenger %d: bad check digit", id)
		}
		if !pii.Valid(custos.TypeCNMobile, p.Mobile) {
			t.Errorf("passenger %d: invalid mobile", id)
		}
		if p.Name == "" || !strings.Contains(p.Email, "@example.") && !strings.Contains(p.Email, ".example.") || p.BirthDate != p.CNID[6:10]+"-"+p.CNID[10:12]+"-"+p.CNID[12:14] {
			t.Errorf("passenger %d: %+v", id, p)
		}
	}
}

func TestRoutes(t *testing.T) {
	a, org := small(t, t.TempDir())
	flight := backoffice.Flights()[0].Flight
	date := today.Format("2006-01-02")
	celeb := org.People[0]
	tests := []struct {
		url, ctype string
		status     int
		contains   string
	}{
		{"/", "text/html", 200, "Find a passenger"},
		{"/static/style.css", "text/css", 200, "body"},
		{"/passengers?idno=" + celeb.ID, "text/html", 200, celeb.Mobile},
		{"/passengers?phone=" + celeb.Mobile, "text/html", 200, celeb.ID},
		{"/passengers?q=nobody-like-this", "text/html", 200, "No passenger matches"},
		{"/passengers/1", "text/html", 200, "Travel history"},
		{"/passengers/" + celeb.ID, "text/html", 200, celeb.Mobile},
		{"/passengers/999999", "text/html", 404, "No such passenger"},
		{"/flights/" + flight + "/" + date, "text/html", 200, flight},
		{"/api/passengers?idno=" + celeb.ID, "application/json", 200, celeb.Mobile},
		{"/api/passengers", "application/json", 400, "error"},
		{"/api/passengers/2", "application/json", 200, `"history"`},
		{"/api/passengers/x", "application/json", 404, "not found"},
		{"/api/flights", "application/json", 200, flight},
		{"/api/flights/" + flight + "/" + date + "/manifest", "application/json", 200, `"passengers"`},
		{"/api/flights/XX1/" + date + "/manifest", "application/json", 404, "error"},
		{"/export/manifest.csv?flight=" + flight + "&date=" + date, "text/csv", 200, "cn_id"},
		{"/export/manifest.xlsx?flight=" + flight + "&date=" + date, "application/vnd.openxmlformats", 200, ""},
		{"/export/manifest.csv?flight=" + flight, "text/plain", 404, "no such"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			rec := get(t, a, tc.url)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
				t.Fatalf("content type %q, want %q", ct, tc.ctype)
			}
			if !strings.Contains(rec.Body.String(), tc.contains) {
				t.Fatalf("body lacks %q", tc.contains)
			}
			if strings.HasPrefix(tc.ctype, "application/json") && !json.Valid(rec.Body.Bytes()) {
				t.Fatal("invalid JSON")
			}
		})
	}
}

func TestSearch(t *testing.T) {
	a, _ := small(t, t.TempDir())
	var v struct {
		Passenger backoffice.Passenger `json:"passenger"`
		History   []backoffice.Booking `json:"history"`
		Bookings  []backoffice.Booking `json:"bookings"`
	}
	json.Unmarshal(get(t, a, "/api/passengers/1").Body.Bytes(), &v)
	p := v.Passenger
	queries := []string{"q=" + url.QueryEscape(p.Name), "q=" + url.QueryEscape(p.Pinyin), "q=" + p.FFP, "q=" + url.QueryEscape(p.Email), "idno=" + p.CNID, "phone=" + p.Mobile}
	if b := append(v.Bookings, v.History...); len(b) > 0 {
		queries = append(queries, "q="+b[0].PNR)
	}
	for _, q := range queries {
		var res struct {
			Count      int                    `json:"count"`
			Passengers []backoffice.Passenger `json:"passengers"`
		}
		rec := get(t, a, "/api/passengers?"+q)
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		found := false
		for _, r := range res.Passengers {
			found = found || r.ID == p.ID
		}
		if !found || res.Count != len(res.Passengers) || res.Count > backoffice.MaxResults {
			t.Errorf("%s: passenger 1 not among %d results", q, res.Count)
		}
	}
}

func TestExports(t *testing.T) {
	a, _ := small(t, t.TempDir())
	flight, date := backoffice.Flights()[3].Flight, today.AddDate(0, 0, -2).Format("2006-01-02")
	var m struct {
		Passengers []backoffice.ManifestEntry `json:"passengers"`
	}
	json.Unmarshal(get(t, a, "/api/flights/"+flight+"/"+date+"/manifest").Body.Bytes(), &m)
	if len(m.Passengers) == 0 {
		t.Fatal("empty manifest")
	}
	rec := get(t, a, "/export/manifest.csv?flight="+flight+"&date="+date)
	if cd := rec.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
		t.Fatalf("Content-Disposition %q", cd)
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(m.Passengers)+1 || rows[0][7] != "cn_id" || rows[1][7] != m.Passengers[0].CNID {
		t.Fatalf("csv: %d rows for %d passengers; header %v", len(rows), len(m.Passengers), rows[0])
	}
	rec = get(t, a, "/export/manifest.xlsx?flight="+flight+"&date="+date)
	f, err := excelize.OpenReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	xrows, err := f.GetRows("Manifest")
	if err != nil {
		t.Fatal(err)
	}
	if len(xrows) != len(rows) || xrows[1][7] != rows[1][7] {
		t.Fatalf("xlsx: %d rows, csv %d", len(xrows), len(rows))
	}
}

func TestShowsGatewayIdentity(t *testing.T) {
	a, _ := small(t, t.TempDir())
	rec := get(t, a, "/", backoffice.ActorHeader, "airline-e0001", backoffice.RolesHeader, "agent")
	if !strings.Contains(rec.Body.String(), "signed in as <b>airline-e0001</b> (agent)") {
		t.Fatal("actor not shown")
	}
	if rec := get(t, a, "/"); !strings.Contains(rec.Body.String(), "not signed in") {
		t.Fatal("direct access not shown")
	}
}
