// Command ingest measures durable ingest throughput: NDJSON batches of
// access events posted over loopback to a running `custos serve`, and, in
// the same run as the peer, the same events written to PostgreSQL the way
// a team would without Custos (COPY of JSONB rows plus a subject index,
// one synchronous commit per batch).
//
//	go run ./bench/ingest -url http://127.0.0.1:8870 -token cst_… -duration 20s
//	go run ./bench/ingest -pg postgres://postgres@127.0.0.1:5432/test -duration 20s
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	url := flag.String("url", "", "custos API base URL")
	token := flag.String("token", "", "ingest token")
	pg := flag.String("pg", "", "PostgreSQL URL: measure the peer instead")
	batch := flag.Int("batch", 500, "events per batch")
	clients := flag.Int("clients", 8, "concurrent clients")
	duration := flag.Duration("duration", 20*time.Second, "how long to post")
	flag.Parse()

	// Bodies are built up front so the client costs little CPU on the
	// same 2 cores as the server.
	const bodies = 64
	var payloads [][]byte
	var rows [][]event
	run := time.Now().UnixNano()
	for b := range bodies {
		evs := make([]event, *batch)
		var buf bytes.Buffer
		for i := range evs {
			evs[i] = makeEvent(b**batch + i)
			json.NewEncoder(&buf).Encode(evs[i])
		}
		payloads = append(payloads, buf.Bytes())
		rows = append(rows, evs)
	}

	var post func(ctx context.Context, w, n int) error
	name := "custos"
	switch {
	case *pg != "":
		name = "postgres"
		pool, err := setupPG(*pg)
		if err != nil {
			fail(err)
		}
		defer pool.Close()
		post = func(ctx context.Context, w, n int) error {
			// Concurrent COPYs into unique indexes can deadlock; PostgreSQL
			// aborts one, and a real writer would retry it.
			for {
				err := copyBatch(ctx, pool, rows[n%bodies], fmt.Sprintf("%d-%d-%d-", run, w, n))
				if err == nil || !strings.Contains(err.Error(), "40P01") {
					return err
				}
			}
		}
	case *url != "":
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients}}
		post = func(ctx context.Context, w, n int) error {
			body := withIDs(payloads[n%bodies], fmt.Sprintf("%d-%d-%d-", run, w, n))
			req, _ := http.NewRequestWithContext(ctx, "POST", *url+"/api/v1/events", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+*token)
			req.Header.Set("Content-Type", "application/x-ndjson")
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				b, _ := io.ReadAll(resp.Body)
				return fmt.Errorf("status %d: %s", resp.StatusCode, b)
			}
			io.Copy(io.Discard, resp.Body)
			return nil
		}
	default:
		fail(fmt.Errorf("give -url and -token, or -pg"))
	}

	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	var done atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for w := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				t0 := time.Now()
				if err := post(ctx, w, n); err != nil {
					if ctx.Err() != nil {
						return
					}
					fail(err)
				}
				d := time.Since(t0)
				done.Add(int64(*batch))
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	fmt.Printf("%s: %d events in %.1fs = %.0f events/s durable; batch of %d latency p50 %v p99 %v (%d clients)\n",
		name, done.Load(), el.Seconds(), float64(done.Load())/el.Seconds(), *batch, p(0.5).Round(time.Millisecond), p(0.99).Round(time.Millisecond), *clients)
}

type event struct {
	ID       string              `json:"id"`
	Time     time.Time           `json:"time"`
	Actor    map[string]any      `json:"actor"`
	Channel  string              `json:"channel"`
	Action   string              `json:"action"`
	Resource map[string]string   `json:"resource"`
	Purpose  map[string]string   `json:"purpose"`
	Subjects []map[string]string `json:"subjects"`
	Records  int                 `json:"records"`
}

// makeEvent builds the i-th synthetic access: a passenger look-up by one
// of 2,000 agents, with an ID number and a phone number as subjects.
func makeEvent(i int) event {
	return event{
		ID:       fmt.Sprintf("%08d", i),
		Time:     time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
		Actor:    map[string]any{"id": fmt.Sprintf("emp-%04d", i%2000), "roles": []string{"agent"}, "org_unit": fmt.Sprintf("site-%d", i%20)},
		Channel:  "ingest",
		Action:   "read",
		Resource: map[string]string{"system": "pss", "object": "passengers"},
		Purpose:  map[string]string{"name": "customer_service", "ticket": fmt.Sprintf("INC-%d", i%5000)},
		Subjects: []map[string]string{
			{"type": "cn_id", "value": cnID(110101, 19700101+i%20000%1231, i%1000)},
			{"type": "cn_mobile", "value": fmt.Sprintf("138%08d", i%1000000)},
		},
		Records: 1,
	}
}

// cnID returns a checksum-valid 18-digit resident ID for synthetic data.
func cnID(region, birth, seq int) string {
	if birth%100 == 0 || birth%100 > 28 {
		birth = birth - birth%100 + 1
	}
	if birth/100%100 == 0 || birth/100%100 > 12 {
		birth = birth/10000*10000 + 101
	}
	s := fmt.Sprintf("%06d%08d%03d", region, birth, seq)
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		sum += int(s[i]-'0') * w[i]
	}
	return s + string("10X98765432"[sum%11])
}

// withIDs prefixes every "id":"…" in an NDJSON body so each post is new.
func withIDs(body []byte, prefix string) []byte {
	return bytes.ReplaceAll(body, []byte(`{"id":"`), []byte(`{"id":"`+prefix))
}

func setupPG(url string) (*pgxpool.Pool, error) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, err
	}
	_, err = pool.Exec(ctx, `
		DROP TABLE IF EXISTS bench_events, bench_event_subjects;
		CREATE TABLE bench_events (seq bigserial PRIMARY KEY, id text UNIQUE NOT NULL, time timestamptz NOT NULL, actor text NOT NULL, doc jsonb NOT NULL);
		CREATE INDEX ON bench_events (actor, seq);
		CREATE TABLE bench_event_subjects (subject_type text, subject_hash text, event_id text, time timestamptz, PRIMARY KEY (subject_type, subject_hash, event_id));`)
	return pool, err
}

// copyBatch is the peer: one transaction per batch (synchronous commit,
// so durable like Custos), COPY of the events and of their subjects. The
// subject value is stored in clear: the peer does no blind indexing,
// validation or normalization.
func copyBatch(ctx context.Context, pool *pgxpool.Pool, evs []event, prefix string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	evRows := make([][]any, len(evs))
	var subRows [][]any
	for i, e := range evs {
		doc, _ := json.Marshal(e)
		id := prefix + e.ID
		evRows[i] = []any{id, e.Time, e.Actor["id"], doc}
		for _, s := range e.Subjects {
			subRows = append(subRows, []any{s["type"], s["value"], id, e.Time})
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bench_events"}, []string{"id", "time", "actor", "doc"}, pgx.CopyFromRows(evRows)); err != nil {
		return err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bench_event_subjects"}, []string{"subject_type", "subject_hash", "event_id", "time"}, pgx.CopyFromRows(subRows)); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/ingest:", err)
	os.Exit(1)
}
