package pgwire

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"
)

// TestProfileSelectOnly profiles the gateway in-process under pgbench's
// select-only workload (docs/benchmarks.md, PostgreSQL gateway): CPU and
// block profiles of the whole test process, which holds the gateway and
// its event store but not pgbench or PostgreSQL. Skipped unless
// CUSTOS_PGWIRE_PROFILE names a directory for the profiles:
//
//	CUSTOS_PGWIRE_PROFILE=/tmp/prof go test -count=1 -run TestProfileSelectOnly ./pgwire
//	go tool pprof -top /tmp/prof/cpu.pprof
//
// PGBENCH_ARGS overrides "-S -c 4 -j 2 -T 10"; CUSTOS_PGWIRE_RECORD_ALL=1
// records a durable event per statement.
func TestProfileSelectOnly(t *testing.T) {
	dir := os.Getenv("CUSTOS_PGWIRE_PROFILE")
	if dir == "" {
		t.Skip("set CUSTOS_PGWIRE_PROFILE to a directory to profile the gateway under pgbench -S")
	}
	pgbench := tool(t, "pgbench")
	g := newGateway(t, gwOptions{recordAll: os.Getenv("CUSTOS_PGWIRE_RECORD_ALL") != ""})
	host, port, _ := net.SplitHostPort(upstreamAddr)
	if out, err := exec.Command(pgbench, "-h", host, "-p", port, "-U", "postgres", "-i", "-s", "1", "-q", g.db).CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"-S", "-c", "4", "-j", "2", "-T", "10"}
	if a := os.Getenv("PGBENCH_ARGS"); a != "" {
		args = regexp.MustCompile(`\s+`).Split(a, -1)
	}
	// A warm-up connection so that the profile holds the steady state.
	if out, err := g.run(t, "alice", "disable", "", pgbench, "-n", "-S", "-t", "50"); err != nil {
		t.Fatalf("pgbench warm-up: %v\n%s", err, out)
	}
	runtime.SetBlockProfileRate(int(10 * time.Microsecond))
	defer runtime.SetBlockProfileRate(0)
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := pprof.StartCPUProfile(cpu); err != nil {
		t.Fatal(err)
	}
	gwHost, gwPort, _ := net.SplitHostPort(g.addr)
	cmd := append([]string{"-n", "-h", gwHost, "-p", gwPort}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, pgbench, cmd...)
	c.Env = append(os.Environ(), "PGUSER=alice", "PGPASSWORD=alice-secret", "PGDATABASE="+g.db, "PGSSLMODE=disable")
	out, err := c.CombinedOutput()
	pprof.StopCPUProfile()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("pgbench: %v\n%s", err, out)
	}
	for _, p := range []string{"block", "allocs"} {
		f, err := os.Create(filepath.Join(dir, p+".pprof"))
		if err != nil {
			t.Fatal(err)
		}
		pprof.Lookup(p).WriteTo(f, 0)
		f.Close()
	}
	tps := regexp.MustCompile(`tps = ([0-9.]+)`).FindStringSubmatch(string(out))
	var xacts int64
	if m := regexp.MustCompile(`number of transactions actually processed: ([0-9]+)`).FindStringSubmatch(string(out)); m != nil {
		fmt.Sscan(m[1], &xacts)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	if xacts > 0 {
		t.Logf("pgbench %v through the gateway: tps %v, %d transactions, %.1f allocations and %.0f bytes per transaction (whole process); load %s",
			args, tps, xacts, float64(after.Mallocs-before.Mallocs)/float64(xacts), float64(after.TotalAlloc-before.TotalAlloc)/float64(xacts), load)
	}
}
