package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/server"
)

// TestHTTPGatewayServed starts a node with the HTTP gateway in front of a
// small app: the response is masked and its access event is in the node's
// store by the time the client has it.
func TestHTTPGatewayServed(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"passenger":{"mobile":"13812345678","seat":"12A"}}`)
	}))
	defer app.Close()
	cfg, _ := initDir(t)
	cfg.HTTPGateway = config.DefaultHTTPGateway()
	cfg.HTTPGateway.Enabled = true
	cfg.HTTPGateway.Listen = "127.0.0.1:0"
	cfg.HTTPGateway.Routes = []config.HTTPRoute{{Prefix: "/", Upstream: app.URL, System: "pss"}}
	cfg.HTTPGateway.Identity.Header.TrustedProxies = []string{"127.0.0.0/8"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := server.Start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	url := s.HTTPGatewayURL()
	if url == "" {
		t.Fatal("gateway not listening")
	}
	resp, err := http.Get(url + "/passengers/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without identity: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/passengers/1", nil)
	req.Header.Set("X-Remote-User", "emp-0042")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "13812345678") || !strings.Contains(string(body), `"seat":"12A"`) {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	evs, err := s.Store.ActorAccesses(ctx, "emp-0042", custos.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Channel != custos.ChannelHTTP || len(evs[0].Subjects) != 1 || evs[0].Subjects[0].Type != "cn_mobile" {
		t.Fatalf("events %+v", evs)
	}
}

// TestHTTPGatewayRegistersExports downloads a CSV and an XLSX manifest
// through the gateway: the recipient's copy carries a canary record, and
// the export is registered with its subjects and canaries before the
// download is released.
func TestHTTPGatewayRegistersExports(t *testing.T) {
	rows := [][]string{
		{"name", "id_number", "mobile"},
		{"王伟", "110101199003071234", "13812345678"},
		{"李娜", "11010119900307567X", "13912345678"},
		{"张敏", "440306198512120029", "13712345678"},
	}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Disposition", `attachment; filename="manifest"`)
		if strings.HasSuffix(r.URL.Path, ".xlsx") {
			w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
			f := excelize.NewFile()
			for i, row := range rows {
				cells := make([]any, len(row))
				for j, v := range row {
					cells[j] = v
				}
				cell, _ := excelize.CoordinatesToCellName(1, i+1)
				f.SetSheetRow("Sheet1", cell, &cells)
			}
			f.Write(w)
			return
		}
		w.Header().Set("Content-Type", "text/csv")
		for _, row := range rows {
			io.WriteString(w, strings.Join(row, ",")+"\n")
		}
	}))
	defer app.Close()
	cfg, _ := initDir(t)
	cfg.Policy.File = filepath.Join(cfg.DataDir, "policy.yaml")
	os.WriteFile(cfg.Policy.File, []byte("version: 1\nrules:\n  - id: all\n    decision: allow\n"), 0o600)
	cfg.Export.CanaryPool = "demo"
	cfg.Export.Order = true
	cfg.HTTPGateway = config.DefaultHTTPGateway()
	cfg.HTTPGateway.Enabled = true
	cfg.HTTPGateway.Listen = "127.0.0.1:0"
	cfg.HTTPGateway.Routes = []config.HTTPRoute{{Prefix: "/", Upstream: app.URL, System: "pss"}}
	cfg.HTTPGateway.Identity.Header.TrustedProxies = []string{"127.0.0.0/8"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := server.Start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	for _, format := range []string{"csv", "xlsx"} {
		actor := "emp-" + format
		req, _ := http.NewRequest(http.MethodGet, s.HTTPGatewayURL()+"/export/manifest."+format, nil)
		req.Header.Set("X-Remote-User", actor)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var got [][]string
		if format == "csv" {
			for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
				got = append(got, strings.Split(l, ","))
			}
		} else if f, err := excelize.OpenReader(bytes.NewReader(body)); err == nil {
			got, _ = f.GetRows("Sheet1")
		}
		if resp.StatusCode != http.StatusOK || len(got) != 5 || strings.Join(got[0], ",") != "name,id_number,mobile" {
			t.Fatalf("%s: status %d, %d rows: %v", format, resp.StatusCode, len(got), got)
		}
		exs, err := s.Store.ListExports(ctx, export.Query{Actor: actor})
		if err != nil || len(exs) != 1 {
			t.Fatalf("%s exports: %+v %v", format, exs, err)
		}
		ex := exs[0]
		if ex.Rows != 4 || ex.Format != format || ex.Channel != custos.ChannelHTTP || !ex.Watermark.Order {
			t.Errorf("%s export: %+v", format, ex)
		}
		// One subject per passenger (the row's primary identifier, the ID
		// number), as the access event records them.
		subjects, canaries, err := s.Store.ExportSubjectCount(ctx, ex.ID)
		if err != nil || subjects != 3 || canaries == 0 {
			t.Errorf("%s: registered subjects %d, canaries %d (%v)", format, subjects, canaries, err)
		}
		// The canaries are honeytokens from now on: looking one up is an
		// alarm.
		for _, c := range ex.Canaries {
			if k := s.Watchlist.Kind(c.Hash); k != policy.WatchHoneytoken {
				t.Errorf("%s: canary %s is listed as %q, want a honeytoken", format, c.Type, k)
			}
		}
	}
}
