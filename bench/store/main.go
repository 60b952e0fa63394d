// Command store measures the embedded event store (store/sqlite): it
// bulk-loads synthetic access events through AppendAccess in batches from
// several concurrent writers (so group commit is exercised as the API
// would), then measures the latency of history queries over random keys.
// With -pg it also copies the subject index into PostgreSQL and measures
// the same subject-history query there, as a peer on the same data.
//
//	go run ./bench/store -dir /tmp/custos-bench-1m -events 1000000
//	go run ./bench/store -dir /tmp/custos-bench-1m -load=false -pg 'postgres://postgres@127.0.0.1:5432/test'
//
// Events are a pure function of (seed, index), so a reused data dir and
// the query sampler agree on what was loaded.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/store/sqlite"
)

type config struct {
	dir      string
	events   int
	actors   int
	subjects int
	days     int
	batch    int
	writers  int
	queries  int
	load     bool
	bulk     bool // load through the store's bulk mode
	seed     uint64
	pg       string
	loaded   int // events actually in the dir, when a load was cut short
}

func main() {
	var c config
	flag.StringVar(&c.dir, "dir", "", "data directory (required; use a fresh one under /tmp to load)")
	flag.IntVar(&c.events, "events", 1_000_000, "events to load")
	flag.IntVar(&c.actors, "actors", 5000, "distinct actors")
	flag.IntVar(&c.subjects, "subjects", 2_000_000, "distinct data subjects")
	flag.IntVar(&c.days, "days", 90, "days the events are spread over")
	flag.IntVar(&c.batch, "batch", 500, "events per AppendAccess call")
	flag.IntVar(&c.writers, "writers", 4, "concurrent AppendAccess callers")
	flag.IntVar(&c.queries, "queries", 1000, "random queries per kind")
	flag.BoolVar(&c.load, "load", true, "load events (false: query an existing dir loaded with the same flags)")
	flag.BoolVar(&c.bulk, "bulk", false, "load through the store's bulk mode (no fsync, 4 GiB cache, big groups: use -batch 50000) to build a large data set fast; the queries run on the store opened normally afterwards")
	flag.Uint64Var(&c.seed, "seed", 1, "generator seed")
	flag.IntVar(&c.loaded, "loaded", 0, "with -load=false: how many of the -events were loaded before the load was stopped (default all)")
	flag.StringVar(&c.pg, "pg", "", "PostgreSQL URL: also measure the subject-history query there")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "store bench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if c.loaded <= 0 || c.loaded > c.events {
		c.loaded = c.events
	}
	if c.dir == "" {
		fmt.Fprintln(os.Stderr, "store bench: -dir is required")
		os.Exit(2)
	}
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "store bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	fmt.Printf("# store bench: %d events (%d loaded), %d actors, %d subjects, %d days, batch %d, %d writers, GOMAXPROCS %d, %s\n",
		c.events, c.loaded, c.actors, c.subjects, c.days, c.batch, c.writers, runtime.GOMAXPROCS(0), time.Now().UTC().Format(time.RFC3339))
	g := newGenerator(c)
	if c.load && c.bulk {
		b, err := sqlite.OpenWith(ctx, c.dir, sqlite.Options{Bulk: true})
		if err != nil {
			return err
		}
		if err := load(ctx, b, g, c); err != nil {
			b.Close()
			return err
		}
		if err := b.Close(); err != nil {
			return err
		}
	}
	s, err := sqlite.Open(ctx, c.dir)
	if err != nil {
		return err
	}
	defer s.Close()
	if c.load && !c.bulk {
		if err := load(ctx, s, g, c); err != nil {
			return err
		}
	}
	if fi, err := os.Stat(s.Path()); err == nil {
		fmt.Printf("database file: %.2f GiB\n", float64(fi.Size())/(1<<30))
	}
	samples := g.samples(c.queries)
	if err := queries(ctx, s, g, samples); err != nil {
		return err
	}
	if c.pg != "" {
		if err := pgPeer(ctx, c, s, samples); err != nil {
			return fmt.Errorf("postgres peer: %w", err)
		}
	}
	return nil
}

// generator makes event i deterministically.
type generator struct {
	c     config
	start time.Time
	step  time.Duration
}

var systems = []struct {
	name    string
	objects []string
}{
	{"pss", []string{"passengers", "bookings", "tickets", "loyalty", "checkin", "baggage"}},
	{"crm", []string{"customers", "contacts", "cases", "complaints"}},
	{"billing", []string{"accounts", "invoices", "payments", "refunds", "cards"}},
	{"hr", []string{"employees", "payroll", "leave"}},
	{"credit", []string{"reports", "applications", "consents", "scores", "disputes", "inquiries", "limits"}},
}

var actions = []custos.Action{custos.ActionRead, custos.ActionRead, custos.ActionRead, custos.ActionSearch, custos.ActionExport, custos.ActionUpdate}

func newGenerator(c config) *generator {
	end := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	span := time.Duration(c.days) * 24 * time.Hour
	return &generator{c: c, start: end.Add(-span), step: span / time.Duration(c.events)}
}

// end is the time of the newest loaded event: "now" for the queries.
func (g *generator) end() time.Time { return g.start.Add(time.Duration(g.c.loaded) * g.step) }

func subjectHash(n int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "subject-%d", n))
	return hex.EncodeToString(sum[:])
}

func (g *generator) event(i int) custos.AccessEvent {
	r := rand.New(rand.NewPCG(g.c.seed, uint64(i)))
	sys := systems[r.IntN(len(systems))]
	// Events arrive roughly in time order, a few seconds of jitter apart.
	at := g.start.Add(time.Duration(i)*g.step + time.Duration(r.IntN(5000))*time.Millisecond)
	actor := r.IntN(g.c.actors)
	e := custos.AccessEvent{
		ID:   fmt.Sprintf("ev-%010d", i),
		Time: at,
		Actor: custos.Actor{ID: fmt.Sprintf("emp-%05d", actor), Roles: []string{"agent"},
			OrgUnit: fmt.Sprintf("unit-%03d", actor/50)},
		Source:   custos.Source{IP: fmt.Sprintf("10.%d.%d.%d", actor/65536%256, actor/256%256, actor%256), Session: fmt.Sprintf("s-%d-%d", actor, i/200)},
		Channel:  custos.ChannelIngest,
		Action:   actions[r.IntN(len(actions))],
		Resource: custos.Resource{System: sys.name, Object: sys.objects[r.IntN(len(sys.objects))], Route: "/api/v1/records/{id}"},
		Purpose:  custos.Purpose{Name: "customer_service", Ticket: fmt.Sprintf("INC-%d", r.IntN(1_000_000))},
		Decision: custos.DecisionAllow,
		Outcome:  custos.OutcomeSuccess,
	}
	n := 1 + r.IntN(3)
	for range n {
		e.Subjects = append(e.Subjects, custos.Subject{Type: "cn_id", Hash: subjectHash(r.IntN(g.c.subjects)), Masked: "110***********123X"})
	}
	e.DataTypes = []string{"cn_id", "cn_mobile"}
	e.Categories = []string{"identity", "contact"}
	e.Records = int64(n)
	e.Bytes = int64(200 * n)
	return e
}

func load(ctx context.Context, s *sqlite.Store, g *generator, c config) error {
	batches := make(chan []custos.AccessEvent, 2*c.writers)
	go func() {
		defer close(batches)
		for i := 0; i < c.events; i += c.batch {
			b := make([]custos.AccessEvent, 0, c.batch)
			for j := i; j < min(i+c.batch, c.events); j++ {
				b = append(b, g.event(j))
			}
			batches <- b
		}
	}()
	var (
		mu       sync.Mutex
		stored   int
		firstErr error
		wg       sync.WaitGroup
	)
	begin, cpuBegin, writtenBegin := time.Now(), cpuTime(), bytesWritten()
	lastReport, lastStored := begin, 0
	for range c.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				res, err := s.AppendAccess(ctx, b)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				stored += res.Stored
				if now := time.Now(); now.Sub(lastReport) >= 30*time.Second {
					slog.Info("loading", "stored", stored, "events_per_s", int(float64(stored-lastStored)/now.Sub(lastReport).Seconds()))
					lastReport, lastStored = now, stored
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	elapsed, cpu := time.Since(begin), cpuTime()-cpuBegin
	fmt.Printf("load: %d events stored in %s: %.0f events/s (every AppendAccess fsync'd); process CPU %s: %.0f events per CPU-second\n",
		stored, elapsed.Round(time.Millisecond), float64(stored)/elapsed.Seconds(),
		cpu.Round(time.Millisecond), float64(stored)/cpu.Seconds())
	if w := bytesWritten() - writtenBegin; w > 0 && stored > 0 {
		// The store's write amplification: WAL frames (whole pages) and
		// their checkpoints into the database file, per event.
		fmt.Printf("load: %.0f MB written to disk, %.0f bytes per event\n", float64(w)/1e6, float64(w)/float64(stored))
	}
	return nil
}

// bytesWritten is what this process has caused to be written to storage
// (/proc/self/io write_bytes), 0 where the kernel does not say.
func bytesWritten() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// cpuTime is the user+system CPU time this process has used. On a shared
// machine it measures the work independently of the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sample is one random query's keys, drawn from loaded events so that
// subject queries hit subjects that exist.
type sample struct {
	subject     string
	actor       string
	system      string
	object      string
	windowStart time.Time
}

func (g *generator) samples(n int) []sample {
	r := rand.New(rand.NewPCG(g.c.seed+1, 0))
	span := g.end().Sub(g.start)
	out := make([]sample, n)
	for k := range out {
		e := g.event(r.IntN(g.c.loaded))
		out[k] = sample{
			subject:     e.Subjects[0].Hash,
			actor:       e.Actor.ID,
			system:      e.Resource.System,
			object:      e.Resource.Object,
			windowStart: g.start.Add(time.Duration(r.Int64N(int64(span - 24*time.Hour)))),
		}
	}
	return out
}

type latencies struct {
	d    []time.Duration
	rows int
}

func pct(l *latencies, p float64) time.Duration {
	slices.Sort(l.d)
	return l.d[min(len(l.d)-1, int(p*float64(len(l.d))))]
}

func (l *latencies) String() string {
	return fmt.Sprintf("n=%d p50=%s p99=%s max=%s mean_rows=%.1f", len(l.d),
		pct(l, 0.50).Round(time.Microsecond), pct(l, 0.99).Round(time.Microsecond), pct(l, 1).Round(time.Microsecond),
		float64(l.rows)/float64(len(l.d)))
}

func measure(samples []sample, q func(sample) (int, error)) (*latencies, error) {
	l := &latencies{}
	for _, s := range samples {
		t0 := time.Now()
		n, err := q(s)
		if err != nil {
			return nil, err
		}
		l.d = append(l.d, time.Since(t0))
		l.rows += n
	}
	return l, nil
}

func queries(ctx context.Context, s *sqlite.Store, g *generator, samples []sample) error {
	last30 := g.end().Add(-30 * 24 * time.Hour)
	for _, q := range []struct {
		name string
		fn   func(sample) ([]custos.StoredAccess, error)
	}{
		{"SubjectAccesses (limit 100)", func(x sample) ([]custos.StoredAccess, error) {
			return s.SubjectAccesses(ctx, "cn_id", x.subject, custos.Query{Limit: 100})
		}},
		{"ActorAccesses (limit 100, last 30 days)", func(x sample) ([]custos.StoredAccess, error) {
			return s.ActorAccesses(ctx, x.actor, custos.Query{From: last30, Limit: 100})
		}},
		{"ResourceAccesses system+object (limit 100)", func(x sample) ([]custos.StoredAccess, error) {
			return s.ResourceAccesses(ctx, x.system, x.object, custos.Query{Limit: 100})
		}},
		{"ResourceAccesses system, random 1-day window (limit 100)", func(x sample) ([]custos.StoredAccess, error) {
			return s.ResourceAccesses(ctx, x.system, "", custos.Query{From: x.windowStart, To: x.windowStart.Add(24 * time.Hour), Limit: 100})
		}},
	} {
		l, err := measure(samples, func(x sample) (int, error) {
			res, err := q.fn(x)
			return len(res), err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		fmt.Printf("sqlite %-58s %s\n", q.name, l)
	}
	return nil
}
