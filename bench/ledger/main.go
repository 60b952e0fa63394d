// Command ledger measures the tamper-evident ledger (package ledger) on
// the Tessera POSIX driver: durable append throughput with a signed
// checkpoint every second, the same load through raw Tessera (the peer:
// what the ledger's encoding, dedup and leaf index cost on top), the
// store-to-ledger follower, and Verify time over the resulting log.
//
//	go run ./bench/ledger -dir /tmp/custos-ledger-bench -events 1000000
//
// Every number it prints was measured in that run; extrapolations are
// left to the reader (docs/benchmarks.md labels them).
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"

	_ "github.com/go-sql-driver/mysql"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/ledger"
	"github.com/custos-dev/custos/store/sqlite"
)

func main() {
	dir := flag.String("dir", "", "scratch directory (required; removed first)")
	events := flag.Int("events", 200_000, "events to append")
	batch := flag.Int("batch", 4096, "records per Append call (the follower uses 8192 per kind)")
	writers := flag.Int("writers", 2, "concurrent Append callers")
	peerEvents := flag.Int("peer-events", 200_000, "events for the raw Tessera peer run (0: skip)")
	follow := flag.Int("follow", 0, "events to load into the SQLite store and drain with the follower (0: skip)")
	verifyRuns := flag.Int("verify-runs", 1, "Verify passes over the appended log")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the ledger.Append phase")
	mysqlEvents := flag.Int("mysql-events", 0, "events to append to a ledger on MariaDB/MySQL (0: skip)")
	mysqlDSN := flag.String("mysql", "root@tcp(127.0.0.1:3306)/", "MariaDB/MySQL server for -mysql-events (a temporary database is created)")
	verifyOnly := flag.Bool("verify-only", false, "only run Verify over the ledger already in -dir")
	verifyProfile := flag.String("verify-cpuprofile", "", "write a CPU profile of the Verify phase")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "-dir is required")
		os.Exit(2)
	}
	ctx := context.Background()
	if *verifyOnly {
		runVerify(ctx, filepath.Join(*dir, "ledger"), *verifyRuns, *verifyProfile)
		return
	}
	os.RemoveAll(*dir)
	host, _ := os.Hostname()
	fmt.Printf("host %s, %d CPUs (GOMAXPROCS %d), %s, %s\n", host, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), time.Now().UTC().Format(time.RFC3339))

	// Records are generated per batch: a million of them held at once
	// would take a gigabyte on a shared machine.
	var bytesTotal int
	for i := range 1000 {
		b, _ := record(i).Encode()
		bytesTotal += len(b)
	}
	fmt.Printf("%d records, mean %d bytes (first 1000)\n", *events, bytesTotal/1000)

	ldir := filepath.Join(*dir, "ledger")
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
	}
	rate, err := appendLedger(ctx, ldir, *events, *batch, *writers)
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	check(err)
	fmt.Printf("ledger.Append  %9d events  %8.0f events/s  (batch %d, %d writers, checkpoint every 1s, fsync per Tessera batch)\n", *events, rate, *batch, *writers)

	if n := min(*peerEvents, *events); n > 0 {
		rate, err := appendRaw(ctx, filepath.Join(*dir, "raw"), n, *batch, *writers)
		check(err)
		fmt.Printf("raw tessera    %9d events  %8.0f events/s  (same entries, same batching, no index)\n", n, rate)
		os.RemoveAll(filepath.Join(*dir, "raw"))
	}

	runVerify(ctx, ldir, *verifyRuns, *verifyProfile)

	if *mysqlEvents > 0 {
		check(benchMySQL(ctx, filepath.Join(*dir, "mysql"), *mysqlDSN, *mysqlEvents, *batch, *writers, *peerEvents))
	}

	if *follow > 0 {
		check(followStore(ctx, filepath.Join(*dir, "follow"), *follow))
	}
}

func runVerify(ctx context.Context, dir string, runs int, profile string) {
	if profile != "" {
		f, err := os.Create(profile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	for range runs {
		cpu0 := cpuTime()
		rep, err := ledger.Verify(ctx, dir, ledger.VerifyOptions{})
		cpu := cpuTime() - cpu0
		check(err)
		if !rep.Intact() {
			fmt.Println("verify: NOT intact:", rep.FirstBad())
			os.Exit(1)
		}
		fmt.Printf("ledger.Verify  %9d entries %8.2f s  = %8.0f entries/s wall; %.2f CPU-s = %.0f entries/CPU-s (tree, leaf tiles, leaf index)\n", rep.Checked, rep.Took.Seconds(), float64(rep.Checked)/rep.Took.Seconds(), cpu.Seconds(), float64(rep.Checked)/cpu.Seconds())
	}
}

// cpuTime is the process's user+system CPU time: on a machine shared with
// other builds, wall time says more about the neighbours than about us.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchMySQL appends n events to a ledger whose log is on MariaDB/MySQL
// (Tessera's MySQL driver), then verifies it.
func benchMySQL(ctx context.Context, dir, dsn string, n, batch, writers, peer int) error {
	root, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer root.Close()
	tempDB := func(suffix string) (*sql.DB, func(), error) {
		name := fmt.Sprintf("custos_ledger_bench_%d_%s", time.Now().Unix(), suffix)
		if _, err := root.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			return nil, nil, err
		}
		db, err := sql.Open("mysql", dsn+name)
		if err != nil {
			return nil, nil, err
		}
		return db, func() { db.Close(); root.ExecContext(ctx, "DROP DATABASE "+name) }, nil
	}
	db, drop, err := tempDB("ledger")
	if err != nil {
		return err
	}
	defer drop()
	// A committed append is only durable on the server's disk when InnoDB
	// flushes its log at every commit (1); say which it was.
	var version string
	var flush int
	db.QueryRowContext(ctx, "SELECT version(), @@innodb_flush_log_at_trx_commit").Scan(&version, &flush)
	l, err := ledger.Open(ctx, dir, ledger.Options{CheckpointInterval: time.Second, MySQL: db})
	if err != nil {
		return err
	}
	start := time.Now()
	err = parallelBatches(n, batch, writers, func(from, to int) error {
		_, err := l.Append(ctx, records(from, to))
		return err
	})
	took := time.Since(start)
	if cerr := l.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Printf("ledger.Append  %9d events  %8.0f events/s  (MySQL driver on %s, innodb_flush_log_at_trx_commit=%d, batch %d, %d writers, checkpoint every 1s)\n", n, float64(n)/took.Seconds(), version, flush, batch, writers)
	if peer = min(peer, n); peer > 0 {
		pdb, pdrop, err := tempDB("raw")
		if err != nil {
			return err
		}
		defer pdrop()
		driver, err := ledger.OpenMySQLLog(ctx, pdb)
		if err != nil {
			return err
		}
		rate, err := appendRawTo(ctx, driver, peer, batch, writers)
		if err != nil {
			return err
		}
		fmt.Printf("raw tessera    %9d events  %8.0f events/s  (MySQL driver, same entries, same batching, no index)\n", peer, rate)
	}
	storage, err := ledger.OpenMySQLLog(ctx, db)
	if err != nil {
		return err
	}
	rep, err := ledger.Verify(ctx, dir, ledger.VerifyOptions{Log: storage})
	if err != nil {
		return err
	}
	if !rep.Intact() {
		return fmt.Errorf("mysql ledger not intact: %s", rep.FirstBad())
	}
	fmt.Printf("ledger.Verify  %9d entries %8.2f s  = %8.0f entries/s (MySQL driver)\n", rep.Checked, rep.Took.Seconds(), float64(rep.Checked)/rep.Took.Seconds())
	return nil
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// event is a sealed access event shaped like the gateway's: one subject,
// blind-indexed, masked.
func event(i int) custos.AccessEvent {
	return custos.AccessEvent{
		ID:        fmt.Sprintf("evt-%012d", i),
		Time:      time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
		Actor:     custos.Actor{ID: fmt.Sprintf("agent-%04d", i%5000), Roles: []string{"call_center"}, OrgUnit: "cs-shanghai"},
		Source:    custos.Source{IP: "10.1.2.3", Session: fmt.Sprintf("s-%d", i/50)},
		Channel:   custos.ChannelPostgres,
		Action:    custos.ActionRead,
		Resource:  custos.Resource{System: "crm", Object: "public.passengers", Fingerprint: "a1b2c3d4e5f6"},
		Purpose:   custos.Purpose{Name: "customer_service", Ticket: fmt.Sprintf("T-%d", i/10)},
		Subjects:  []custos.Subject{{Type: "cn_mobile", Hash: fmt.Sprintf("%064x", uint64(i)*2654435761), Masked: "138****5678"}},
		DataTypes: []string{"cn_mobile", "cn_name"}, Categories: []string{"contact", "identity"},
		Records: 1, Decision: custos.DecisionMask, Rules: []string{"default-mask"}, Outcome: custos.OutcomeSuccess,
	}
}

func record(i int) ledger.Record {
	b, _ := json.Marshal(event(i))
	return ledger.Record{Kind: ledger.KindAccess, ID: fmt.Sprintf("evt-%012d", i), Seq: int64(i + 1), Event: b}
}

func records(from, to int) []ledger.Record {
	recs := make([]ledger.Record, 0, to-from)
	for i := from; i < to; i++ {
		recs = append(recs, record(i))
	}
	return recs
}

func appendLedger(ctx context.Context, dir string, n, batch, writers int) (float64, error) {
	l, err := ledger.Open(ctx, dir, ledger.Options{CheckpointInterval: time.Second, Logger: slog.Default()})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	err = parallelBatches(n, batch, writers, func(from, to int) error {
		_, err := l.Append(ctx, records(from, to))
		return err
	})
	took := time.Since(start)
	if cerr := l.Close(ctx); err == nil {
		err = cerr
	}
	return float64(n) / took.Seconds(), err
}

func appendRaw(ctx context.Context, dir string, n, batch, writers int) (float64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops Tessera's background publisher
	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		return 0, err
	}
	return appendRawTo(ctx, driver, n, batch, writers)
}

// appendRawTo appends the same entries as the ledger through Tessera's
// appender on driver directly, with the ledger's batching and a
// checkpoint every second: the peer that shows what the ledger's own
// layer costs.
func appendRawTo(ctx context.Context, driver tessera.Driver, n, batch, writers int) (float64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops Tessera's background publisher
	skey, _, err := note.GenerateKey(rand.Reader, "bench")
	if err != nil {
		return 0, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return 0, err
	}
	opts := tessera.NewAppendOptions().WithCheckpointSigner(signer).WithCheckpointInterval(time.Second).
		WithBatching(4096, 20*time.Millisecond).WithPushback(1 << 20)
	app, shutdown, _, err := tessera.NewAppender(ctx, driver, opts)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	err = parallelBatches(n, batch, writers, func(from, to int) error {
		fs := make([]tessera.IndexFuture, 0, to-from)
		for _, r := range records(from, to) {
			d, err := r.Encode()
			if err != nil {
				return err
			}
			fs = append(fs, app.Add(ctx, tessera.NewEntry(d)))
		}
		for _, f := range fs {
			if _, err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	took := time.Since(start)
	if serr := shutdown(ctx); err == nil {
		err = serr
	}
	return float64(n) / took.Seconds(), err
}

func parallelBatches(n, batch, writers int, fn func(from, to int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var first atomic.Value
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := int(next.Add(int64(batch))) - batch
				if from >= n {
					return
				}
				if err := fn(from, min(from+batch, n)); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := first.Load().(error); ok {
		return err
	}
	return nil
}

// followStore loads n events into a real SQLite event store, then times
// the follower draining them into a fresh ledger: the path every stored
// event takes in custos serve.
func followStore(ctx context.Context, dir string, n int) error {
	st, err := sqlite.Open(ctx, filepath.Join(dir, "store"))
	if err != nil {
		return err
	}
	defer st.Close()
	const chunk = 5000
	for from := 0; from < n; from += chunk {
		es := make([]custos.AccessEvent, 0, chunk)
		for i := from; i < min(from+chunk, n); i++ {
			es = append(es, event(i))
		}
		if _, err := st.AppendAccess(ctx, es); err != nil {
			return err
		}
	}
	l, err := ledger.Open(ctx, filepath.Join(dir, "ledger"), ledger.Options{CheckpointInterval: time.Second})
	if err != nil {
		return err
	}
	start := time.Now()
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- l.Follow(fctx, st, 10*time.Millisecond) }()
	var lag ledger.Lag
	for {
		if lag, err = l.MeasureLag(ctx, st, 1); err != nil {
			return err
		}
		if lag.PendingAccess == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	stop()
	if err := <-done; err != nil {
		return err
	}
	total := int(lag.AppendedSinceOpen)
	if err := l.Close(ctx); err != nil {
		return err
	}
	fmt.Printf("follower       %9d events  %8.0f events/s  (SQLite store → ledger, %d pending after)\n", total, float64(total)/took.Seconds(), lag.PendingAccess)
	return nil
}
