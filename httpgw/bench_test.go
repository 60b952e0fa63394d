package httpgw

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/policy"
)

func benchPage() []byte {
	var items []map[string]any
	for i := range 22 {
		items = append(items, map[string]any{"idNo": cnID(i), "name": "张伟明", "mobile": mobile(i),
			"email": fmt.Sprintf("passenger%d@example.com", i), "seat": "12A", "flight": "CA1234", "status": "checked-in",
			"note": fmt.Sprintf("VIP; call %s before boarding; meal: vegetarian; bags: 2; loyalty gold member since 2015", mobile(i+100)), "fare": 1280 + i})
	}
	b, _ := json.Marshal(map[string]any{"total": len(items), "page": 1, "items": items})
	return b
}

// BenchmarkInspectJSON10KB is the inspection and masking of one 10 KB
// page, the gateway's own work per response.
func BenchmarkInspectJSON10KB(b *testing.B) {
	page := benchPage()
	in, vm := testMasker(b)
	fields := map[string]catalog.Field{
		"$.items[*].idNo":   {Type: "cn_id", SubjectKey: true},
		"$.items[*].name":   {Type: "cn_name"},
		"$.items[*].mobile": {Type: "cn_mobile"},
	}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		in.reset(fields)
		apply, ok := prepareJSON(page, in)
		if !ok {
			b.Fatal("not JSON")
		}
		if _, err := apply(vm); err != nil {
			b.Fatal(err)
		}
	}
}

type discardStore struct{}

func (discardStore) AppendAccess(_ context.Context, evs []custos.AccessEvent) (custos.AppendResult, error) {
	return custos.AppendResult{Stored: len(evs)}, nil
}
func (discardStore) AppendLogins(_ context.Context, evs []custos.LoginEvent) (custos.AppendResult, error) {
	return custos.AppendResult{Stored: len(evs)}, nil
}

// BenchmarkGatewayRequest is one whole request through the gateway
// (identity, two decisions, proxying, inspection, masking, event
// validation and sealing) with a store that keeps nothing.
func BenchmarkGatewayRequest(b *testing.B) {
	page := benchPage()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(page)
	}))
	defer up.Close()
	key := make([]byte, blind.KeySize)
	idx, _ := blind.New(key)
	tok, _ := mask.NewTokenizer(key)
	p, err := policy.Parse("b", []byte("version: 1\nrules:\n  - id: m\n    match: {roles: [analyst]}\n    decision: mask\n"), policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	cat, _ := catalog.Parse("c", []byte(testCatalog))
	cfg := config.DefaultHTTPGateway()
	cfg.Enabled = true
	cfg.Routes = []config.HTTPRoute{{Prefix: "/", Upstream: up.URL, System: "pss"}}
	cfg.Identity.Header.TrustedProxies = []string{"127.0.0.0/8"}
	gw, err := New(cfg, Deps{Pipeline: &ingest.Pipeline{Store: discardStore{}, Index: idx}, Index: idx,
		Policy:  &policy.Engine{Policies: policy.NewHolderWith(p, policy.Options{}, nil), Catalog: cat, Quotas: policy.NewQuotas()},
		Catalog: cat, Masker: &mask.Masker{Tokens: tok}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/search", nil)
		req.RemoteAddr = "127.0.0.1:5000"
		req.Header.Set("X-Remote-User", "emp-1")
		req.Header.Set("X-Remote-Roles", "analyst")
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

// benchHTMLPage is a 10 KB passenger list as a back office renders it.
func benchHTMLPage() []byte {
	var b bytes.Buffer
	b.WriteString(`<!doctype html><html><head><title>Passengers</title></head><body><table>`)
	for i := 0; b.Len() < 10<<10; i++ {
		fmt.Fprintf(&b, `<tr data-id="%d"><td><a href="/passengers/%s">张伟明</a></td><td>%s</td><td><span class="m">%s</span></td><td>passenger%d@example.com</td><td>12A</td><td>CA1234 &middot; checked-in</td></tr>`,
			i, cnID(i), cnID(i), mobile(i), i)
	}
	b.WriteString(`</table></body></html>`)
	return b.Bytes()
}

// BenchmarkInspectHTML10KB is the inspection and masking of one 10 KB
// HTML page: the raw scan and the structural view.
func BenchmarkInspectHTML10KB(b *testing.B) {
	page := benchHTMLPage()
	in, vm := testMasker(b)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		in.reset(nil)
		if _, err := prepareHTML(page, in)(vm); err != nil {
			b.Fatal(err)
		}
	}
}
