package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/detect"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/pgwire"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/sim"
	"github.com/custos-dev/custos/trace"
)

// TestInlineGateways runs the PostgreSQL and HTTP gateways on a cluster
// gateway node, with a detector: answers are masked by the policy file,
// every access reaches the index through the bus, a relationship posted to
// the node's API counts at once, and a honeytoken hit through the HTTP
// gateway makes the detector suspend the actor (alerts.suspend_rules), which
// the gateway then enforces.
func TestInlineGateways(t *testing.T) {
	pgDSN, _, stream := services(t, 2)
	ctx := context.Background()
	schema := pgDSN[strings.LastIndex(pgDSN, "=")+1:]
	up, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	need(t, "PostgreSQL", err)
	if _, err := up.Exec(ctx, "CREATE TABLE "+schema+".passengers (id int, phone text); INSERT INTO "+schema+".passengers VALUES (1, '13812345678')"); err != nil {
		t.Fatal(err)
	}
	up.Close(ctx)

	honey := "11010119900101001" + string(sim.CNIDCheck("11010119900101001"))
	booked := "11010119900307123" + string(sim.CNIDCheck("11010119900307123"))
	manifest := "name,id_number,mobile\n王伟," + booked + ",13812345678\n李娜,11010119800101" + "002" + string(sim.CNIDCheck("11010119800101002")) + ",13912345678\n张敏,44030619851212" + "002" + string(sim.CNIDCheck("44030619851212002")) + ",13712345678\n"
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/manifest.csv" {
			w.Header().Set("Content-Type", "text/csv")
			w.Header().Set("Content-Disposition", `attachment; filename="manifest.csv"`)
			io.WriteString(w, manifest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		id := strings.TrimPrefix(r.URL.Path, "/passengers/")
		fmt.Fprintf(w, `{"passenger":{"id_number":%q,"mobile":"13912345678","seat":"12A"}}`, id)
	}))
	defer app.Close()

	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	cat := filepath.Join(dir, "catalog.yaml")
	os.WriteFile(pol, []byte(`version: 1
rules:
  - id: supervisors-export
    match: {systems: [web], roles: [supervisor], actions: [export]}
    decision: allow
  - id: own-passengers
    match: {systems: [web]}
    when: 'has_relationship(actor, subject, "booking")'
    decision: mask
  - id: need-to-know
    match: {systems: [web]}
    when: 'subject != ""'
    decision: deny
  - id: agents-masked
    match: {roles: [agent]}
    decision: mask
`), 0o600)
	os.WriteFile(cat, []byte("version: 1\nresources:\n  - system: pss\n    table: "+schema+".passengers\n    columns:\n      phone: {type: cn_mobile, subject_key: true}\n"), 0o600)
	v, err := pgwire.NewVerifier("pw")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	cfg := inProcessConfig(t, pgDSN, stream, 2, func(c *config.Config) {
		c.Policy.File, c.Policy.Catalog = pol, cat
		c.Alerts.SuspendRules = []string{detect.RuleHoneytoken}
		c.Export.CanaryPool = "demo"
		c.Postgres.Enabled = true
		c.Postgres.Listen = "127.0.0.1:0"
		c.Postgres.System = "pss"
		c.Postgres.Upstream = config.PostgresUpstream{Address: "127.0.0.1:5432", Database: "test", SSLMode: "disable"}
		c.Postgres.Credentials = []config.PostgresCredential{{Role: "agent", User: "postgres"}}
		c.Postgres.Users = []config.PostgresUser{{Name: "alice", Verifier: v, Roles: []string{"agent"}}}
		c.HTTPGateway = config.DefaultHTTPGateway()
		c.HTTPGateway.Enabled = true
		c.HTTPGateway.Listen = "127.0.0.1:0"
		c.HTTPGateway.Routes = []config.HTTPRoute{{Prefix: "/", Upstream: app.URL, System: "web",
			Endpoints: []config.HTTPEndpoint{
				{Pattern: "GET /passengers/{id}", Subjects: []config.HTTPSubjectParam{{Path: "id", Type: "cn_id"}}},
				{Pattern: "GET /manifest.csv", Action: "export"},
			}}}
		c.HTTPGateway.Identity.Header.TrustedProxies = []string{"127.0.0.0/8"}
	})
	gw, err := Start(ctx, cfg, RoleGateway, log)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close(ctx)
	dc := cfg
	dc.Cluster.NodeID = "d0"
	dc.Cluster.Listen = "127.0.0.1:0"
	det, err := Start(ctx, dc, RoleDetector, log)
	if err != nil {
		t.Fatal(err)
	}
	defer det.Close(ctx)

	// PostgreSQL gateway: masked by provenance, recorded in the index.
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://alice:pw@%s/test?sslmode=disable", gw.PostgresAddr()))
	if err != nil {
		t.Fatal(err)
	}
	var phone string
	err = conn.QueryRow(ctx, "SELECT phone FROM "+schema+".passengers WHERE id = 1").Scan(&phone)
	conn.Close(ctx)
	if err != nil || phone != "138****5678" {
		t.Fatalf("through the gateway node: %q, %v", phone, err)
	}
	waitUntil(t, 20*time.Second, "postgres access indexed", func() (bool, string) {
		evs, err := gw.Store.ActorAccesses(ctx, "alice", custos.Query{})
		return err == nil && len(evs) == 1 && evs[0].Channel == custos.ChannelPostgres, fmt.Sprint(len(evs), err)
	})

	// HTTP gateway: need-to-know from a relationship posted to the node.
	get := func(actor, id string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, gw.HTTPGatewayURL()+"/passengers/"+id, nil)
		req.Header.Set("X-Remote-User", actor)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if code, _ := get("emp-7", booked); code != http.StatusForbidden {
		t.Fatalf("without a booking: %d, want 403", code)
	}
	secret, hash, _ := custos.NewTokenSecret()
	gw.Store.CreateToken(ctx, custos.Token{ID: hash[:12], Name: "t", Scopes: []custos.Scope{custos.ScopeIngest, custos.ScopeAdmin}, Hash: hash})
	post := func(path, body string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+gw.Addr()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
	}
	post("/api/v1/relationships", `[{"actor":"emp-7","subject":{"type":"cn_id","value":"`+booked+`"},"kind":"booking"},{"actor":"emp-7","subject":{"type":"cn_id","value":"`+honey+`"},"kind":"booking"}]`)
	code, body := get("emp-7", booked)
	if code != http.StatusOK || strings.Contains(body, booked) || strings.Contains(body, "13912345678") || !strings.Contains(body, `"seat":"12A"`) {
		t.Fatalf("with a booking: %d %s", code, body)
	}

	// A honeytoken listed through the API: the next access to it raises
	// the detector's alert, which suspends the actor on the gateway node.
	post("/api/v1/watchlist", `[{"subject":{"type":"cn_id","value":"`+honey+`"},"kind":"honeytoken"}]`)
	listed, err := gw.Store.Watchlist(ctx) // the honeytoken and the canary pool
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "detector loaded the watchlist", func() (bool, string) {
		w, err := metric("http://"+det.Addr()+"/metrics", "custos_detect_watchlist_entries")
		return int(w) == len(listed), fmt.Sprint(w, len(listed), err)
	})
	if code, _ := get("emp-7", honey); code != http.StatusOK {
		t.Fatalf("honeytoken access: %d (the insider must not be warned)", code)
	}
	waitUntil(t, 30*time.Second, "actor suspended and refused", func() (bool, string) {
		code, _ := get("emp-7", booked)
		return code == http.StatusForbidden, fmt.Sprint(code)
	})
	if code, _ := get("emp-8", "11010119900307125"+string(sim.CNIDCheck("11010119900307125"))); code != http.StatusForbidden {
		t.Errorf("another actor without a booking: %d", code)
	}
	sus, err := gw.Store.SuspendedActors(ctx)
	if err != nil || len(sus) != 1 || sus[0] != "emp-7" {
		t.Errorf("suspended: %v %v", sus, err)
	}
	// An administrator lifts the suspension through the API: the gateway
	// node lets the actor in again.
	req, _ := http.NewRequest(http.MethodDelete, "http://"+gw.Addr()+"/api/v1/suspensions/emp-7", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("lift suspension: %v %v", resp, err)
	}
	resp.Body.Close()
	waitUntil(t, 10*time.Second, "suspension lifted on the gateway", func() (bool, string) {
		code, _ := get("emp-7", booked)
		return code == http.StatusOK, fmt.Sprint(code)
	})
	// The watchlist change, the suspension and its lifting are audit
	// events, which the api node's ledger follows.
	wantAudit(t, gw, "watchlist.changed", "actor.suspended", "actor.unsuspended")

	// An export through the HTTP gateway: fingerprinted with a canary,
	// registered in PostgreSQL before the file leaves, its canaries on the
	// shared watchlist; a trace of the file against PostgreSQL names it.
	req, _ = http.NewRequest(http.MethodGet, gw.HTTPGatewayURL()+"/manifest.csv", nil)
	req.Header.Set("X-Remote-User", "sup-1")
	req.Header.Set("X-Remote-Roles", "supervisor")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	file, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Count(string(file), "\n") != 5 {
		t.Fatalf("export: %d %s", resp.StatusCode, file)
	}
	exs, err := gw.Store.ListExports(ctx, export.Query{Actor: "sup-1"})
	if err != nil || len(exs) != 1 || len(exs[0].Canaries) == 0 || exs[0].Rows != 4 { // three passengers and a canary
		t.Fatalf("registered exports: %+v, %v", exs, err)
	}
	watch, err := gw.Store.Watchlist(ctx)
	if err != nil {
		t.Fatal(err)
	}
	honeytokens := map[string]bool{}
	for _, e := range watch {
		if e.Kind == policy.WatchHoneytoken {
			honeytokens[e.Subject] = true
		}
	}
	for _, c := range exs[0].Canaries {
		if !honeytokens[c.Hash] {
			t.Errorf("canary %s of the export is not a honeytoken on the shared watchlist", c.Type)
		}
	}
	key, err := blind.LoadKey(blind.KeyFile(cfg.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	index, _ := blind.New(key)
	tr := &trace.Tracer{Index: index, Source: gw.Store, Keyer: export.NewKeyer(key)}
	rep, err := tr.Trace(ctx, bytes.NewReader(file), "leak.csv")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Canaries == 0 || len(rep.Exports) == 0 || rep.Exports[0].ID != exs[0].ID {
		t.Fatalf("trace against the cluster's registry: canaries %d, exports %+v", rep.Canaries, rep.Exports)
	}
}

// TestClusterApprovals: an api node serves approvals from PostgreSQL (and a
// second one refuses to); a grant given there lets a gateway node's HTTP
// gateway release what the policy holds for approval.
func TestClusterApprovals(t *testing.T) {
	pgDSN, _, stream := services(t, 2)
	ctx := context.Background()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"passenger":{"mobile":"13912345678"}}`)
	}))
	defer app.Close()
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	rules := filepath.Join(dir, "approvers.yaml")
	os.WriteFile(pol, []byte("version: 1\nrules:\n  - id: unmask-needs-approval\n    match: {systems: [web]}\n    decision: approval_required\n"), 0o600)
	os.WriteFile(rules, []byte("rules:\n  - id: supervisors\n    kinds: [unmask]\n    approvers: [alice]\n"), 0o600)
	log := slog.New(slog.DiscardHandler)
	delivered := make(chan string, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a struct{ ID string }
		json.NewDecoder(r.Body).Decode(&a)
		delivered <- a.ID
	}))
	defer hook.Close()
	notices := make(chan string, 10)
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n struct{ ID, Type string }
		json.NewDecoder(r.Body).Decode(&n)
		notices <- n.Type + " " + n.ID
	}))
	defer bot.Close()
	apiCfg := func() config.Config {
		return inProcessConfig(t, pgDSN, stream, 2, func(c *config.Config) {
			c.Approvals.RulesFile, c.Ledger.Enabled = rules, false
			c.Approvals.Notify.Webhooks = []config.Webhook{{URL: bot.URL}}
			c.Alerts.Webhooks = []config.Webhook{{URL: hook.URL}}
		})
	}
	apiNode, err := Start(ctx, apiCfg(), RoleAPI, log)
	if err != nil {
		t.Fatal(err)
	}
	defer apiNode.Close(ctx)
	if n, err := Start(ctx, apiCfg(), RoleAPI, log); err == nil {
		n.Close(ctx)
		t.Fatal("a second api node served approvals beside the first")
	} else if !strings.Contains(err.Error(), "exactly one api node may serve approvals") {
		t.Fatalf("second api node: %v", err)
	}
	gwCfg := inProcessConfig(t, pgDSN, stream, 2, func(c *config.Config) {
		c.Policy.File = pol
		c.HTTPGateway = config.DefaultHTTPGateway()
		c.HTTPGateway.Enabled = true
		c.HTTPGateway.Listen = "127.0.0.1:0"
		c.HTTPGateway.Routes = []config.HTTPRoute{{Prefix: "/", Upstream: app.URL, System: "web"}}
		c.HTTPGateway.Identity.Header.TrustedProxies = []string{"127.0.0.0/8"}
	})
	gw, err := Start(ctx, gwCfg, RoleGateway, log)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close(ctx)
	get := func() (int, string) {
		req, _ := http.NewRequest(http.MethodGet, gw.HTTPGatewayURL()+"/passengers/1", nil)
		req.Header.Set("X-Remote-User", "carol")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if code, _ := get(); code != http.StatusForbidden {
		t.Fatalf("before the grant: %d, want 403", code)
	}
	token := func(name string) string {
		secret, hash, _ := custos.NewTokenSecret()
		if err := apiNode.Store.CreateToken(ctx, custos.Token{ID: hash[:12], Name: name, Scopes: []custos.Scope{custos.ScopeRead}, Hash: hash}); err != nil {
			t.Fatal(err)
		}
		return secret
	}
	carol, alice := token("carol"), token("alice")
	call := func(secret, path, body string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+apiNode.Addr()+"/api/v1/approvals"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST approvals%s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	body := call(carol, "", `{"kind":"unmask","scope":{"system":"web"},"reason":"passenger complaint INC-77 needs the full number"}`)
	var req struct{ ID string }
	if err := json.Unmarshal([]byte(body), &req); err != nil || req.ID == "" {
		t.Fatalf("request: %s", body)
	}
	// The approvals node tells the approvers (approvals.notify).
	select {
	case n := <-notices:
		if n != "approval.requested "+req.ID {
			t.Errorf("approver notice: %q", n)
		}
	case <-time.After(10 * time.Second):
		t.Error("the approvals node sent no notice")
	}
	call(alice, "/"+req.ID+"/approve", `{}`)
	waitUntil(t, 10*time.Second, "grant honoured by the gateway node", func() (bool, string) {
		code, body := get()
		return code == http.StatusOK && strings.Contains(body, "13912345678"), fmt.Sprint(code, body)
	})
	wantAudit(t, apiNode, "approval.requested", "approval.approved")

	// The api node delivers the alerts detectors store in PostgreSQL.
	now := time.Now().UTC()
	if err := apiNode.Store.UpsertAlerts(ctx, []custos.AlertRecord{{ID: "al-1", Rule: detect.RuleHoneytoken, Severity: "critical",
		Actor: "carol", FirstSeen: now, LastSeen: now, Summary: "honeytoken looked up", Doc: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-delivered:
		if id != "al-1" {
			t.Errorf("webhook got alert %q", id)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the api node delivered no alert to the webhook")
	}
}

// wantAudit checks that the cluster's audit stream holds these actions.
func wantAudit(t *testing.T, n *Node, actions ...string) {
	t.Helper()
	got, err := n.Store.AuditSince(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range got {
		seen[a.Action] = true
	}
	for _, a := range actions {
		if !seen[a] {
			t.Errorf("no %s audit event among %v", a, seen)
		}
	}
}

// TestClusterReview: an alert of a rule in alerts.approval_rules puts its
// actor under review, and its risk reaches the HTTP gateway's step-up:
// every gateway node then holds the actor back.
func TestClusterReview(t *testing.T) {
	pgDSN, _, stream := services(t, 2)
	ctx := context.Background()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"passenger":{"id_number":%q}}`, strings.TrimPrefix(r.URL.Path, "/passengers/"))
	}))
	defer app.Close()
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(pol, []byte("version: 1\nrules:\n  - id: staff\n    match: {systems: [web]}\n    decision: mask\n"), 0o600)
	log := slog.New(slog.DiscardHandler)
	cfg := inProcessConfig(t, pgDSN, stream, 2, func(c *config.Config) {
		c.Policy.File = pol
		c.Alerts.ApprovalRules = []string{detect.RuleHoneytoken}
		c.HTTPGateway = config.DefaultHTTPGateway()
		c.HTTPGateway.Enabled = true
		c.HTTPGateway.Listen = "127.0.0.1:0"
		c.HTTPGateway.Routes = []config.HTTPRoute{{Prefix: "/", Upstream: app.URL, System: "web"}}
		c.HTTPGateway.Identity.Header.TrustedProxies = []string{"127.0.0.0/8"}
		c.HTTPGateway.StepUpRisk = 0.8
	})
	gw, err := Start(ctx, cfg, RoleGateway, log)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close(ctx)
	dc := cfg
	dc.Cluster.NodeID, dc.Cluster.Listen = "d0", "127.0.0.1:0"
	det, err := Start(ctx, dc, RoleDetector, log)
	if err != nil {
		t.Fatal(err)
	}
	defer det.Close(ctx)
	var body []byte
	get := func(id string) int {
		req, _ := http.NewRequest(http.MethodGet, gw.HTTPGatewayURL()+"/passengers/"+id, nil)
		req.Header.Set("X-Remote-User", "emp-3")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	honey := "11010119900101001" + string(sim.CNIDCheck("11010119900101001"))
	other := "11010119900307123" + string(sim.CNIDCheck("11010119900307123"))
	if code := get(other); code != http.StatusOK {
		t.Fatalf("before any alert: %d", code)
	}
	secret, th, _ := custos.NewTokenSecret()
	gw.Store.CreateToken(ctx, custos.Token{ID: th[:12], Name: "admin", Scopes: []custos.Scope{custos.ScopeAdmin}, Hash: th})
	req, _ := http.NewRequest(http.MethodPost, "http://"+gw.Addr()+"/api/v1/watchlist", strings.NewReader(`[{"subject":{"type":"cn_id","value":"`+honey+`"},"kind":"honeytoken"}]`))
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("watchlist: %v %v", resp, err)
	}
	resp.Body.Close()
	waitUntil(t, 20*time.Second, "detector loaded the watchlist", func() (bool, string) {
		w, err := metric("http://"+det.Addr()+"/metrics", "custos_detect_watchlist_entries")
		return w == 1, fmt.Sprint(w, err)
	})
	if code := get(honey); code != http.StatusOK {
		t.Fatalf("honeytoken look-up: %d (the insider is not warned)", code)
	}
	waitUntil(t, 30*time.Second, "actor held back on the gateway", func() (bool, string) {
		code := get(other)
		return code == http.StatusForbidden, fmt.Sprint(code)
	})
	// The honeytoken alert's risk (critical) is above step_up_risk: the
	// gateway asks the actor to re-authenticate; and the actor is under
	// review, so what policy allows needs a grant after that.
	if !strings.Contains(string(body), "step_up_required") {
		t.Errorf("refusal without step-up: %s", body)
	}
	if under, err := gw.Store.ActorsUnderReview(ctx, time.Now()); err != nil || under["emp-3"].IsZero() {
		t.Errorf("under review: %v, %v", under, err)
	}
	wantAudit(t, gw, "actor.review")
}
