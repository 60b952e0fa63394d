package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	natsbus "github.com/custos-dev/custos/bus/nats"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/store/postgres"
	"github.com/custos-dev/custos/store/storetest"
)

// cutter is a TCP proxy to NATS that the test can cut and restore, to take
// the bus away from one node without touching the shared server.
type cutter struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
	wg           sync.WaitGroup
}

func newCutter(t *testing.T, target string) *cutter {
	c := &cutter{target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.addr = ln.Addr().String()
	c.serve(ln)
	t.Cleanup(func() { c.cut(); c.wg.Wait() })
	return c
}

func (c *cutter) serve(ln net.Listener) {
	c.mu.Lock()
	c.ln = ln
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", c.target)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.mu.Unlock()
			c.wg.Add(2)
			go func() { defer c.wg.Done(); io.Copy(out, in); out.Close() }()
			go func() { defer c.wg.Done(); io.Copy(in, out); in.Close() }()
		}
	}()
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ln != nil {
		c.ln.Close()
		c.ln = nil
	}
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

func (c *cutter) restore(t *testing.T) {
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.serve(ln)
}

// TestGatewaySpoolsWhileBusDown: a gateway cut off from NATS keeps
// answering ingest from its fsync'd spool and replays it in order when
// the bus returns; a fail-closed gateway refuses instead; /readyz and
// the spool-depth metric say so.
func TestGatewaySpoolsWhileBusDown(t *testing.T) {
	pgDSN, _, stream := services(t, 1)
	ctx := context.Background()
	proxy := newCutter(t, "127.0.0.1:4222")

	tmp := t.TempDir()
	keyFile := blind.KeyFile(filepath.Join(tmp, "spool"))
	os.MkdirAll(filepath.Dir(keyFile), 0o700)
	if err := blind.CreateKey(keyFile); err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(ctx, pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	secret, hash, _ := custos.NewTokenSecret()
	st.CreateToken(ctx, custos.Token{ID: hash[:12], Name: "t", Scopes: []custos.Scope{custos.ScopeIngest}, Hash: hash})

	start := func(name, failMode string) *Node {
		dir := filepath.Join(tmp, name)
		os.MkdirAll(filepath.Dir(blind.KeyFile(dir)), 0o700)
		b, _ := os.ReadFile(keyFile)
		os.WriteFile(blind.KeyFile(dir), b, 0o600)
		cfg := config.Default()
		cfg.DataDir = dir
		cfg.API.Listen = "127.0.0.1:0"
		cfg.Cluster.Bus = config.ClusterBus{Driver: "nats", URL: "nats://" + proxy.addr, Stream: stream, Partitions: 1, Replicas: 1,
			LeaseTTL: "2s", PublishTimeout: "500ms"}
		cfg.Cluster.Store = config.ClusterStore{Driver: "postgres", DSN: pgDSN}
		cfg.Cluster.FailMode = failMode
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		n, err := Start(ctx, cfg, RoleGateway, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close(context.Background()) })
		return n
	}
	spooling := start("spool", "spool")
	closed := start("closed", "closed")

	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	batch := func(from, n int) []byte {
		var evs []custos.AccessEvent
		for i := from; i < from+n; i++ {
			e := storetest.Access(fmt.Sprintf("sp-%03d", i), base.Add(time.Duration(i)*time.Second), "emp-1")
			evs = append(evs, e)
		}
		b, _ := json.Marshal(evs)
		return b
	}
	post := func(n *Node, body []byte) int {
		req, _ := http.NewRequest("POST", "http://"+n.Addr()+"/api/v1/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ready := func(n *Node) int {
		resp, err := http.Get("http://" + n.Addr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	if code := post(spooling, batch(0, 5)); code != 200 {
		t.Fatalf("post with the bus up: %d", code)
	}
	proxy.cut()
	waitUntil(t, 5*time.Second, "disconnected", func() (bool, string) { return !spooling.Bus.Connected(), "" })
	for i := 5; i < 20; i += 5 {
		if code := post(spooling, batch(i, 5)); code != 200 {
			t.Fatalf("post with the bus down (spool): %d", code)
		}
	}
	if d := spooling.Publisher.Spool.Pending(); d != 15 {
		t.Errorf("spool depth = %d, want 15", d)
	}
	if v, err := metric("http://"+spooling.Addr()+"/metrics", "custos_bus_spool_depth"); err != nil || v != 15 {
		t.Errorf("custos_bus_spool_depth = %v, %v; want 15", v, err)
	}
	if code := post(closed, batch(100, 5)); code != http.StatusServiceUnavailable {
		t.Errorf("fail-closed gateway with the bus down answered %d, want 503", code)
	}
	if ready(spooling) != 200 || ready(closed) != http.StatusServiceUnavailable {
		t.Errorf("readyz: spooling %d (want 200), fail-closed %d (want 503)", ready(spooling), ready(closed))
	}

	proxy.restore(t)
	waitUntil(t, 10*time.Second, "spool replayed", func() (bool, string) {
		d := spooling.Publisher.Spool.Pending()
		return d == 0, fmt.Sprintf("depth %d", d)
	})
	// The stream holds every acknowledged event once, in order.
	bus, err := natsbus.Connect(ctx, natsbus.Options{URL: natsURL(), Stream: stream, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	var ids []string
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	bus.Read(rctx, 0, 0, natsbus.ReadOptions{}, func(ctx context.Context, msgs []natsbus.Message) error {
		for _, m := range msgs {
			ids = append(ids, m.Access.ID)
		}
		if len(ids) >= 20 {
			cancel()
		}
		return nil
	})
	var want []string
	for i := range 20 {
		want = append(want, fmt.Sprintf("sp-%03d", i))
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("stream = %v\nwant     %v", ids, want)
	}
}
