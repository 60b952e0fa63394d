package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	natsbus "github.com/custos-dev/custos/bus/nats"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/detect"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/ledger"
	"github.com/custos-dev/custos/sim"
	"github.com/custos-dev/custos/store/postgres"
)

// TestMain doubles as the cluster node binary: with CUSTOS_TEST_NODE set,
// the test binary runs one node (so the test can SIGKILL a real process).
func TestMain(m *testing.M) {
	if role := os.Getenv("CUSTOS_TEST_NODE"); role != "" {
		os.Exit(runNode(Role(role)))
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const testTimeZone = "Asia/Shanghai" // sim.Zone's offset, as an IANA name

func nodeConfig() config.Config {
	partitions, _ := strconv.Atoi(os.Getenv("CUSTOS_TEST_PARTITIONS"))
	cfg := config.Default()
	cfg.DataDir = os.Getenv("CUSTOS_TEST_DATA")
	cfg.API.Listen = os.Getenv("CUSTOS_TEST_LISTEN")
	cfg.Log.Level = "info"
	cfg.Detect.TimeZone = testTimeZone
	cfg.Detect.SnapshotInterval = "1s"
	cfg.Cluster.NodeID = os.Getenv("CUSTOS_TEST_NODE_ID")
	cfg.Cluster.Bus = config.ClusterBus{Driver: "nats", URL: natsURL(), Stream: os.Getenv("CUSTOS_TEST_STREAM"),
		Partitions: partitions, Replicas: 1, LeaseTTL: "2s", PublishTimeout: "2s"}
	cfg.Cluster.Store = config.ClusterStore{Driver: "postgres", DSN: os.Getenv("CUSTOS_TEST_PG")}
	cfg.Cluster.Ledger = config.ClusterLedger{Driver: "mysql", DSN: os.Getenv("CUSTOS_TEST_MYSQL")}
	cfg.Cluster.Listen = os.Getenv("CUSTOS_TEST_LISTEN")
	return cfg
}

func runNode(role Role) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := nodeConfig()
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	n, err := Start(ctx, cfg, role, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	werr := n.Wait(ctx)
	cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.Close(cctx); err != nil || werr != nil {
		fmt.Fprintln(os.Stderr, err, werr)
		return 1
	}
	return 0
}

func natsURL() string {
	if v := os.Getenv("CUSTOS_TEST_NATS"); v != "" {
		return v
	}
	return "nats://127.0.0.1:4222"
}

func need(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CUSTOS_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s: %v", what, err)
	}
	t.Skipf("%s not available: %v", what, err)
}

func randName(prefix string) string {
	b := make([]byte, 5)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// services creates a fresh PostgreSQL schema, MariaDB database and NATS
// stream name for the test, removed in cleanup.
func services(t *testing.T, partitions int) (pgDSN, myDSN, stream string) {
	ctx := context.Background()
	admin := "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	conn, err := pgx.Connect(ctx, admin)
	need(t, "PostgreSQL", err)
	schema := randName("custos_cluster_")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), admin)
		if err == nil {
			conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(context.Background())
		}
	})
	root, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/")
	if err == nil {
		err = root.Ping()
	}
	need(t, "MariaDB", err)
	db := randName("custos_cluster_")
	if _, err := root.Exec("CREATE DATABASE " + db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		root.Exec("DROP DATABASE " + db)
		root.Close()
	})
	stream = randName("CT")
	b, err := natsbus.Connect(ctx, natsbus.Options{URL: natsURL(), Stream: stream, Partitions: partitions})
	need(t, "NATS", err)
	t.Cleanup(func() {
		b.DeleteStream(context.Background())
		b.Close()
	})
	return admin + "&search_path=" + schema, "root@tcp(127.0.0.1:3306)/" + db, stream
}

// proc is one node running as a child process of the test binary.
type proc struct {
	t      *testing.T
	name   string
	role   Role
	env    []string
	addr   string
	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (p *proc) start() {
	p.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Env = append(cmd.Env, "CUSTOS_TEST_NODE="+string(p.role), "CUSTOS_TEST_NODE_ID="+p.name, "CUSTOS_TEST_LISTEN="+p.addr)
	cmd.Stdout = p.log
	cmd.Stderr = p.log
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmd = cmd
	p.exited = make(chan struct{})
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	p.waitReady()
}

func (p *proc) waitReady() {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			p.t.Fatalf("%s exited during start-up:\n%s", p.name, p.tail())
		default:
		}
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("%s not ready:\n%s", p.name, p.tail())
}

func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

func (p *proc) stop() {
	if p.cmd == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	t0 := time.Now()
	defer func() { p.t.Logf("%s stopped in %s", p.name, time.Since(t0).Round(time.Millisecond)) }()
	select {
	case <-p.exited:
	case <-time.After(25 * time.Second):
		p.t.Errorf("%s did not stop on SIGTERM", p.name)
		p.kill()
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Errorf("%s exited with %d:\n%s", p.name, code, p.tail())
	}
}

func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// wireEvent is one sim event as a client posts it.
type wireEvent struct {
	access *custos.AccessEvent
	login  *custos.LoginEvent
}

type batch struct {
	path string
	body []byte
	ids  []string
}

// TestClusterSurvivesKills is the scale-out acceptance test: 2 gateways,
// 2 detectors and an api node with the ledger over NATS, PostgreSQL and
// MariaDB; the simulator's credential-stuffing scenario plus one identity
// document registered by agents of different partitions, posted to the
// gateways; one gateway and one detector SIGKILLed mid-run and restarted.
// Every acknowledged event must be in the index and the ledger, and the
// alerts must equal a single-process replay: one engine, every rule, every
// event, although the cluster splits them over actor and cross partitions.
func TestClusterSurvivesKills(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five processes")
	}
	for _, partitions := range []int{8, 2} {
		t.Run(fmt.Sprintf("partitions=%d", partitions), func(t *testing.T) { testCluster(t, partitions) })
	}
}

func testCluster(t *testing.T, testPartitions int) {
	t0 := time.Now()
	pgDSN, myDSN, stream := services(t, testPartitions)
	ctx := context.Background()
	tmp := t.TempDir()

	// One blind-index key for the cluster, copied into every data dir.
	keyDir := filepath.Join(tmp, "key")
	os.MkdirAll(keyDir, 0o700)
	if err := blind.CreateKey(blind.KeyFile(keyDir)); err != nil {
		t.Fatal(err)
	}
	key, err := blind.LoadKey(blind.KeyFile(keyDir))
	if err != nil {
		t.Fatal(err)
	}
	index, _ := blind.New(key)
	keyBytes, _ := os.ReadFile(blind.KeyFile(keyDir))

	st, err := postgres.Open(ctx, pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	secret, hash, err := custos.NewTokenSecret()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateToken(ctx, custos.Token{ID: hash[:12], Name: "test", Scopes: []custos.Scope{custos.ScopeIngest, custos.ScopeRead, custos.ScopeAdmin}, Hash: hash}); err != nil {
		t.Fatal(err)
	}

	env := []string{"CUSTOS_TEST_PG=" + pgDSN, "CUSTOS_TEST_MYSQL=" + myDSN, "CUSTOS_TEST_STREAM=" + stream,
		"CUSTOS_TEST_PARTITIONS=" + strconv.Itoa(testPartitions)}
	newProc := func(name string, role Role) *proc {
		dir := filepath.Join(tmp, name)
		os.MkdirAll(dir, 0o700)
		os.MkdirAll(filepath.Dir(blind.KeyFile(dir)), 0o700)
		if err := os.WriteFile(blind.KeyFile(dir), keyBytes, 0o600); err != nil {
			t.Fatal(err)
		}
		lf, err := os.Create(filepath.Join(tmp, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		p := &proc{t: t, name: name, role: role, addr: freeAddr(t), log: lf,
			env: append(slices.Clone(env), "CUSTOS_TEST_DATA="+dir)}
		t.Cleanup(func() {
			if p.cmd != nil {
				select {
				case <-p.exited:
				default:
					p.kill()
				}
			}
			lf.Close()
		})
		return p
	}
	apiNode := newProc("api", RoleAPI)
	gw := []*proc{newProc("gw1", RoleGateway), newProc("gw2", RoleGateway)}
	det := []*proc{newProc("det1", RoleDetector), newProc("det2", RoleDetector)}
	start := time.Now()
	for _, p := range append([]*proc{apiNode}, append(gw, det...)...) {
		p.start()
	}
	t.Logf("services ready in %s", time.Since(t0).Round(time.Millisecond))
	t.Logf("5 nodes ready in %s", time.Since(start).Round(time.Millisecond))

	// The simulator's traffic: one scenario of the eval suite.
	var events []wireEvent
	var scenario *sim.Scenario
	for _, sc := range sim.Suite(40, 8) {
		if sc.Name == "credential_stuffing" {
			scenario = sc
		}
	}
	if scenario == nil {
		t.Fatal("scenario credential_stuffing not in the suite")
	}
	err = sim.Generate(scenario.Org(), sim.SuiteStart, scenario.Days, []*sim.Scenario{scenario}, func(ev sim.Event) error {
		switch {
		case ev.Access != nil:
			a := *ev.Access
			a.Subjects = slices.Clone(a.Subjects)
			events = append(events, wireEvent{access: &a})
		case ev.Login != nil:
			l := *ev.Login
			events = append(events, wireEvent{login: &l})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	events = addDocumentReuse(t, events, testPartitions)
	batches := makeBatches(t, events, 100)
	t.Logf("%d events in %d batches", len(events), len(batches))

	bus, err := natsbus.Connect(ctx, natsbus.Options{URL: natsURL(), Stream: stream, Partitions: testPartitions})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	// Both detectors hold partitions (with one partition: one holds it,
	// the other stands by); the one to kill is a holder.
	var victim *proc
	waitUntil(t, 15*time.Second, "partitions assigned", func() (bool, string) {
		owners, err := bus.Owners(ctx)
		if err != nil || len(owners) < bus.Units() {
			return false, fmt.Sprintf("owners %v (%v)", owners, err)
		}
		count := map[string]int{}
		for _, o := range owners {
			count[o]++
		}
		if count["det1"] == 0 || count["det2"] == 0 {
			return false, fmt.Sprintf("owners %v", owners)
		}
		victim = det[0]
		if owners[0] == "det2" {
			victim = det[1]
		}
		return true, ""
	})

	client := &http.Client{Timeout: 10 * time.Second}
	post := func(p *proc, b batch) error {
		req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+b.path, bytes.NewReader(b.body))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", resp.Status, body)
		}
		return nil
	}
	alive := []bool{true, true}
	// The kill comes once every partition has a snapshot (so the
	// takeover restores one and replays the stream after it), but not
	// later than 60% of the run.
	killAt, restartAt := len(batches), len(batches)*4/5
	acked := map[string]bool{}
	postStart := time.Now()
	for i, b := range batches {
		if killAt == len(batches) && i >= len(batches)*2/5 {
			var n int
			st.Pool().QueryRow(ctx, `SELECT count(*) FROM snapshots WHERE position > 0`).Scan(&n)
			if n == bus.Units() || i >= len(batches)*3/5 {
				killAt = i
				t.Logf("%d of %d partitions (actor and cross) had a snapshot at the kill", n, bus.Units())
			}
		}
		switch i {
		case killAt:
			// The gateway dies with a request in flight; the detector
			// dies in the middle of its partitions.
			go func() {
				time.Sleep(2 * time.Millisecond)
				gw[0].kill()
			}()
			victim.kill()
			t.Logf("SIGKILLed gw1 and %s at batch %d", victim.name, i)
		case restartAt:
			gw[0].start()
			victim.start()
			alive[0] = true
			t.Logf("restarted gw1 and %s at batch %d", victim.name, i)
		}
		deadline := time.Now().Add(20 * time.Second)
		for try := 0; ; try++ {
			g := (i + try) % 2
			if !alive[g] {
				continue
			}
			err := post(gw[g], b)
			if err == nil {
				break
			}
			if g == 0 && i >= killAt && i < restartAt {
				alive[0] = false
			}
			if time.Now().After(deadline) {
				t.Fatalf("batch %d not accepted: %v", i, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, id := range b.ids {
			acked[id] = true
		}
	}
	postTime := time.Since(postStart)
	t.Logf("posted %d events in %s (%.0f events/s)", len(events), postTime.Round(time.Millisecond), float64(len(events))/postTime.Seconds())

	// Wait until the detectors have indexed and analysed everything.
	waitUntil(t, 30*time.Second, "detectors caught up", func() (bool, string) {
		n, err := countIndexed(ctx, st)
		if err != nil || n < len(acked) {
			return false, fmt.Sprintf("indexed %d of %d (%v)", n, len(acked), err)
		}
		pending, err := bus.Pending(ctx)
		if err != nil || len(pending) < bus.Units() {
			return false, fmt.Sprintf("consumers %v (%v)", pending, err)
		}
		for _, v := range pending {
			if v > 0 {
				return false, fmt.Sprintf("pending %v", pending)
			}
		}
		return true, ""
	})
	waitUntil(t, 30*time.Second, "ledger caught up", func() (bool, string) {
		v, err := metric("http://"+apiNode.addr+"/metrics", "custos_ledger_pending_events")
		return err == nil && v == 0, fmt.Sprintf("pending %v (%v)", v, err)
	})
	t.Logf("indexed, analysed and in the ledger %s after the last post", time.Since(postStart.Add(postTime)).Round(time.Millisecond))
	for _, p := range append(append([]*proc{}, gw...), det...) {
		p.stop()
	}
	apiNode.stop()
	t.Logf("nodes stopped at %s", time.Since(start).Round(time.Millisecond))

	// No acknowledged event is missing from the index...
	for _, q := range []string{"SELECT id FROM access_ids", "SELECT id FROM login_ids"} {
		rows, _ := st.Pool().Query(ctx, q)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			delete(acked, id)
		}
	}
	if len(acked) > 0 {
		t.Errorf("%d acknowledged events missing from the index, e.g. %v", len(acked), firstKeys(acked, 5))
	}
	// ...or from the ledger.
	checkLedger(t, filepath.Join(tmp, "api", "ledger"), myDSN, st, len(events))
	t.Logf("index and ledger checked at %s", time.Since(start).Round(time.Millisecond))

	// The alerts equal a single-process replay of the same events: one
	// engine, every rule.
	loc, _ := time.LoadLocation(testTimeZone)
	sealed := sealAll(t, index, events)
	want, actorOnly := replay(sealed, loc, testPartitions)
	got, err := st.Alerts(ctx, custos.AlertQuery{Limit: custos.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]int{}
	for _, w := range want {
		rules[w.Rule]++
	}
	for _, r := range []string{detect.RuleStuffingSource, detect.RuleSuccessAfterStuff, detect.RuleDocumentReuse} {
		if rules[r] == 0 {
			t.Fatalf("the replay raised no %s (%v): the comparison would prove little", r, rules)
		}
	}
	gotByID := map[string]custos.AlertRecord{}
	for _, a := range got {
		gotByID[a.ID] = a
	}
	for id, w := range want {
		g, ok := gotByID[id]
		if !ok {
			t.Errorf("alert %s (%s on %s) missing from the cluster", id, w.Rule, w.Actor)
			continue
		}
		if !sameAlert(g, w) {
			t.Errorf("alert %s differs:\n cluster %s %s %s..%s %s\n replay  %s %s %s..%s %s", id,
				g.Rule, g.Actor, g.FirstSeen, g.LastSeen, g.Doc, w.Rule, w.Actor, w.FirstSeen, w.LastSeen, w.Doc)
		}
		delete(gotByID, id)
	}
	for id, g := range gotByID {
		t.Errorf("cluster raised alert %s (%s on %s) the replay did not", id, g.Rule, g.Actor)
	}
	// For the record: what partitioning by actor alone would miss (every
	// rule in engines fed by actor, as before the cross partitions).
	missed := 0
	for id := range want {
		if _, ok := actorOnly[id]; !ok {
			missed++
		}
	}
	t.Logf("alerts: cluster %d = one engine %d (by rule %v); %d actor partitions alone would raise %d, missing %d of them",
		len(got), len(want), rules, testPartitions, len(actorOnly), missed)
	if missed == 0 {
		t.Errorf("actor partitions alone raise every alert: the scenario does not exercise the cross partitions")
	}
	t.Logf("total %s", time.Since(start).Round(time.Millisecond))
}

func makeBatches(t *testing.T, events []wireEvent, size int) []batch {
	var out []batch
	for i := 0; i < len(events); {
		j := i
		login := events[i].login != nil
		var docs []any
		var ids []string
		for j < len(events) && j-i < size && (events[j].login != nil) == login {
			if login {
				docs = append(docs, events[j].login)
				ids = append(ids, events[j].login.ID)
			} else {
				docs = append(docs, events[j].access)
				ids = append(ids, events[j].access.ID)
			}
			j++
		}
		body, err := json.Marshal(docs)
		if err != nil {
			t.Fatal(err)
		}
		path := "/api/v1/events"
		if login {
			path = "/api/v1/logins"
		}
		out = append(out, batch{path: path, body: body, ids: ids})
		i = j
	}
	return out
}

// capture is an ingest.Appender that keeps what the pipeline would store.
type capture struct{ msgs []natsbus.Message }

func (c *capture) AppendAccess(ctx context.Context, evs []custos.AccessEvent) (custos.AppendResult, error) {
	for i := range evs {
		// Through JSON, as over the bus.
		b, _ := json.Marshal(&evs[i])
		var e custos.AccessEvent
		json.Unmarshal(b, &e)
		c.msgs = append(c.msgs, natsbus.Message{Kind: natsbus.KindAccess, Access: &e})
	}
	return custos.AppendResult{Stored: len(evs)}, nil
}

func (c *capture) AppendLogins(ctx context.Context, evs []custos.LoginEvent) (custos.AppendResult, error) {
	for i := range evs {
		b, _ := json.Marshal(&evs[i])
		var e custos.LoginEvent
		json.Unmarshal(b, &e)
		c.msgs = append(c.msgs, natsbus.Message{Kind: natsbus.KindLogin, Login: &e})
	}
	return custos.AppendResult{Stored: len(evs)}, nil
}

// sealAll passes the events through the same decode, validation and
// sealing a gateway applies.
func sealAll(t *testing.T, index *blind.Index, events []wireEvent) []natsbus.Message {
	c := &capture{}
	p := &ingest.Pipeline{Store: c, Index: index}
	for _, b := range makeBatches(t, events, 100) {
		var err error
		if b.path == "/api/v1/events" {
			var evs []custos.AccessEvent
			if evs, err = ingest.Decode[custos.AccessEvent](bytes.NewReader(b.body), 1000); err == nil {
				_, err = p.Access(context.Background(), evs)
			}
		} else {
			var evs []custos.LoginEvent
			if evs, err = ingest.Decode[custos.LoginEvent](bytes.NewReader(b.body), 1000); err == nil {
				_, err = p.Logins(context.Background(), evs)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return c.msgs
}

// replay runs the events through one engine for everything (what the
// cluster must equal) and, for comparison, through one all-rules engine
// per actor partition (what partitioning by actor alone would give).
func replay(msgs []natsbus.Message, loc *time.Location, partitions int) (whole, partitioned map[string]custos.AlertRecord) {
	engines := map[int]*detect.Engine{}
	// Detectors consult the relationships and watchlist stored in
	// PostgreSQL, none here: need-to-know is on, with an empty table.
	cfg := DetectConfig(loc)
	cfg.Relations = detect.NewRelationTable()
	one := detect.New(cfg)
	var perPart, all []detect.Alert
	for _, m := range msgs {
		actor := ""
		if m.Access != nil {
			actor = m.Access.Actor.ID
		} else {
			actor = m.Login.Account
		}
		p := natsbus.Partition(actor, partitions)
		e, ok := engines[p]
		if !ok {
			e = detect.New(cfg)
			engines[p] = e
		}
		if m.Access != nil {
			a1, a2 := *m.Access, *m.Access
			perPart = append(perPart, e.ProcessAccess(&a1)...)
			all = append(all, one.ProcessAccess(&a2)...)
		} else {
			l1, l2 := *m.Login, *m.Login
			perPart = append(perPart, e.ProcessLogin(&l1)...)
			all = append(all, one.ProcessLogin(&l2)...)
		}
	}
	byID := func(as []detect.Alert) map[string]custos.AlertRecord {
		out := map[string]custos.AlertRecord{}
		for _, r := range detect.Records(as) {
			out[r.ID] = r
		}
		return out
	}
	return byID(all), byID(perPart)
}

// addDocumentReuse inserts, a day before the last event, five
// registrations of one identity document by three agents of different
// actor partitions (two of them twice): only an engine that sees the
// document's registrations across agents raises id_document_reuse.
func addDocumentReuse(t *testing.T, events []wireEvent, partitions int) []wireEvent {
	t.Helper()
	at := events[len(events)-1].time().Add(-24 * time.Hour)
	var agents []*custos.AccessEvent
	used := map[int]bool{}
	for _, ev := range events {
		if ev.access == nil || len(agents) == 3 {
			continue
		}
		if p := natsbus.Partition(ev.access.Actor.ID, partitions); !used[p] {
			used[p] = true
			agents = append(agents, ev.access)
		}
	}
	if len(agents) < 2 {
		t.Fatalf("need agents in different partitions, have %d", len(agents))
	}
	for len(agents) < 3 { // two partitions: a third agent anywhere
		for _, ev := range events {
			if ev.access != nil && ev.access.Actor.ID != agents[0].Actor.ID && ev.access.Actor.ID != agents[1].Actor.ID {
				agents = append(agents, ev.access)
				break
			}
		}
	}
	doc := sim.RandomCNID(mathrand.New(mathrand.NewPCG(11, 7)))
	var regs []wireEvent
	for k, a := range []*custos.AccessEvent{agents[0], agents[1], agents[2], agents[0], agents[1]} {
		ev := *a
		ev.ID = fmt.Sprintf("reg-%d", k)
		ev.Time = at.Add(time.Duration(k) * 9 * time.Minute)
		ev.Action = custos.ActionCreate
		ev.Resource = custos.Resource{System: "crm", Object: "sim_registration"}
		ev.Subjects = []custos.Subject{{Type: custos.TypeCNID, Value: doc}}
		ev.Categories = []string{custos.CategoryIdentity}
		ev.Purpose = custos.Purpose{Name: "registration", Ticket: "walk-in"}
		ev.Records = 1
		regs = append(regs, wireEvent{access: &ev})
	}
	// In time order, as the simulator's events are.
	for _, r := range regs {
		i := slices.IndexFunc(events, func(ev wireEvent) bool { return ev.time().After(r.time()) })
		if i < 0 {
			i = len(events)
		}
		events = slices.Insert(events, i, r)
	}
	return events
}

func (w wireEvent) time() time.Time {
	if w.access != nil {
		return w.access.Time
	}
	return w.login.Time
}

func sameAlert(g, w custos.AlertRecord) bool {
	if g.Rule != w.Rule || g.Severity != w.Severity || g.Actor != w.Actor || g.SourceIP != w.SourceIP ||
		!g.FirstSeen.Equal(w.FirstSeen) || !g.LastSeen.Equal(w.LastSeen) || g.Summary != w.Summary {
		return false
	}
	var gd, wd any
	json.Unmarshal(g.Doc, &gd)
	json.Unmarshal(w.Doc, &wd)
	return reflect.DeepEqual(gd, wd)
}

func checkLedger(t *testing.T, dir, myDSN string, st *postgres.Store, events int) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("mysql", myDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := ledger.Open(ctx, dir, ledger.Options{MySQL: db, CheckpointInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	lag, err := l.MeasureLag(ctx, st, 100000)
	if err != nil {
		t.Fatal(err)
	}
	if lag.PendingAccess+lag.PendingLogins != 0 {
		t.Errorf("ledger lag %+v, want nothing pending", lag)
	}
	size, err := l.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int(size) != events {
		t.Errorf("ledger holds %d entries, want %d", size, events)
	}
}

func countIndexed(ctx context.Context, st *postgres.Store) (int, error) {
	var n int
	err := st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM access_ids) + (SELECT count(*) FROM login_ids)`).Scan(&n)
	return n, err
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: timed out; last state: %s", what, last)
}

// metric reads one unlabelled series from a Prometheus text page.
func metric(url, name string) (float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") {
			return strconv.ParseFloat(strings.TrimSpace(line[len(name):]), 64)
		}
	}
	return 0, fmt.Errorf("%s not found", name)
}

func firstKeys(m map[string]bool, n int) []string {
	var out []string
	for k := range m {
		if len(out) == n {
			break
		}
		out = append(out, k)
	}
	return out
}
