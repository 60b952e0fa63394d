package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/detect"
	"github.com/custos-dev/custos/sim"
	"github.com/custos-dev/custos/store/storetest"
)

// TestNodesInProcess runs a gateway and two detectors in this process (so
// the race detector sees them): events posted to the gateway are indexed
// by the detectors, the partitions are shared, the metrics count them,
// and closing a detector hands its partitions to the other.
func TestNodesInProcess(t *testing.T) {
	pgDSN, _, stream := services(t, 4)
	ctx := context.Background()
	cfg := inProcessConfig(t, pgDSN, stream, 4, func(c *config.Config) { c.Detect.SnapshotInterval = "1s" })
	log := slog.New(slog.DiscardHandler)
	gw, err := Start(ctx, cfg, RoleGateway, log)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close(ctx)
	var dets []*Node
	for i := range 2 {
		c := cfg
		c.Cluster.NodeID = fmt.Sprintf("d%d", i)
		c.Cluster.Listen = "127.0.0.1:0"
		d, err := Start(ctx, c, RoleDetector, log)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close(ctx)
		dets = append(dets, d)
	}
	waitUntil(t, 10*time.Second, "partitions shared", func() (bool, string) {
		owners, err := gw.Bus.Owners(ctx)
		held := map[string]int{}
		for _, o := range owners {
			held[o]++
		}
		// 4 actor and 4 cross partitions.
		return err == nil && held["d0"] == 4 && held["d1"] == 4, fmt.Sprint(owners, err)
	})

	secret, hash, _ := custos.NewTokenSecret()
	gw.Store.CreateToken(ctx, custos.Token{ID: hash[:12], Name: "t", Scopes: []custos.Scope{custos.ScopeIngest}, Hash: hash})
	base := time.Now().Add(-time.Hour).UTC()
	send := func(from, n int) {
		var evs []custos.AccessEvent
		for i := from; i < from+n; i++ {
			evs = append(evs, storetest.Access(fmt.Sprintf("ip-%04d", i), base.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("emp-%d", i%13)))
		}
		body, _ := json.Marshal(evs)
		req, _ := http.NewRequest("POST", "http://"+gw.Addr()+"/api/v1/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("post: %s", resp.Status)
		}
	}
	indexed := func(want int) {
		t.Helper()
		waitUntil(t, 15*time.Second, "indexed", func() (bool, string) {
			n, err := countIndexed(ctx, gw.Store)
			return err == nil && n == want, fmt.Sprint(n, err)
		})
	}
	send(0, 200)
	indexed(200)

	// A honeytoken and a relationship posted to the gateway reach both
	// detectors' engines through PostgreSQL; an access to the honeytoken
	// then raises its alert.
	adminSecret, adminHash, _ := custos.NewTokenSecret()
	gw.Store.CreateToken(ctx, custos.Token{ID: adminHash[:12], Name: "admin", Scopes: []custos.Scope{custos.ScopeAdmin}, Hash: adminHash})
	canary := "11010119900101001" + string(sim.CNIDCheck("11010119900101001"))
	postJSON := func(path, secret, body string) {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+gw.Addr()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %s %s", path, resp.Status, b)
		}
	}
	postJSON("/api/v1/watchlist", adminSecret, `[{"subject":{"type":"cn_id","value":"`+canary+`"},"kind":"honeytoken"}]`)
	postJSON("/api/v1/relationships", secret, `[{"actor":"emp-1","subject":{"type":"cn_id","value":"110101199003071231"},"kind":"booking"}]`)
	for _, d := range dets {
		waitUntil(t, 20*time.Second, "detector loaded the watchlist and relationships", func() (bool, string) {
			w, err1 := metric("http://"+d.Addr()+"/metrics", "custos_detect_watchlist_entries")
			r, err2 := metric("http://"+d.Addr()+"/metrics", "custos_detect_relationships")
			return w == 1 && r == 1, fmt.Sprint(w, r, err1, err2)
		})
	}
	// A raw value, sealed by the gateway with the blind index, as the
	// watchlist's hash was.
	ev := storetest.Access("honey-1", base.Add(time.Second), "emp-7")
	ev.Subjects = []custos.Subject{{Type: custos.TypeCNID, Value: canary}}
	body, _ := json.Marshal([]custos.AccessEvent{ev})
	postJSON("/api/v1/events", secret, string(body))
	waitUntil(t, 20*time.Second, "honeytoken alert", func() (bool, string) {
		as, err := gw.Store.Alerts(ctx, custos.AlertQuery{Limit: custos.MaxLimit})
		for _, a := range as {
			if a.Rule == detect.RuleHoneytoken && a.Actor == "emp-7" {
				return true, ""
			}
		}
		return false, fmt.Sprint(len(as), err)
	})
	// One detector leaves: the other takes all partitions and goes on.
	if err := dets[0].Close(ctx); err != nil {
		t.Fatal(err)
	}
	send(200, 200)
	indexed(401) // and the honeytoken access
	owners, _ := gw.Bus.Owners(ctx)
	for p, o := range owners {
		if o != "d1" {
			t.Errorf("partition %d held by %s after d0 left", p, o)
		}
	}
	v, err := metric("http://"+dets[1].Addr()+"/metrics", "custos_detect_partitions_owned")
	if err != nil || v != 8 {
		t.Errorf("custos_detect_partitions_owned = %v, %v; want 8", v, err)
	}
	resp, err := http.Get("http://" + dets[1].Addr() + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("detector readyz: %v %v", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
}

// TestOneLedgerNode: a second api node on the same cluster refuses to
// start while the first runs the ledger, and starts once it has stopped.
func TestOneLedgerNode(t *testing.T) {
	pgDSN, _, stream := services(t, 2)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	apiConfig := func() config.Config {
		return inProcessConfig(t, pgDSN, stream, 2, func(c *config.Config) { c.Ledger.Enabled = true })
	}
	first, err := Start(ctx, apiConfig(), RoleAPI, log)
	if err != nil {
		t.Fatal(err)
	}
	second := apiConfig()
	if n, err := Start(ctx, second, RoleAPI, log); err == nil {
		n.Close(ctx)
		t.Fatal("a second api node started the ledger beside the first")
	} else if !strings.Contains(err.Error(), "exactly one api node") {
		t.Fatalf("second api node: %v", err)
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := Start(ctx, second, RoleAPI, log)
	if err != nil {
		t.Fatalf("api node after the first stopped: %v", err)
	}
	n.Close(ctx)
}

// inProcessConfig is an in-process node's configuration on the test's cluster:
// a data directory of its own with a blind-index key, the API on a free
// port, the given partitions; tweak adjusts the rest.
func inProcessConfig(t *testing.T, pgDSN, stream string, partitions int, tweak func(*config.Config)) config.Config {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Dir(blind.KeyFile(dir)), 0o700)
	if err := blind.CreateKey(blind.KeyFile(dir)); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Cluster.Bus = config.ClusterBus{Driver: "nats", URL: natsURL(), Stream: stream, Partitions: partitions, Replicas: 1, LeaseTTL: "2s", PublishTimeout: "2s"}
	cfg.Cluster.Store = config.ClusterStore{Driver: "postgres", DSN: pgDSN}
	tweak(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}
