package ledger

import (
	"bufio"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/store/sqlite"
	"github.com/custos-dev/custos/store/storetest"
)

const crashDirEnv = "CUSTOS_LEDGER_CRASH_DIR"

// TestCrashChild is the child of TestCrash: it appends from four
// goroutines as fast as it can and prints "ack RUN G FROM TO" after each
// Append returns, until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("child process of TestCrash")
	}
	run := os.Getenv(crashDirEnv + "_RUN")
	opts := testOptions(nil)
	if name := os.Getenv(crashDirEnv + "_MYSQL"); name != "" {
		db, err := sql.Open("mysql", mariaDSN(name))
		if err != nil {
			fmt.Println("open failed:", err)
			os.Exit(1)
		}
		opts.MySQL = db
		opts.CheckpointInterval = time.Second
	}
	l, err := Open(t.Context(), dir, opts)
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n += 200 {
				recs := make([]Record, 200)
				for i := range recs {
					recs[i] = Record{Kind: "crash", ID: fmt.Sprintf("c-%s-%d-%d", run, g, n+i), Event: []byte(`{"n":1}`)}
				}
				if _, err := l.Append(t.Context(), recs); err != nil {
					fmt.Println("append failed:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %s %d %d %d\n", run, g, n, n+200)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrash kills a process that is appending heavily, twice, and checks
// that the ledger verifies and holds every acknowledged event, on the
// POSIX log and on MariaDB.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	t.Run("posix", func(t *testing.T) { testCrash(t, "") })
	t.Run("mariadb", func(t *testing.T) { testCrash(t, newMariaDB(t)) })
}

// testCrash runs the crash test with the log in database mysqlDB, or in
// POSIX files when it is empty.
func testCrash(t *testing.T, mysqlDB string) {
	dir := filepath.Join(t.TempDir(), "ledger")
	var acked []string
	for run := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, fmt.Sprintf("%s_RUN=%d", crashDirEnv, run), crashDirEnv+"_MYSQL="+mysqlDB)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		start := time.Now()
		n := 0
		killAt := 1000 + rand.IntN(4000) // kill at a different point each run
		for sc.Scan() {
			var r, g, from, to int
			if _, err := fmt.Sscanf(sc.Text(), "ack %d %d %d %d", &r, &g, &from, &to); err != nil {
				t.Fatalf("child: %s", sc.Text())
			}
			for i := from; i < to; i++ {
				acked = append(acked, fmt.Sprintf("c-%d-%d-%d", r, g, i))
			}
			n += to - from
			if n >= killAt || time.Since(start) > 3*time.Second {
				break
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Acks already written before the kill count too.
		for sc.Scan() {
			var r, g, from, to int
			if _, err := fmt.Sscanf(sc.Text(), "ack %d %d %d %d", &r, &g, &from, &to); err == nil {
				for i := from; i < to; i++ {
					acked = append(acked, fmt.Sprintf("c-%d-%d-%d", r, g, i))
				}
			}
		}
		cmd.Wait()
		t.Logf("run %d: killed after %d acknowledged appends", run, n)
	}
	ctx := t.Context()
	opts, vopts := testOptions(nil), VerifyOptions{}
	if mysqlDB != "" {
		db, err := sql.Open("mysql", mariaDSN(mysqlDB))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		opts.MySQL = db
		opts.CheckpointInterval = time.Second
		if vopts.Log, err = OpenMySQLLog(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	l, err := Open(ctx, dir, opts) // re-indexes what the kill left unindexed
	if err != nil {
		t.Fatal(err)
	}
	size, _ := l.Size(ctx)
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, dir, vopts)
	if !rep.Intact() || rep.Size != size {
		t.Fatalf("after crashes: size %d, report %+v", size, rep)
	}
	ix, err := openIndex(filepath.Join(dir, indexName), true)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	known, err := ix.known(ctx, acked)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range acked {
		if !known[id] {
			t.Fatalf("acknowledged event %s is missing from the ledger", id)
		}
	}
	t.Logf("%d acknowledged events all present in a ledger of %d", len(acked), size)
}

// TestCrashFollowChild is the child of TestCrashFollow: two goroutines
// store access events (the gateway's durable spool) and print "ack RUN G
// FROM TO" once the store has them, while the ledger follows the store,
// until the process is killed.
func TestCrashFollowChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv + "_FOLLOW")
	if dir == "" {
		t.Skip("child process of TestCrashFollow")
	}
	run := os.Getenv(crashDirEnv + "_RUN")
	fail := func(what string, err error) {
		fmt.Println(what, "failed:", err)
		os.Exit(1)
	}
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "store"))
	if err != nil {
		fail("store", err)
	}
	l, err := Open(ctx, filepath.Join(dir, "ledger"), testOptions(nil))
	if err != nil {
		fail("open", err)
	}
	go func() {
		if err := l.Follow(ctx, st, 5*time.Millisecond); err != nil {
			fail("follow", err)
		}
	}()
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n += 100 {
				events := make([]custos.AccessEvent, 100)
				for i := range events {
					id := fmt.Sprintf("f-%s-%d-%d", run, g, n+i)
					events[i] = storetest.Access(id, t0.Add(time.Duration(n+i)*time.Millisecond), "agent-1", fmt.Sprintf("11010119900307%04d", (n+i)%10000))
				}
				if _, err := st.AppendAccess(ctx, events); err != nil {
					fail("store append", err)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %s %d %d %d\n", run, g, n, n+100)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrashFollow is the "no access without a record" promise under
// SIGKILL: events acknowledged by the store (the durable spool a gateway
// waits for) while the ledger was following it must all be in the ledger
// once it restarts and catches up, and the ledger must verify against the
// store.
func TestCrashFollow(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	dir := t.TempDir()
	var acked []string
	for run := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashFollowChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"_FOLLOW="+dir, fmt.Sprintf("%s_RUN=%d", crashDirEnv, run))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		start := time.Now()
		n := 0
		killAt := 1000 + rand.IntN(3000)
		collect := func(line string) bool {
			var r, g, from, to int
			if _, err := fmt.Sscanf(line, "ack %d %d %d %d", &r, &g, &from, &to); err != nil {
				return false
			}
			for i := from; i < to; i++ {
				acked = append(acked, fmt.Sprintf("f-%d-%d-%d", r, g, i))
			}
			n += to - from
			return true
		}
		for sc.Scan() {
			if !collect(sc.Text()) {
				t.Fatalf("child: %s", sc.Text())
			}
			if n >= killAt || time.Since(start) > 5*time.Second {
				break
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for sc.Scan() {
			collect(sc.Text())
		}
		cmd.Wait()
		t.Logf("run %d: killed after %d stored events", run, n)
	}
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := openLedger(t, filepath.Join(dir, "ledger"), nil)
	lag, err := l.MeasureLag(ctx, st, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after the kills the ledger trails the store by %d events", lag.PendingAccess)
	for {
		n, err := l.CatchUp(ctx, st, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	size, _ := l.Size(ctx)
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, filepath.Join(dir, "ledger"), VerifyOptions{Store: st})
	if !rep.Intact() || rep.Size != size || len(rep.Notes) > 1 {
		t.Fatalf("after crashes: size %d, report %+v", size, rep)
	}
	ix, err := openIndex(filepath.Join(dir, "ledger", indexName), true)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	known, err := ix.known(ctx, acked)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range acked {
		if !known[id] {
			t.Fatalf("event %s was acknowledged by the store but is missing from the ledger", id)
		}
	}
	if size < uint64(len(acked)) {
		t.Fatalf("ledger of %d entries for %d acknowledged events", size, len(acked))
	}
	t.Logf("%d acknowledged events all in a ledger of %d", len(acked), size)
}
