package httpgw

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/store/sqlite"
)

const testPolicy = `version: 1
name: gw-test
defaults:
  sensitive: deny
  other: mask
rules:
  - id: wsagent-own-booking
    match: {roles: [wsagent]}
    when: 'has_relationship(actor, subjects, "booking")'
    decision: mask
  - id: wsagent-open
    match: {roles: [wsagent]}
    when: 'size(subjects) == 0'
    decision: mask
  - id: wsagent-no-relationship
    match: {roles: [wsagent]}
    decision: deny
  - id: clerk-cap
    match: {roles: [clerk]}
    decision: limit
    limit: 2
  - id: clerk-mask
    match: {roles: [clerk]}
    decision: mask
  - id: streamer-mask
    match: {roles: [streamer]}
    decision: mask
  - id: exports-need-approval
    match: {actions: [export], roles: [agent]}
    decision: approval_required
  - id: supervisor-allow
    match: {roles: [supervisor]}
    decision: allow
  - id: analyst-mask
    match: {roles: [analyst]}
    decision: mask
  - id: agent-own-booking
    match: {systems: [pss], roles: [agent]}
    when: 'has_relationship(actor, subjects, "booking")'
    decision: mask
    mask: {cn_mobile: partial}
  - id: agent-search
    match: {systems: [pss], roles: [agent], actions: [search]}
    decision: mask
  - id: agent-no-relationship
    match: {systems: [pss], roles: [agent]}
    decision: deny
quotas:
  - id: clerk-subjects
    match: {roles: [clerk]}
    subjects: 6
    window: 1h
    on_exceed: deny
  - id: streamer-subjects
    match: {roles: [streamer]}
    subjects: 3
    window: 1h
    on_exceed: deny
  - id: agent-passengers
    match: {roles: [agent]}
    subjects: 5
    window: 1h
    on_exceed: deny
`

const testCatalog = `version: 1
resources:
  - system: pss
    route: GET /passengers/{id}
    fields:
      $.idNo: {type: cn_id, subject_key: true}
      $.name: {type: cn_name}
      $.mobile: {type: cn_mobile}
  - system: pss
    route: GET /search
    fields:
      $.items[*].idNo: {type: cn_id, subject_key: true}
      $.items[*].name: {type: cn_name}
      $.items[*].mobile: {type: cn_mobile}
`

// cnID returns a valid 18-digit resident ID number for a serial.
func cnID(serial int) string {
	base := fmt.Sprintf("11010519900307%03d", serial%1000)
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(base[i]-'0') * w
	}
	return base + string("10X98765432"[sum%11])
}

// mobile returns a valid mainland mobile number for a serial.
func mobile(serial int) string { return fmt.Sprintf("1381234%04d", serial%10000) }

type harness struct {
	t       *testing.T
	store   *sqlite.Store
	index   *blind.Index
	rel     *policy.Relationships
	gw      *Gateway
	srv     *httptest.Server // the gateway
	up      *httptest.Server // the upstream application
	upHits  atomic.Int64
	cfg     Config
	deps    Deps
	handler http.Handler
}

type harnessOpt func(*Config, *Deps)

// harnessKey is the blind-index key of the harness being built, for an
// option that needs a second Index with the same key (tests do not run in
// parallel).
var harnessKey []byte

// blindCopy is a second Index with the harness's key.
func blindCopy(t *testing.T, _ *blind.Index) *blind.Index {
	t.Helper()
	idx, err := blind.New(harnessKey)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// newHarness starts an upstream (mux), a real sqlite store in a temp dir
// and the gateway in front, trusting the X-Remote-User header from
// loopback.
func newHarness(t *testing.T, upstream http.Handler, opts ...harnessOpt) *harness {
	t.Helper()
	h := &harness{t: t, handler: upstream}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, blind.KeySize)
	rand.Read(key)
	harnessKey = key
	idx, err := blind.New(key)
	if err != nil {
		t.Fatal(err)
	}
	h.store, h.index = st, idx
	h.rel = policy.NewRelationships()
	opt := policy.Options{Relationships: h.rel}
	p, err := policy.Parse("test", []byte(testPolicy), opt)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Parse("catalog", []byte(testCatalog))
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := mask.NewTokenizer(key)
	h.up = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.upHits.Add(1)
		upstream.ServeHTTP(w, r)
	}))
	t.Cleanup(h.up.Close)
	cfg := config.DefaultHTTPGateway()
	cfg.Enabled = true
	cfg.Routes = []config.HTTPRoute{{
		Prefix: "/", Upstream: h.up.URL, System: "pss",
		Endpoints: []config.HTTPEndpoint{
			{Pattern: "GET /passengers/{id}", Subjects: []config.HTTPSubjectParam{{Path: "id", Type: "cn_id"}}},
			{Pattern: "GET /search", Action: "search"},
			{Pattern: "GET /lookup", Subjects: []config.HTTPSubjectParam{{Query: "idno", Type: "cn_id"}}},
		},
	}}
	cfg.Identity.Header.TrustedProxies = []string{"127.0.0.0/8", "::1/128"}
	deps := Deps{
		Pipeline: &ingest.Pipeline{Store: st, Index: idx},
		Index:    idx,
		Policy:   &policy.Engine{Policies: policy.NewHolderWith(p, opt, nil), Catalog: cat, Quotas: policy.NewQuotas()},
		Catalog:  cat,
		Masker:   &mask.Masker{Tokens: tok},
	}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	h.cfg, h.deps = cfg, deps
	gw, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	h.gw = gw
	h.srv = httptest.NewUnstartedServer(gw)
	h.srv.EnableHTTP2 = true
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	return h
}

// get sends a GET through the gateway as actor with roles ("" for none).
func (h *harness) get(path, actor, roles string, hdr ...string) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.srv.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if actor != "" {
		req.Header.Set("X-Remote-User", actor)
		req.Header.Set("X-Remote-Roles", roles)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// events returns the actor's stored access events, oldest first.
func (h *harness) events(actor string) []custos.StoredAccess {
	h.t.Helper()
	evs, err := h.store.ActorAccesses(context.Background(), actor, custos.Query{Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

// lastEvent is the actor's newest event; the test fails if there is none.
func (h *harness) lastEvent(actor string) custos.StoredAccess {
	h.t.Helper()
	evs := h.events(actor)
	if len(evs) == 0 {
		h.t.Fatalf("no event stored for %s", actor)
	}
	return evs[len(evs)-1]
}

func (h *harness) relate(actor, typ, value string) {
	hash, err := h.index.Hash(typ, value)
	if err != nil {
		h.t.Fatal(err)
	}
	h.rel.Add(policy.Relationship{Actor: actor, Subject: hash, Kind: "booking", Expires: time.Now().Add(time.Hour)})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func passenger(i int) map[string]any {
	return map[string]any{"idNo": cnID(i), "name": "张伟明", "mobile": mobile(i), "seat": "12A",
		"note": fmt.Sprintf("call %s before boarding", mobile(i+1))}
}

// appMux is the test back office.
func appMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /passengers/{id}", func(w http.ResponseWriter, r *http.Request) {
		p := passenger(1)
		p["idNo"] = r.PathValue("id")
		writeJSON(w, p)
	})
	mux.HandleFunc("GET /search", func(w http.ResponseWriter, r *http.Request) {
		n := 3
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		off := 0
		fmt.Sscan(r.URL.Query().Get("off"), &off)
		var items []any
		for i := range n {
			items = append(items, passenger(off+i))
		}
		writeJSON(w, map[string]any{"total": n, "items": items})
	})
	mux.HandleFunc("GET /lookup", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"found": true})
	})
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<html><body><p>旅客手机号 %s</p><input name="idno" value="%s"><a title="身份证 %s">x</a></body></html>`,
			mobile(1), cnID(1), cnID(2))
	})
	return mux
}

func mustContainNone(t *testing.T, body string, values ...string) {
	t.Helper()
	for _, v := range values {
		if strings.Contains(body, v) {
			t.Errorf("response still holds %s…", v[:4])
		}
	}
}
