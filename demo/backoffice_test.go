package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/sim"
)

func TestBackOfficeGatewayConfig(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	if err := configureGateway(&cfg, "http://127.0.0.1:9"); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	if _, err := catalog.Load(cfg.Policy.Catalog); err != nil {
		t.Fatalf("catalogue: %v", err)
	}
	if _, err := policy.Parse("demo", backOfficePolicy, policy.Options{Relationships: policy.NewRelationships()}); err != nil {
		t.Fatalf("policy: %v", err)
	}
}

// syncBuffer is the demo's output, read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBackOfficeThroughGateway runs the demo and uses the back office
// through its gateway as the tour says: masked search results for a
// supervisor, need-to-know and the watchlist for an agent opening a
// celebrity, approval for an export, nothing without identity.
func TestBackOfficeThroughGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0", Employees: 4, History: 1, Passengers: 3000, Speedup: 600}, out)
	}()
	gwRe := regexp.MustCompile(`behind the HTTP gateway: (http://\S+)`)
	var gw string
	for deadline := time.Now().Add(60 * time.Second); gw == ""; time.Sleep(50 * time.Millisecond) {
		if m := gwRe.FindStringSubmatch(out.String()); m != nil {
			gw = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no gateway URL in the tour:\n%s", out)
		}
	}
	org := sim.NewOrg(sim.Config{Kind: sim.Airline, Seed: 1, Employees: 4})
	var agent, supervisor string
	for _, e := range org.Employees {
		switch e.Role {
		case "agent":
			agent = e.ID
		case "supervisor":
			supervisor = e.ID
		}
	}
	if supervisor == "" {
		supervisor = org.Employees[len(org.Employees)-1].ID
	}
	get := func(user, roles, path string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, "GET", gw+path, nil)
		if user != "" {
			req.Header.Set("X-Remote-User", user)
			req.Header.Set("X-Remote-Roles", roles)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Wait for the dataset.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if code, _ := get(supervisor, "supervisor", "/api/flights"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("back office not ready")
		}
	}
	if code, _ := get("", "", "/api/passengers?q=WANG"); code != http.StatusUnauthorized {
		t.Errorf("no identity: %d, want 401", code)
	}
	code, body := get(supervisor, "supervisor", "/api/passengers?q=WANG")
	var res struct {
		Passengers []struct {
			CNID   string `json:"cn_id"`
			Mobile string `json:"mobile"`
		} `json:"passengers"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil || code != http.StatusOK || len(res.Passengers) == 0 {
		t.Fatalf("supervisor search: %d %v %.300s", code, err, body)
	}
	for _, p := range res.Passengers {
		if !strings.Contains(p.CNID, "*") || !strings.Contains(p.Mobile, "*") {
			t.Fatalf("unmasked through the gateway: %+v", p)
		}
	}
	var celebrity sim.Person
	for _, p := range org.People {
		if p.Celebrity {
			celebrity = p
			break
		}
	}
	code, body = get(agent, "agent", "/api/passengers/"+celebrity.ID)
	if code != http.StatusForbidden || !strings.Contains(body, "need-to-know") || !strings.Contains(body, "watchlist") {
		t.Errorf("agent opening a celebrity: %d %s", code, body)
	}
	code, body = get(supervisor, "supervisor", "/export/manifest.csv?flight=CU1001&date="+time.Now().In(sim.Zone).Format("2006-01-02"))
	if code != http.StatusForbidden || !strings.Contains(body, "approval_required") {
		t.Errorf("export: %d %s", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
