// Command cluster measures end-to-end throughput of the scaled-out Custos
// against the embedded single process, in one run, on the same events:
// simulator traffic posted over loopback HTTP until every event is
// indexed and analysed by detection.
//
//	embedded    custos serve --role all: SQLite store, local bus, one engine
//	cluster-1   a gateway node, NATS JetStream, 1 detector node, PostgreSQL
//	cluster-2   the same with 2 detector nodes sharing the partitions
//
// and the bus on its own: publish (gateway side, until JetStream has
// stored the batch) and consume (detector side, no processing), per event.
// The ledger is off in every configuration (it is measured by bench/ledger).
// Every node runs in this one process, on the same cores.
//
//	go run ./bench/cluster -events 40000
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/custos-dev/custos"
	natsbus "github.com/custos-dev/custos/bus/nats"
	"github.com/custos-dev/custos/cluster"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/server"
	"github.com/custos-dev/custos/sim"
)

var (
	pgAdmin    = flag.String("pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL (a schema per run is created and dropped)")
	natsURL    = flag.String("nats", "nats://127.0.0.1:4222", "NATS with JetStream")
	nEvents    = flag.Int("events", 40000, "events to post")
	batchSize  = flag.Int("batch", 500, "events per POST")
	clients    = flag.Int("clients", 4, "concurrent posting clients")
	partitions = flag.Int("partitions", 16, "bus partitions")
	only       = flag.String("only", "", "run one configuration: embedded, cluster-1, cluster-2 or bus")
	natsPID    = flag.Int("nats-pid", 0, "pid of nats-server, to count its CPU time too (0: not counted)")
)

// cpu returns the CPU time (user+system) of this process and of nats-server.
func cpu() (self, nats time.Duration) {
	return procCPU("self"), procCPU(strconv.Itoa(*natsPID))
}

func procCPU(pid string) time.Duration {
	if pid == "0" {
		return 0
	}
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the parenthesized command name; utime and stime are
	// the 14th and 15th fields, in clock ticks (100 per second on Linux).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

func main() {
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	access, logins := traffic(*nEvents)
	fmt.Printf("events: %d (%d access, %d login) in batches of %d, %d clients, %d partitions\n",
		len(access)+len(logins), len(access), len(logins), *batchSize, *clients, *partitions)
	fmt.Printf("%-10s %12s %15s %8s %16s %16s\n", "config", "ingest ev/s", "end-to-end ev/s", "seconds", "CPU µs/ev (proc)", "CPU µs/ev (nats)")
	bodies := encode(access, logins)
	total := len(access) + len(logins)
	for _, name := range []string{"embedded", "cluster-1", "cluster-2", "bus"} {
		if *only != "" && *only != name {
			continue
		}
		var err error
		switch name {
		case "embedded":
			err = runEmbedded(ctx, log, bodies, total)
		case "cluster-1":
			err = runCluster(ctx, log, name, 1, bodies, total)
		case "cluster-2":
			err = runCluster(ctx, log, name, 2, bodies, total)
		case "bus":
			err = runBus(ctx, log, access)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(1)
		}
	}
}

// traffic generates about n events of an airline's staff, in time order.
func traffic(n int) ([]custos.AccessEvent, []custos.LoginEvent) {
	org := sim.NewOrg(sim.Config{Kind: sim.Airline, Seed: 7, Employees: 150})
	var acc []custos.AccessEvent
	var logins []custos.LoginEvent
	stop := fmt.Errorf("enough")
	start := time.Now().Add(-30 * 24 * time.Hour).Truncate(24 * time.Hour)
	sim.Generate(org, start, 30, nil, func(ev sim.Event) error {
		switch {
		case ev.Access != nil:
			acc = append(acc, *ev.Access)
		case ev.Login != nil:
			logins = append(logins, *ev.Login)
		}
		if len(acc)+len(logins) >= n {
			return stop
		}
		return nil
	})
	return acc, logins
}

type body struct {
	path string
	data []byte
}

func encode(acc []custos.AccessEvent, logins []custos.LoginEvent) []body {
	var out []body
	for i := 0; i < len(logins); i += *batchSize {
		b, _ := json.Marshal(logins[i:min(i+*batchSize, len(logins))])
		out = append(out, body{"/api/v1/logins", b})
	}
	for i := 0; i < len(acc); i += *batchSize {
		b, _ := json.Marshal(acc[i:min(i+*batchSize, len(acc))])
		out = append(out, body{"/api/v1/events", b})
	}
	return out
}

// post sends every body with the clients, round-robin over the gateways.
func post(ctx context.Context, urls []string, token string, bodies []body) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, *clients)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients}, Timeout: time.Minute}
	for w := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				b := bodies[i]
				req, _ := http.NewRequestWithContext(ctx, "POST", urls[(i+w)%len(urls)]+b.path, bytes.NewReader(b.data))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					errc <- err
					return
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errc <- fmt.Errorf("%s: %s", resp.Status, msg)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

func report(name string, total int, ingest, e2e time.Duration, self0, nats0 time.Duration) {
	self1, nats1 := cpu()
	n := float64(total)
	fmt.Printf("%-10s %12.0f %15.0f %8.2f %16.0f %16.0f\n", name, n/ingest.Seconds(), n/e2e.Seconds(), e2e.Seconds(),
		float64((self1-self0).Microseconds())/n, float64((nats1-nats0).Microseconds())/n)
}

func runEmbedded(ctx context.Context, log *slog.Logger, bodies []body, total int) error {
	dir, err := os.MkdirTemp("", "custos-bench-embedded-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := server.Init(ctx, dir); err != nil {
		return err
	}
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Ledger.Enabled = false
	cfg.Detect.SnapshotInterval = "30s"
	srv, err := server.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close(context.Background())
	_, secret, err := server.CreateToken(ctx, srv.Store, "bench", []custos.Scope{custos.ScopeIngest})
	if err != nil {
		return err
	}
	self0, nats0 := cpu()
	start := time.Now()
	if err := post(ctx, []string{srv.URL()}, secret, bodies); err != nil {
		return err
	}
	ingest := time.Since(start)
	for {
		a, _ := srv.Store.Offset(ctx, "detect:access")
		l, _ := srv.Store.Offset(ctx, "detect:logins")
		la, _ := srv.Store.AccessSince(ctx, a, 1)
		ll, _ := srv.Store.LoginsSince(ctx, l, 1)
		if a > 0 && len(la) == 0 && len(ll) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	report("embedded", total, ingest, time.Since(start), self0, nats0)
	return nil
}

func randName(p string) string {
	b := make([]byte, 5)
	rand.Read(b)
	return p + hex.EncodeToString(b)
}

func runCluster(ctx context.Context, log *slog.Logger, name string, detectors int, bodies []body, total int) error {
	schema, stream := randName("custos_bench_"), randName("BENCH")
	conn, err := pgx.Connect(ctx, *pgAdmin)
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return err
	}
	defer func() {
		conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(context.Background())
	}()
	dir, err := os.MkdirTemp("", "custos-bench-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := server.Init(ctx, filepath.Join(dir, "gw")); err != nil {
		return err
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "gw")
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Ledger.Enabled = false
	cfg.Detect.SnapshotInterval = "30s"
	cfg.Cluster.Bus = config.ClusterBus{Driver: "nats", URL: *natsURL, Stream: stream, Partitions: *partitions, Replicas: 1, LeaseTTL: "3s", PublishTimeout: "10s"}
	cfg.Cluster.Store = config.ClusterStore{Driver: "postgres", DSN: *pgAdmin + "&search_path=" + schema}

	gw, err := cluster.Start(ctx, cfg, cluster.RoleGateway, log)
	if err != nil {
		return err
	}
	defer func() {
		gw.Bus.DeleteStream(context.Background())
		gw.Close(context.Background())
	}()
	var dets []*cluster.Node
	for i := range detectors {
		c := cfg
		c.Cluster.NodeID = fmt.Sprintf("det%d", i+1)
		d, err := cluster.Start(ctx, c, cluster.RoleDetector, log)
		if err != nil {
			return err
		}
		defer d.Close(context.Background())
		dets = append(dets, d)
	}
	// Wait until the detectors share every partition.
	for {
		owners, err := gw.Bus.Owners(ctx)
		if err != nil {
			return err
		}
		held := map[string]int{}
		for _, o := range owners {
			held[o]++
		}
		if len(owners) == gw.Bus.Units() && len(held) == detectors {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	secret, hash, _ := custos.NewTokenSecret()
	if err := gw.Store.CreateToken(ctx, custos.Token{ID: hash[:12], Name: "bench", Scopes: []custos.Scope{custos.ScopeIngest}, Hash: hash}); err != nil {
		return err
	}
	self0, nats0 := cpu()
	start := time.Now()
	if err := post(ctx, []string{"http://" + gw.Addr()}, secret, bodies); err != nil {
		return err
	}
	ingest := time.Since(start)
	st := gw.Store
	for {
		var n int
		st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM access_ids) + (SELECT count(*) FROM login_ids)`).Scan(&n)
		if n >= total {
			pending, err := gw.Bus.Pending(ctx)
			if err != nil {
				return err
			}
			var sum uint64
			for _, v := range pending {
				sum += v
			}
			if sum == 0 {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	report(name, total, ingest, time.Since(start), self0, nats0)
	return nil
}

// runBus measures the bus alone: one publisher, then one reader per
// partition (actor and cross), no processing; per event, copies included.
func runBus(ctx context.Context, log *slog.Logger, acc []custos.AccessEvent) error {
	stream := randName("BENCHBUS")
	b, err := natsbus.Connect(ctx, natsbus.Options{URL: *natsURL, Stream: stream, Partitions: *partitions, PublishTimeout: 10 * time.Second, Logger: log})
	if err != nil {
		return err
	}
	defer b.Close()
	defer b.DeleteStream(context.Background())
	// Sealed-looking events: the bus refuses raw values.
	evs := make([]custos.AccessEvent, len(acc))
	for i, e := range acc {
		e.Subjects = append([]custos.Subject(nil), e.Subjects...)
		for j := range e.Subjects {
			e.Subjects[j].Hash = fmt.Sprintf("%064d", j)
			e.Subjects[j].Value = ""
		}
		evs[i] = e
	}
	envs, err := natsbus.AccessEnvelopes(evs)
	if err != nil {
		return err
	}
	self0, nats0 := cpu()
	start := time.Now()
	for i := 0; i < len(envs); i += *batchSize {
		if _, err := b.Publish(ctx, envs[i:min(i+*batchSize, len(envs))]); err != nil {
			return err
		}
	}
	pub := time.Since(start)
	self1, nats1 := cpu()
	start = time.Now()
	// Every event is on the stream once in its actor partition and once
	// in each of its cross partitions (source, registration document).
	copies := 0
	for i := range envs {
		copies += 1 + len(b.CrossPartitions(&envs[i]))
	}
	var got atomic.Int64
	var wg sync.WaitGroup
	rctx, cancel := context.WithCancel(ctx)
	for p := range b.Units() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.Read(rctx, p, 0, natsbus.ReadOptions{MaxWait: 20 * time.Millisecond}, func(ctx context.Context, msgs []natsbus.Message) error {
				if got.Add(int64(len(msgs))) >= int64(copies) {
					cancel()
				}
				return nil
			})
		}()
	}
	wg.Wait()
	cancel()
	cons := time.Since(start)
	self2, nats2 := cpu()
	n := float64(len(envs))
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / n }
	fmt.Printf("bus alone (%d access events, JSON %d bytes/event on average, %.2f messages/event with the cross copies):\n", len(envs), avgSize(envs), float64(copies)/n)
	fmt.Printf("  publish until stored: %8.0f ev/s  %6.1f µs/event wall, CPU %5.1f µs client + %5.1f µs nats-server\n",
		n/pub.Seconds(), pub.Seconds()*1e6/n, us(self1-self0), us(nats1-nats0))
	fmt.Printf("  consume and decode:   %8.0f ev/s  %6.1f µs/event wall, CPU %5.1f µs client + %5.1f µs nats-server\n",
		n/cons.Seconds(), cons.Seconds()*1e6/n, us(self2-self1), us(nats2-nats1))
	return nil
}

func avgSize(envs []natsbus.Envelope) int {
	t := 0
	for _, e := range envs {
		t += len(e.Data)
	}
	return t / max(len(envs), 1)
}
