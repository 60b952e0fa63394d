package httpgw

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/config"
)

func TestUnauthenticatedNeverReachesUpstream(t *testing.T) {
	h := newHarness(t, appMux(), func(c *Config, d *Deps) {
		c.Identity.Login.Enabled = true
	})
	resp := h.get("/search", "", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", resp.StatusCode)
	}
	resp = h.get("/search", "", "", "Accept", "text/html")
	if resp.StatusCode != http.StatusOK || !strings.Contains(readAll(t, resp.Body), `action="/.custos/login"`) {
		t.Fatalf("browser without identity: status %d, want the login page", resp.StatusCode)
	}
	if n := h.upHits.Load(); n != 0 {
		t.Fatalf("upstream saw %d requests", n)
	}
}

func TestHeaderOnlyFromTrustedProxy(t *testing.T) {
	h := newHarness(t, appMux(), func(c *Config, d *Deps) {
		c.Identity.Header.TrustedProxies = []string{"10.0.0.0/8"}
	})
	resp := h.get("/search", "emp-1", "supervisor")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("header from an untrusted address: status %d, want 401", resp.StatusCode)
	}
	if h.upHits.Load() != 0 {
		t.Fatal("upstream reached")
	}
}

func TestJSONMaskedAndRecorded(t *testing.T) {
	h := newHarness(t, appMux())
	id := cnID(7)
	h.relate("agent-1", "cn_id", id)
	resp := h.get("/passengers/"+id, "agent-1", "agent")
	body := readAll(t, resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("invalid JSON out: %v", err)
	}
	mustContainNone(t, body, id, mobile(1), mobile(2), "张伟明")
	if got["seat"] != "12A" || !strings.HasPrefix(got["mobile"].(string), "138****") {
		t.Errorf("masked body: %s", body)
	}
	if resp.ContentLength != int64(len(body)) {
		t.Errorf("Content-Length %d for %d bytes", resp.ContentLength, len(body))
	}
	ev := h.lastEvent("agent-1")
	if ev.Decision != custos.DecisionMask || ev.Channel != custos.ChannelHTTP || ev.Action != custos.ActionRead {
		t.Errorf("event: decision %s channel %s action %s", ev.Decision, ev.Channel, ev.Action)
	}
	want, _ := h.index.Hash("cn_id", id)
	if len(ev.Subjects) != 1 || ev.Subjects[0].Hash != want || ev.Subjects[0].Value != "" {
		t.Errorf("subjects %+v, want only the passenger's id hash", ev.Subjects)
	}
	if ev.Resource.System != "pss" || ev.Resource.Route != "GET /passengers/{id}" || ev.Bytes != int64(len(body)) {
		t.Errorf("resource %+v bytes %d", ev.Resource, ev.Bytes)
	}
	if !slices.Contains(ev.DataTypes, "cn_id") || !slices.Contains(ev.DataTypes, "cn_mobile") {
		t.Errorf("data types %v", ev.DataTypes)
	}
}

func TestNeedToKnowBeforeUpstream(t *testing.T) {
	h := newHarness(t, appMux())
	id := cnID(8)
	resp := h.get("/passengers/"+id, "agent-2", "agent")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403", resp.StatusCode)
	}
	if h.upHits.Load() != 0 {
		t.Fatal("a request naming an unrelated passenger reached the upstream")
	}
	ev := h.lastEvent("agent-2")
	if ev.Decision != custos.DecisionDeny || ev.Outcome != custos.OutcomeFailure {
		t.Errorf("event decision %s outcome %s", ev.Decision, ev.Outcome)
	}
	// Query parameters name subjects too.
	resp = h.get("/lookup?idno="+id, "agent-2", "agent")
	if resp.StatusCode != http.StatusForbidden || h.upHits.Load() != 0 {
		t.Fatalf("query subject: status %d, upstream hits %d", resp.StatusCode, h.upHits.Load())
	}
	h.relate("agent-2", "cn_id", id)
	resp = h.get("/lookup?idno="+id, "agent-2", "agent")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with a booking: status %d", resp.StatusCode)
	}
}

func TestQuotaByDistinctSubjects(t *testing.T) {
	h := newHarness(t, appMux())
	// 3 passengers per page; quota 5 distinct passengers an hour.
	if r := h.get("/search?n=3&off=0", "agent-3", "agent"); r.StatusCode != http.StatusOK {
		t.Fatalf("first page: %d", r.StatusCode)
	}
	// The same passengers again cost nothing.
	if r := h.get("/search?n=3&off=0", "agent-3", "agent"); r.StatusCode != http.StatusOK {
		t.Fatalf("same page again: %d", r.StatusCode)
	}
	r := h.get("/search?n=3&off=3", "agent-3", "agent")
	body := readAll(t, r.Body)
	if r.StatusCode != http.StatusForbidden || !strings.Contains(body, "quota:agent-passengers") {
		t.Fatalf("over quota: status %d %s", r.StatusCode, body)
	}
	mustContainNone(t, body, cnID(3), cnID(4))
	ev := h.lastEvent("agent-3")
	if ev.Decision != custos.DecisionDeny || !slices.Contains(ev.Rules, "quota:agent-passengers") || ev.Records != 3 {
		t.Errorf("event %+v", ev.AccessEvent)
	}
}

func TestExportNeedsApproval(t *testing.T) {
	mux := appMux()
	mux.HandleFunc("GET /manifest.csv", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		fmt.Fprintf(w, "name,idno,phone\n张伟明,%s,%s\n", cnID(1), mobile(1))
	})
	h := newHarness(t, mux)
	r := h.get("/manifest.csv", "agent-4", "agent")
	body := readAll(t, r.Body)
	if r.StatusCode != http.StatusForbidden || !strings.Contains(body, "approval_required") || !strings.Contains(body, "/api/v1/approvals") {
		t.Fatalf("status %d: %s", r.StatusCode, body)
	}
	mustContainNone(t, body, cnID(1))
	ev := h.lastEvent("agent-4")
	if ev.Action != custos.ActionExport || ev.Decision != custos.DecisionApprovalRequired {
		t.Errorf("event action %s decision %s", ev.Action, ev.Decision)
	}
	// Browsers get a page.
	r = h.get("/manifest.csv", "agent-4", "agent", "Accept", "text/html")
	if b := readAll(t, r.Body); !strings.Contains(b, "<html>") || !strings.Contains(b, "approver") {
		t.Errorf("page: %s", b)
	}
}

func TestCSVMasked(t *testing.T) {
	mux := appMux()
	mux.HandleFunc("GET /manifest.csv", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		fmt.Fprintf(w, "name,idno,phone,seat\r\n张伟明,%s,%s,12A\r\n李娜,%s,%s,\"3,C\"\r\n", cnID(1), mobile(1), cnID(2), mobile(2))
	})
	h := newHarness(t, mux)
	r := h.get("/manifest.csv", "ana-1", "analyst")
	body := readAll(t, r.Body)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", r.StatusCode, body)
	}
	mustContainNone(t, body, cnID(1), cnID(2), mobile(1), mobile(2), "张伟明")
	if !strings.Contains(body, "12A") || !strings.Contains(body, `"3,C"`) || !strings.Contains(body, "\r\n") {
		t.Errorf("structure lost: %q", body)
	}
	ev := h.lastEvent("ana-1")
	if ev.Action != custos.ActionExport || ev.Records != 4 {
		t.Errorf("action %s records %d (two passengers, each with an id and a phone)", ev.Action, ev.Records)
	}
}

func TestHTMLMasked(t *testing.T) {
	h := newHarness(t, appMux())
	r := h.get("/page", "ana-2", "analyst")
	body := readAll(t, r.Body)
	mustContainNone(t, body, mobile(1), cnID(1), cnID(2))
	if !strings.Contains(body, `<input name="idno" value="`) || !strings.Contains(body, "<a title=") {
		t.Errorf("markup changed: %s", body)
	}
}

func TestGzipRewritten(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /search", func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		json.NewEncoder(zw).Encode(map[string]any{"items": []any{passenger(1), passenger(2)}})
		zw.Close()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(buf.Bytes())
	})
	h := newHarness(t, mux)
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/search", nil)
	req.Header.Set("X-Remote-User", "ana-3")
	req.Header.Set("X-Remote-Roles", "analyst")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, zr)
	if !json.Valid([]byte(body)) {
		t.Fatalf("invalid JSON: %s", body)
	}
	mustContainNone(t, body, cnID(1), mobile(1))
}

func TestStreamedJSONLargerThanBuffer(t *testing.T) {
	const n = 400
	mux := http.NewServeMux()
	mux.HandleFunc("GET /search", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"items":[`)
		for i := range n {
			if i > 0 {
				fmt.Fprint(w, ",")
			}
			b, _ := json.Marshal(passenger(i))
			w.Write(b)
			if i%50 == 0 {
				w.(http.Flusher).Flush() // chunked
			}
		}
		fmt.Fprint(w, `]}`)
	})
	h := newHarness(t, mux, func(c *Config, d *Deps) { c.MaxBufferBytes = 4096 })
	r := h.get("/search", "ana-4", "analyst")
	body := readAll(t, r.Body)
	var got struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	if len(got.Items) != n {
		t.Fatalf("%d items, want %d", len(got.Items), n)
	}
	mustContainNone(t, body, cnID(0), cnID(399), mobile(5))
	if r.ContentLength != -1 {
		t.Errorf("streamed response has Content-Length %d", r.ContentLength)
	}
	ev := h.lastEvent("ana-4")
	if ev.Records != n || ev.Bytes != int64(len(body)) {
		t.Errorf("event records %d bytes %d (body %d)", ev.Records, ev.Bytes, len(body))
	}
}

func TestRateLimitPerSession(t *testing.T) {
	h := newHarness(t, appMux(), func(c *Config, d *Deps) {
		c.RateLimit = config.HTTPRateLimit{RequestsPerSecond: 0.001, Burst: 2}
	})
	for i, want := range []int{200, 200, 429} {
		if r := h.get("/search", "sup-1", "supervisor"); r.StatusCode != want {
			t.Fatalf("request %d: status %d, want %d", i, r.StatusCode, want)
		}
	}
	if r := h.get("/search", "sup-2", "supervisor"); r.StatusCode != 200 {
		t.Fatalf("another employee is limited too: %d", r.StatusCode)
	}
	ev := h.lastEvent("sup-1")
	if ev.Decision != custos.DecisionDeny || !slices.Contains(ev.Rules, "rate_limit") {
		t.Errorf("event %+v", ev.AccessEvent)
	}
}

type fixedRisk float64

func (r fixedRisk) Risk(string) float64 { return float64(r) }

func TestStepUpWhenRiskIsHigh(t *testing.T) {
	h := newHarness(t, appMux(), func(c *Config, d *Deps) {
		c.StepUpRisk = 0.8
		d.Risk = fixedRisk(0.9)
	})
	r := h.get("/search", "sup-3", "supervisor")
	if b := readAll(t, r.Body); r.StatusCode != http.StatusForbidden || !strings.Contains(b, "step_up_required") {
		t.Fatalf("status %d: %s", r.StatusCode, b)
	}
	if h.upHits.Load() != 0 {
		t.Fatal("upstream reached")
	}
}

func TestPurposeAndSourceInEvent(t *testing.T) {
	h := newHarness(t, appMux())
	h.get("/search?custos_ticket=INC-7", "sup-4", "supervisor,night", "X-Custos-Purpose", "investigation", "User-Agent", "curl/8")
	ev := h.lastEvent("sup-4")
	if ev.Purpose.Name != "investigation" || ev.Purpose.Ticket != "INC-7" || ev.Source.UserAgent != "curl/8" || ev.Source.IP == "" {
		t.Errorf("purpose %+v source %+v", ev.Purpose, ev.Source)
	}
	if !slices.Equal(ev.Actor.Roles, []string{"supervisor", "night"}) || ev.Action != custos.ActionSearch || ev.Decision != custos.DecisionAllow {
		t.Errorf("actor %+v action %s decision %s", ev.Actor, ev.Action, ev.Decision)
	}
}

func TestNotRecordedMeansNotAnswered(t *testing.T) {
	h := newHarness(t, appMux())
	h.store.Close()
	r := h.get("/search", "sup-5", "supervisor")
	body := readAll(t, r.Body)
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d with the store closed", r.StatusCode)
	}
	mustContainNone(t, body, cnID(0), mobile(0))
}

func TestUnreadableEncodingFailsClosed(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /search", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			t.Errorf("upstream asked for %q", r.Header.Get("Accept-Encoding"))
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "br")
		w.Write([]byte("\x1b\x00not really brotli " + mobile(1)))
	})
	h := newHarness(t, mux)
	r := h.get("/search", "ana-br", "analyst", "Accept-Encoding", "br, gzip")
	body := readAll(t, r.Body)
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d", r.StatusCode)
	}
	mustContainNone(t, body, mobile(1))
	if ev := h.lastEvent("ana-br"); !slices.Contains(ev.Rules, "uninspectable") {
		t.Errorf("rules %v", ev.Rules)
	}
}

func TestPublicRouteAndForgedHeaders(t *testing.T) {
	mux := http.NewServeMux()
	var sawActor, sawUser []string
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		sawActor = append(sawActor, r.Header.Get("X-Custos-Actor"))
		sawUser = append(sawUser, r.Header.Get("X-Remote-User"))
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "ok "+mobile(1))
	})
	h := newHarness(t, mux, func(c *Config, d *Deps) {
		c.Routes = append(c.Routes, config.HTTPRoute{Prefix: "/static/", Upstream: c.Routes[0].Upstream, System: "pss", Public: true})
		c.Identity.Header.TrustedProxies = []string{"10.0.0.0/8"} // the test client is not trusted
	})
	r := h.get("/static/app.js", "", "", "X-Custos-Actor", "emp-forged", "X-Remote-User", "emp-forged")
	if b := readAll(t, r.Body); r.StatusCode != 200 || !strings.Contains(b, mobile(1)) {
		t.Fatalf("public route: %d %s", r.StatusCode, b)
	}
	if sawActor[0] != "" || sawUser[0] != "" {
		t.Errorf("forged identity headers reached the upstream: %q %q", sawActor[0], sawUser[0])
	}
	if evs := h.events("emp-forged"); len(evs) != 0 {
		t.Errorf("public route recorded %d events", len(evs))
	}
}

func TestStreamedGzipNDJSON(t *testing.T) {
	const n = 300
	mux := http.NewServeMux()
	mux.HandleFunc("GET /export.ndjson", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		enc := json.NewEncoder(zw)
		for i := range n {
			enc.Encode(passenger(i))
		}
		zw.Close()
	})
	h := newHarness(t, mux, func(c *Config, d *Deps) { c.MaxBufferBytes = 2048 })
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/export.ndjson", nil)
	req.Header.Set("X-Remote-User", "ana-nd")
	req.Header.Set("X-Remote-Roles", "analyst")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, zr)
	vals, err := decodeAll([]byte(body))
	if err != nil || len(vals) != n {
		t.Fatalf("%d documents, %v", len(vals), err)
	}
	mustContainNone(t, body, cnID(0), cnID(299), mobile(42))
	// 300 ID numbers and 301 distinct phones (each note names the next passenger's).
	if ev := h.lastEvent("ana-nd"); ev.Records != 2*n+1 || ev.Outcome != custos.OutcomeSuccess {
		t.Errorf("records %d outcome %s", ev.Records, ev.Outcome)
	}
}

func TestStreamedOverQuotaIsCut(t *testing.T) {
	h := newHarness(t, appMux(), func(c *Config, d *Deps) { c.MaxBufferBytes = 1024 })
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/search?n=8", nil)
	req.Header.Set("X-Remote-User", "agent-big")
	req.Header.Set("X-Remote-Roles", "agent")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil && json.Valid(body) {
		t.Fatalf("8 passengers over a quota of 5 arrived whole: %s", body)
	}
	mustContainNone(t, string(body), cnID(0), cnID(7))
	ev := h.lastEvent("agent-big")
	if ev.Decision != custos.DecisionDeny || !slices.Contains(ev.Rules, "quota:agent-passengers") || ev.Records != 8 {
		t.Errorf("event %+v", ev.AccessEvent)
	}
}

// TestEventSubjectsSealedOnce: the subjects the gateway seals itself
// (with the hashes it computed for the policy) are stored exactly as the
// pipeline's own sealing would store them: same hash, same masked form,
// no value. The second case gives the pipeline its own Index (same key),
// so the gateway leaves the sealing to it.
func TestEventSubjectsSealedOnce(t *testing.T) {
	for _, own := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipeline-index-%v", own), func(t *testing.T) {
			h := newHarness(t, limitMux(), func(c *Config, d *Deps) {
				if own {
					p := *d.Pipeline
					p.Index = blindCopy(t, d.Index)
					d.Pipeline = &p
				}
			})
			r := h.get("/array?custos_purpose=x", "sealer", "analyst")
			readAll(t, r.Body)
			ev := h.lastEvent("sealer")
			// Two ID numbers and the mobiles of passengers 0, 1, 2, 3, 4
			// (fields and notes), in the order the response shows them.
			var raw []custos.Subject
			for i := range 4 {
				raw = append(raw, custos.Subject{Type: "cn_id", Value: cnID(i)}, custos.Subject{Type: "cn_mobile", Value: mobile(i)})
				if i == 3 {
					raw = append(raw, custos.Subject{Type: "cn_mobile", Value: mobile(4)})
				}
			}
			want := custos.AccessEvent{Subjects: raw}
			if err := h.index.Seal(&want); err != nil {
				t.Fatal(err)
			}
			if len(ev.Subjects) != len(want.Subjects) {
				t.Fatalf("%d subjects, want %d", len(ev.Subjects), len(want.Subjects))
			}
			for _, s := range ev.Subjects {
				if s.Value != "" || !slices.Contains(want.Subjects, s) {
					t.Errorf("subject %+v is not what Seal gives", s)
				}
			}
		})
	}
}
