package httpgw

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/xuri/excelize/v2"

	"github.com/custos-dev/custos"
)

func TestHTTP2OverTLS(t *testing.T) {
	up := appMux()
	h := newHarness(t, up)
	tlsSrv := httptest.NewUnstartedServer(h.gw)
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	req, _ := http.NewRequest(http.MethodGet, tlsSrv.URL+"/search?n=2", nil)
	req.Header.Set("X-Remote-User", "ana-h2")
	req.Header.Set("X-Remote-Roles", "analyst")
	resp, err := tlsSrv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := readAll(t, resp.Body)
	if resp.ProtoMajor != 2 {
		t.Fatalf("protocol %s, want HTTP/2", resp.Proto)
	}
	if !json.Valid([]byte(body)) {
		t.Fatalf("invalid JSON: %s", body)
	}
	mustContainNone(t, body, cnID(0), mobile(1))
	if ev := h.lastEvent("ana-h2"); ev.Records != 2 {
		t.Errorf("records %d", ev.Records)
	}
}

// requireTool finds a command-line client; CI (CUSTOS_REQUIRE_SERVICES=1)
// fails without it.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s not installed", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func TestCurl(t *testing.T) {
	curl := requireTool(t, "curl")
	h := newHarness(t, appMux())
	tlsSrv := httptest.NewUnstartedServer(h.gw)
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	for _, tc := range []struct {
		name, url string
		args      []string
		proto     string
	}{
		{"http1.1", h.srv.URL + "/search?n=2", []string{"--http1.1"}, "1.1"},
		{"http2-tls", tlsSrv.URL + "/search?n=2", []string{"--http2", "-k"}, "2"},
		{"gzip", h.srv.URL + "/search?n=2", []string{"--compressed"}, "1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-sS", "-w", "\n%{http_version} %{http_code}", "-H", "X-Remote-User: curl-" + tc.name, "-H", "X-Remote-Roles: analyst"}, tc.args...)
			out, err := exec.Command(curl, append(args, tc.url)...).CombinedOutput()
			if err != nil {
				t.Fatalf("curl: %v: %s", err, out)
			}
			body, status, _ := strings.Cut(string(out), "\n")
			if i := strings.LastIndex(string(out), "\n"); i >= 0 {
				body, status = string(out[:i]), string(out[i+1:])
			}
			if status != tc.proto+" 200" {
				t.Fatalf("curl status %q", status)
			}
			if !json.Valid([]byte(body)) {
				t.Fatalf("invalid JSON: %s", body)
			}
			mustContainNone(t, body, cnID(0), mobile(1))
			h.lastEvent("curl-" + tc.name)
		})
	}
	out, _ := exec.Command(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", h.srv.URL+"/search").CombinedOutput()
	if string(out) != "401" {
		t.Errorf("curl without identity: %s", out)
	}
}

func TestWebSocketPassThrough(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, append([]byte("echo:"), msg...)); err != nil {
				return
			}
		}
	})
	h := newHarness(t, mux)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/ws"
	c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{
		"X-Remote-User": {"ws-1"}, "X-Remote-Roles": {"supervisor"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.Read(ctx)
	if err != nil || string(msg) != "echo:hi" {
		t.Fatalf("read %q, %v", msg, err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	if ev := h.lastEvent("ws-1"); ev.Resource.System != "pss" {
		t.Errorf("event %+v", ev.AccessEvent)
	}
	// Without identity the upgrade is refused.
	_, resp, err := websocket.Dial(ctx, wsURL, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated upgrade: %v", err)
	}
}

func TestXLSXMasked(t *testing.T) {
	mux := appMux()
	mux.HandleFunc("GET /manifest.xlsx", func(w http.ResponseWriter, r *http.Request) {
		f := excelize.NewFile()
		defer f.Close()
		rows := [][]any{{"姓名", "身份证号", "手机号", "座位"}, {"张伟明", cnID(1), mobile(1), "12A"}, {"李娜", cnID(2), mobile(2), "3C"}}
		for i, row := range rows {
			cell, _ := excelize.CoordinatesToCellName(1, i+1)
			f.SetSheetRow("Sheet1", cell, &row)
		}
		w.Header().Set("Content-Type", xlsxType)
		w.Header().Set("Content-Disposition", `attachment; filename="manifest.xlsx"`)
		f.Write(w)
	})
	h := newHarness(t, mux)
	r := h.get("/manifest.xlsx", "ana-x", "analyst")
	body := readAll(t, r.Body)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", r.StatusCode, body)
	}
	f, err := excelize.OpenReader(bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatalf("masked file does not open: %v", err)
	}
	defer f.Close()
	rows, _ := f.GetRows("Sheet1")
	if len(rows) != 3 || rows[1][3] != "12A" || rows[0][1] != "身份证号" {
		t.Fatalf("rows %q", rows)
	}
	// Not in any part of the file either: a cell masked in place left its
	// raw text in the shared strings.
	mustContainNone(t, zipText(t, []byte(body)), cnID(1), mobile(1), cnID(2), mobile(2))
	for _, row := range rows[1:] {
		for _, v := range row[:3] {
			if !strings.Contains(v, "*") {
				t.Errorf("cell not masked: %s…", v[:3])
			}
		}
	}
	ev := h.lastEvent("ana-x")
	if ev.Action != custos.ActionExport || ev.Records != 4 {
		t.Errorf("action %s records %d", ev.Action, ev.Records)
	}
}
