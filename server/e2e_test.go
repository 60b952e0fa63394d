package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/server"
	"github.com/custos-dev/custos/store/sqlite"
)

// start runs a node in-process on a free port with a fresh data dir and
// returns it with an admin token's secret.
func start(t *testing.T, logs io.Writer) (*server.Server, string) {
	t.Helper()
	ctx := context.Background()
	cfg, secret := initDir(t)
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	return srv, secret
}

// initDir prepares a data directory and returns a configuration for it
// with the API on a free port, and an admin token's secret.
func initDir(t *testing.T) (config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	if err := server.Init(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.API.Listen = "127.0.0.1:0"
	return cfg, adminToken(t, dir)
}

func adminToken(t *testing.T, dir string) string {
	t.Helper()
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, secret, err := server.CreateToken(context.Background(), st, "test", []custos.Scope{custos.ScopeAdmin})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func do(t *testing.T, method, url, secret, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func accessJSON(id, actor, idType, value string, at time.Time) string {
	return fmt.Sprintf(`{"id":%q,"time":%q,"actor":{"id":%q,"roles":["agent"]},"channel":"ingest","action":"read","resource":{"system":"pss","object":"passengers"},"purpose":{"name":"customer_service","ticket":"INC-1"},"subjects":[{"type":%q,"value":%q}],"records":1}`,
		id, at.UTC().Format(time.RFC3339Nano), actor, idType, value)
}

func TestIngestAndHistory(t *testing.T) {
	srv, secret := start(t, io.Discard)
	base := srv.URL() + "/api/v1"
	at := time.Now().Add(-time.Hour)
	batch := accessJSON("e-1", "emp-1", "cn_id", "11010119900307123X", at) + "\n" +
		accessJSON("e-2", "emp-2", "cn_id", "11010119900307123x", at.Add(time.Minute)) + "\n" +
		accessJSON("e-3", "emp-2", "cn_mobile", "+86 138 0013 8000", at.Add(2*time.Minute)) + "\n"

	if code, body := do(t, "POST", base+"/events", "", batch); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d %s", code, body)
	}
	code, body := do(t, "POST", base+"/events", secret, batch)
	if code != 200 || !strings.Contains(body, `"stored":3`) {
		t.Fatalf("ingest: %d %s", code, body)
	}
	// Replaying the same batch changes nothing.
	if code, body := do(t, "POST", base+"/events", secret, batch); code != 200 || !strings.Contains(body, `"duplicates":3`) {
		t.Fatalf("replay: %d %s", code, body)
	}
	// The full-width, lower-case-x form of the same ID finds both accesses.
	code, body = do(t, "GET", base+"/subjects/cn_id/"+"１１０１０１１９９００３０７１２３x"+"/accesses", secret, "")
	if code != 200 {
		t.Fatalf("history: %d %s", code, body)
	}
	var ans struct {
		Accesses []custos.StoredAccess `json:"accesses"`
	}
	json.Unmarshal([]byte(body), &ans)
	if len(ans.Accesses) != 2 || ans.Accesses[0].ID != "e-2" || ans.Accesses[1].ID != "e-1" {
		t.Fatalf("history answer: %s", body)
	}
	// Each answered access comes with a ledger inclusion proof once the
	// ledger has caught up and published a checkpoint (about a second).
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body = do(t, "GET", base+"/subjects/cn_id/11010119900307123X/accesses?proof=1", secret, "")
		if code != 200 {
			t.Fatalf("history with proof: %d %s", code, body)
		}
		if strings.Contains(body, `"e-1":{"event_id":"e-1"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ledger proof for e-1: %s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The look-up itself is now part of that subject's history.
	_, body = do(t, "GET", base+"/subjects/cn_id/11010119900307123X/accesses", secret, "")
	if !strings.Contains(body, `"object":"subject_history"`) {
		t.Errorf("look-up not recorded: %s", body)
	}
	code, body = do(t, "GET", base+"/events?after=1&limit=1&format=ocsf", secret, "")
	if code != 200 || !strings.Contains(body, `"class_uid":6005`) || !strings.Contains(body, `"uid":"e-2"`) || !strings.Contains(body, `"next":2`) {
		t.Errorf("ocsf feed: %d %s", code, body)
	}
	code, body = do(t, "GET", base+"/actors/emp-2/events?limit=1", secret, "")
	if code != 200 || !strings.Contains(body, `"id":"e-3"`) || !strings.Contains(body, `"next_before"`) {
		t.Errorf("actor history: %d %s", code, body)
	}
}

func TestInvalidBatchStoresNothing(t *testing.T) {
	srv, secret := start(t, io.Discard)
	base := srv.URL() + "/api/v1"
	at := time.Now().Add(-time.Hour)
	good := accessJSON("g-1", "emp-1", "cn_id", "11010119900307123X", at)
	bad := strings.Replace(accessJSON("b-1", "emp-1", "cn_id", "11010119900307123X", at), `"action":"read"`, `"action":"peek"`, 1)
	shortID := accessJSON("b-2", "emp-1", "cn_id", "1101011990", at)
	code, body := do(t, "POST", base+"/events", secret, "["+good+","+bad+","+shortID+"]")
	if code != 400 {
		t.Fatalf("want 400, got %d %s", code, body)
	}
	for _, want := range []string{`"index":1,"field":"action"`, `"index":2,"field":"subjects[0].value"`} {
		if !strings.Contains(body, want) {
			t.Errorf("error body lacks %s: %s", want, body)
		}
	}
	if strings.Contains(body, "1101011990") {
		t.Errorf("error body echoes a subject value: %s", body)
	}
	_, body = do(t, "GET", base+"/actors/emp-1/events", secret, "")
	if !strings.Contains(body, `"events":[]`) {
		t.Errorf("part of a rejected batch was stored: %s", body)
	}
}

func TestScopes(t *testing.T) {
	srv, admin := start(t, io.Discard)
	st := srv.Store
	_, ingestOnly, err := server.CreateToken(context.Background(), st, "pss", []custos.Scope{custos.ScopeIngest})
	if err != nil {
		t.Fatal(err)
	}
	base := srv.URL() + "/api/v1"
	if code, _ := do(t, "GET", base+"/actors/x/events", ingestOnly, ""); code != http.StatusForbidden {
		t.Errorf("ingest token read history: %d", code)
	}
	if code, _ := do(t, "GET", base+"/actors/x/events", admin, ""); code != 200 {
		t.Errorf("admin token: %d", code)
	}
	if code, _ := do(t, "GET", base+"/actors/x/events", "cst_forged", ""); code != http.StatusUnauthorized {
		t.Errorf("forged token: %d", code)
	}
}

// TestNoRawValuesInOutputs ingests events with known ID numbers and phones
// and then looks for those values, in every form we know, in the data
// directory, the logs and /metrics.
func TestNoRawValuesInOutputs(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	srv, secret := start(t, lockedWriter{&mu, &logs})
	base := srv.URL() + "/api/v1"
	at := time.Now().Add(-time.Hour)
	values := map[string][]string{
		"cn_id":     {"11010119900307123X", "44030619851212002X", "320102198001010015"},
		"cn_mobile": {"13800138000", "13912345678", "18600001111"},
		"email":     {"zhang.san@example.com"},
	}
	var lines []string
	n := 0
	for typ, vs := range values {
		for _, v := range vs {
			n++
			lines = append(lines, accessJSON(fmt.Sprintf("p-%d", n), "emp-9", typ, v, at))
		}
	}
	if code, body := do(t, "POST", base+"/events", secret, strings.Join(lines, "\n")); code != 200 {
		t.Fatalf("ingest: %d %s", code, body)
	}
	for typ, vs := range values {
		for _, v := range vs {
			if code, body := do(t, "GET", base+"/subjects/"+typ+"/"+v+"/accesses", secret, ""); code != 200 {
				t.Fatalf("history: %d %s", code, body)
			}
		}
	}
	// A rejected event with a raw value must not leak it either.
	do(t, "POST", base+"/events", secret, strings.Replace(accessJSON("x", "emp-9", "cn_mobile", "13800138000", at), `"read"`, `"peek"`, 1))
	_, metrics := do(t, "GET", srv.URL()+"/metrics", "", "")
	if err := srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	var needles []string
	for typ, vs := range values {
		for _, v := range vs {
			needles = append(needles, v, strings.ToLower(v))
			if typ != "email" { // masked e-mail keeps the domain on purpose
				needles = append(needles, v[len(v)-8:]) // more digits than any mask keeps
			}
		}
	}
	check := func(where, text string) {
		for _, nd := range needles {
			if len(nd) >= 8 && strings.Contains(text, nd) {
				t.Errorf("%s contains a raw subject value (…%s)", where, nd[len(nd)-4:])
			}
		}
	}
	mu.Lock()
	check("logs", logs.String())
	mu.Unlock()
	check("/metrics", metrics)
	dataDir := filepath.Dir(srv.Store.Path())
	filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		check(path, string(b))
		return nil
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestAcknowledgedBatchesSurviveSIGKILL posts batches from several clients
// to a real `custos serve` process, kills it with SIGKILL mid-load, and
// checks that every batch answered 2xx is in the store after restart.
func TestAcknowledgedBatchesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a server process")
	}
	bin := filepath.Join(t.TempDir(), "custos")
	build := exec.Command("go", "build", "-o", bin, "github.com/custos-dev/custos/cmd/custos")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	if err := server.Init(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	secret := adminToken(t, dir)
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve", "--data", dir)
	cmd.Env = append(os.Environ(), "CUSTOS_API_LISTEN="+addr, "CUSTOS_LOG_LEVEL=warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, "http://"+addr)

	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	at := time.Now().Add(-time.Hour)
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; ; b++ {
				select {
				case <-stop:
					return
				default:
				}
				var sb strings.Builder
				var ids []string
				for i := range 200 {
					id := fmt.Sprintf("k-%d-%d-%d", w, b, i)
					ids = append(ids, id)
					sb.WriteString(accessJSON(id, fmt.Sprintf("emp-%d", i%50), "cn_mobile", fmt.Sprintf("138%08d", b*200+i), at))
					sb.WriteByte('\n')
				}
				req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/events", strings.NewReader(sb.String()))
				req.Header.Set("Authorization", "Bearer "+secret)
				resp, err := client.Do(req)
				if err != nil {
					continue // the server is gone; nothing was acknowledged
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					acked = append(acked, ids...)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no batch was acknowledged before the kill")
	}

	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored := map[string]bool{}
	for seq := int64(0); ; {
		evs, err := st.AccessSince(context.Background(), seq, 5000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			stored[e.ID] = true
		}
		seq = evs[len(evs)-1].Seq
	}
	missing := 0
	for _, id := range acked {
		if !stored[id] {
			missing++
		}
	}
	t.Logf("acknowledged %d events before SIGKILL, %d stored after restart", len(acked), len(stored))
	if missing > 0 {
		t.Fatalf("%d acknowledged events are missing after SIGKILL", missing)
	}
	st.Close()

	// The ledger, killed mid-append too, must verify after a restart has
	// let it catch up with the store.
	restart := exec.Command(bin, "serve", "--data", dir)
	restart.Env = cmd.Env
	if err := restart.Start(); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, "http://"+addr)
	waitCaughtUp(t, "http://"+addr)
	restart.Process.Signal(os.Interrupt)
	restart.Wait()
	out, err := exec.Command(bin, "ledger", "verify", "--data", dir, "--store").CombinedOutput()
	if err != nil {
		t.Fatalf("ledger verify after SIGKILL: %v\n%s", err, out)
	}
}

// waitCaughtUp waits until /metrics says the ledger has no pending events.
func waitCaughtUp(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), "\ncustos_ledger_pending_events 0\n") {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("the ledger did not catch up with the store")
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	for range 100 {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("server did not become healthy")
}

func TestRelationshipsRoute(t *testing.T) {
	srv, secret := start(t, io.Discard)
	body := `{"actor":"emp-1","subject":{"type":"cn_id","value":"11010119900307123x"},"kind":"booking"}`
	if code, resp := do(t, "POST", srv.URL()+"/api/v1/relationships", secret, body); code != 200 {
		t.Fatalf("relationships: %d %s", code, resp)
	}
	hash, err := srv.Index.Hash("cn_id", "11010119900307123X")
	if err != nil {
		t.Fatal(err)
	}
	if !srv.Relationships.HasRelationship("emp-1", hash, "booking") {
		t.Error("relationship posted through the API is not known to policy")
	}
	if srv.Relationships.HasRelationship("emp-2", hash, "booking") {
		t.Error("relationship leaked to another actor")
	}
}

// TestDetectionRaisesAlerts posts a credential-stuffing burst and waits
// for the detection consumer to store an alert the API then lists and
// moves through the workflow.
func TestDetectionRaisesAlerts(t *testing.T) {
	srv, secret := start(t, io.Discard)
	base := srv.URL() + "/api/v1"
	at := time.Now().Add(-time.Hour).UTC()
	var lines []string
	for i := range 60 {
		lines = append(lines, fmt.Sprintf(`{"id":"l-%d","time":%q,"account":"user%03d","source":{"ip":"203.0.113.9"},"outcome":"failure","reason":"bad_password"}`,
			i, at.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i))
	}
	if code, body := do(t, "POST", base+"/logins", secret, strings.Join(lines, "\n")); code != 200 {
		t.Fatalf("logins: %d %s", code, body)
	}
	srv.Bus.Notify()
	var alerts struct {
		Alerts []map[string]any `json:"alerts"`
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(alerts.Alerts) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no alert for 60 failed logins across 60 accounts from one address")
		}
		time.Sleep(100 * time.Millisecond)
		_, body := do(t, "GET", base+"/alerts?status=open", secret, "")
		json.Unmarshal([]byte(body), &alerts)
	}
	a := alerts.Alerts[0]
	if a["source_ip"] != "203.0.113.9" || a["actor"] != nil || a["status"] != "open" || a["id"] == "" {
		t.Fatalf("alert: %v", a)
	}
	// The investigator's next question: what else did that source try?
	var from struct {
		Source     string           `json:"source"`
		Logins     []map[string]any `json:"logins"`
		NextBefore int64            `json:"next_before"`
	}
	code, body := do(t, "GET", base+"/sources/203.0.113.9/logins?limit=50", secret, "")
	if err := json.Unmarshal([]byte(body), &from); code != 200 || err != nil {
		t.Fatalf("source logins: %d %s", code, body)
	}
	if from.Source != "203.0.113.9" || len(from.Logins) != 50 || from.Logins[0]["account"] != "user059" || from.NextBefore == 0 {
		t.Errorf("source logins: source %q, %d logins, first %v, next %d", from.Source, len(from.Logins), from.Logins[0]["account"], from.NextBefore)
	}
	if code, _ := do(t, "GET", base+"/sources/not-an-ip/logins", secret, ""); code != 400 {
		t.Errorf("source logins of a non-address: %d, want 400", code)
	}
	id := a["id"].(string)
	if code, body := do(t, "POST", base+"/alerts/"+id+"/status", secret, `{"status":"acknowledged"}`); code != 200 {
		t.Fatalf("status: %d %s", code, body)
	}
	_, body = do(t, "GET", base+"/alerts?status=acknowledged", secret, "")
	if !strings.Contains(body, id) {
		t.Errorf("acknowledged alert not listed: %s", body)
	}
	if code, _ := do(t, "POST", base+"/alerts/nope/status", secret, `{"status":"resolved"}`); code != 404 {
		t.Errorf("unknown alert: %d", code)
	}
}

// TestDetectionResumesFromSnapshot closes a node after detection has seen
// events and checks that a restart resumes from the snapshot's offsets.
func TestDetectionResumesFromSnapshot(t *testing.T) {
	ctx := context.Background()
	cfg, secret := initDir(t)
	dir := cfg.DataDir
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour).UTC()
	var lines []string
	for i := range 30 {
		lines = append(lines, fmt.Sprintf(`{"id":"r-%d","time":%q,"account":"u%d","source":{"ip":"198.51.100.7"},"outcome":"failure"}`, i, at.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i))
	}
	if code, body := do(t, "POST", srv.URL()+"/api/v1/logins", secret, strings.Join(lines, "\n")); code != 200 {
		t.Fatalf("logins: %d %s", code, body)
	}
	srv.Bus.Notify()
	waitOffset(t, srv, "detect:logins", 30)
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"engine.snapshot", "engine.offsets"} {
		if _, err := os.Stat(filepath.Join(dir, "detect", f)); err != nil {
			t.Fatalf("after close: %v", err)
		}
	}
	srv, err = server.Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	if off, err := srv.Store.Offset(ctx, "detect:logins"); err != nil || off != 30 {
		t.Fatalf("restart resumed detection at login %d (%v), want 30", off, err)
	}
}

func waitOffset(t *testing.T, srv *server.Server, consumer string, want int64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		off, err := srv.Store.Offset(context.Background(), consumer)
		if err == nil && off >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s stayed at %d, want %d", consumer, off, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestApprovalsRoute runs an unmask request through /api/v1/approvals:
// the requester cannot approve it, a named approver can.
func TestApprovalsRoute(t *testing.T) {
	ctx := context.Background()
	cfg, _ := initDir(t)
	dir := cfg.DataDir
	rules := filepath.Join(dir, "approvers.yaml")
	os.WriteFile(rules, []byte("rules:\n  - id: supervisors\n    kinds: [unmask]\n    approvers: [alice]\n"), 0o600)
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	_, carol, _ := server.CreateToken(ctx, st, "carol", []custos.Scope{custos.ScopeRead})
	_, alice, _ := server.CreateToken(ctx, st, "alice", []custos.Scope{custos.ScopeRead})
	st.Close()
	cfg.Approvals.RulesFile = rules
	// Approvers hear of each request through approvals.notify.
	notices := make(chan string, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		notices <- string(b)
	}))
	defer hook.Close()
	cfg.Approvals.Notify.Webhooks = []config.Webhook{{URL: hook.URL}}
	srv, err := server.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	base := srv.URL() + "/api/v1/approvals"
	code, body := do(t, "POST", base, carol, `{"kind":"unmask","scope":{"system":"pss"},"reason":"passenger complaint INC-77 needs the full number"}`)
	if code != 200 && code != 201 {
		t.Fatalf("request: %d %s", code, body)
	}
	var req struct {
		ID        string `json:"id"`
		Requester string `json:"requester"`
	}
	json.Unmarshal([]byte(body), &req)
	if req.ID == "" || req.Requester != "carol" {
		t.Fatalf("request answer: %s", body)
	}
	select {
	case n := <-notices:
		if !strings.Contains(n, `"type":"approval.requested"`) || !strings.Contains(n, req.ID) || !strings.Contains(n, `"approvers":["alice"]`) {
			t.Errorf("notice: %s", n)
		}
	case <-time.After(10 * time.Second):
		t.Error("approvers were not notified")
	}
	if code, body := do(t, "POST", base+"/"+req.ID+"/approve", carol, `{}`); code != http.StatusForbidden {
		t.Errorf("self-approval: %d %s", code, body)
	}
	if code, body := do(t, "POST", base+"/"+req.ID+"/approve", alice, `{}`); code != 200 || !strings.Contains(body, `"granted"`) {
		t.Errorf("approval by alice: %d %s", code, body)
	}
}

// TestHoneytokenFromWatchlistAlerts lists a honeytoken through the API and
// checks that detection, which keeps its own copy, alarms on its access.
func TestHoneytokenFromWatchlistAlerts(t *testing.T) {
	srv, secret := start(t, io.Discard)
	base := srv.URL() + "/api/v1"
	if code, body := do(t, "POST", base+"/watchlist", secret, `{"subject":{"type":"cn_id","value":"44030619851212002X"},"kind":"honeytoken"}`); code != 200 {
		t.Fatalf("watchlist: %d %s", code, body)
	}
	at := time.Now().Add(-time.Hour)
	if code, body := do(t, "POST", base+"/events", secret, accessJSON("h-1", "emp-7", "cn_id", "44030619851212002x", at)); code != 200 {
		t.Fatalf("event: %d %s", code, body)
	}
	srv.Bus.Notify()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, body := do(t, "GET", base+"/alerts?actor=emp-7", secret, "")
		if strings.Contains(body, "honeytoken") {
			if strings.Contains(body, "44030619851212002") {
				t.Fatalf("alert carries the raw value: %s", body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no honeytoken alert: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
