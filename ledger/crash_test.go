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
