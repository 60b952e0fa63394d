package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/store/storetest"
)

// crashChildEnv, when set to a data directory, turns this test binary into
// the child of TestCrashKeepsAcknowledged.
const crashChildEnv = "CUSTOS_SQLITE_CRASH_CHILD_DIR"

// TestCrashKeepsAcknowledged runs a child process that appends from
// several goroutines and prints every acknowledged batch, SIGKILLs it
// mid-run, reopens the database and checks that every acknowledged event
// is there.
func TestCrashKeepsAcknowledged(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsAcknowledged$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// Kill once enough batches are acknowledged (or after a deadline), while
	// the child is still appending.
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	deadline := time.Now().Add(20 * time.Second)
	killed := false
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// A line cut short by the kill lacks its "end" marker.
		if len(fields) < 2 || fields[0] != "ack" || fields[len(fields)-1] != "end" {
			continue
		}
		for _, id := range fields[1 : len(fields)-1] {
			acked[id] = true
		}
		if !killed && (len(acked) >= 3000 || time.Now().After(deadline)) {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
			// Keep reading: lines already in the pipe were acknowledged too.
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before it was killed: %v", err)
	}
	if len(acked) == 0 {
		t.Fatal("child acknowledged nothing")
	}

	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer s.Close()
	stored := map[string]bool{}
	for seq := int64(0); ; {
		page, err := s.AccessSince(context.Background(), seq, custos.MaxLimit)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, a := range page {
			stored[a.ID] = true
		}
		seq = page[len(page)-1].Seq
	}
	missing := 0
	for id := range acked {
		if !stored[id] {
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged event %s is missing after the crash", id)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged events missing", missing, len(acked))
	}
	t.Logf("acknowledged %d, found %d stored (the rest were in flight at the kill)", len(acked), len(stored))
	if _, err := s.AppendAccess(context.Background(), []custos.AccessEvent{storetest.Access("after-crash", time.Now(), "emp-1")}); err != nil {
		t.Errorf("append after crash recovery: %v", err)
	}
}

// crashChild appends forever from four goroutines, printing each
// acknowledged batch as one "ack id... end" line.
func crashChild(dir string) {
	s, err := Open(context.Background(), dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				batch := make([]custos.AccessEvent, 50)
				line := []string{"ack"}
				for i := range batch {
					id := fmt.Sprintf("c-%d-%d-%d", g, n, i)
					batch[i] = storetest.Access(id, time.Now(), fmt.Sprintf("emp-%d", i%7), fmt.Sprintf("11010119900307%04d", n%1000))
					line = append(line, id)
				}
				if _, err := s.AppendAccess(context.Background(), batch); err != nil {
					fmt.Fprintln(os.Stderr, "crash child:", err)
					os.Exit(1)
				}
				line = append(line, "end\n")
				mu.Lock()
				os.Stdout.WriteString(strings.Join(line, " "))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
