package pgwire_test

// Fault tests: the gateway in front of a throwaway PostgreSQL cluster that
// the test restarts, clients that vanish in the middle of COPY, malformed
// protocol messages, and 1,000 concurrent connections. In every case the
// gateway keeps serving, leaks no goroutine (goleak in TestMain checks the
// whole binary) and records one event per statement.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// faultCluster is a throwaway PostgreSQL cluster in a temporary directory.
type faultCluster struct {
	bin, dir string
	port     int
}

// faultStartCluster initializes and starts a cluster on a free port
// (trust authentication, max_connections as given), stopped at cleanup.
// PostgreSQL refuses to run as root: as root it runs as user postgres.
func faultStartCluster(t *testing.T, maxConns int) *faultCluster {
	t.Helper()
	bin := ""
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			bin = filepath.Dir(r)
		}
	}
	if bin == "" {
		m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
		if len(m) == 0 {
			faultSkipOrFail(t, "no PostgreSQL server binaries (pg_ctl) installed")
		}
		bin = filepath.Dir(m[len(m)-1])
	}
	base := t.TempDir()
	dir := filepath.Join(base, "pg")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// The postgres user must reach the directory.
		for d := base; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			os.Chmod(d, 0o755)
		}
		out, err := exec.Command("chown", "postgres:", dir).CombinedOutput()
		if err != nil {
			faultSkipOrFail(t, fmt.Sprintf("no postgres user to run the cluster as: %v: %s", err, out))
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c := &faultCluster{bin: bin, dir: dir, port: port}
	c.run(t, "initdb", "-D", dir, "-A", "trust", "-U", "postgres", "--no-sync")
	conf := fmt.Sprintf("port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nmax_connections = %d\nfsync = off\nshared_buffers = 32MB\n", port, dir, maxConns)
	if err := faultAppend(filepath.Join(dir, "postgresql.conf"), conf); err != nil {
		t.Fatal(err)
	}
	c.run(t, "pg_ctl", "-D", dir, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start")
	t.Cleanup(func() { c.run(t, "pg_ctl", "-D", dir, "-m", "immediate", "-w", "stop") })
	return c
}

func faultAppend(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func faultSkipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CUSTOS_REQUIRE_SERVICES") == "1" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// run runs a PostgreSQL program (as postgres when root).
func (c *faultCluster) run(t *testing.T, prog string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(c.bin, prog), args...)
	if os.Geteuid() == 0 {
		quoted := []string{filepath.Join(c.bin, prog)}
		for _, a := range args {
			quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
		}
		cmd = exec.Command("su", "postgres", "-s", "/bin/sh", "-c", strings.Join(quoted, " "))
	}
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		t.Fatalf("%s %v: %v\n%s\n%s", prog, args, err, out, log)
	}
}

func (c *faultCluster) Addr() string { return fmt.Sprintf("127.0.0.1:%d", c.port) }

// faultEvents counts the access events stored after seq.
func faultEvents(t *testing.T, g *extGateway, after int64) int {
	t.Helper()
	n := 0
	for _, e := range g.extAccessEvents(t) {
		if e.Seq > after {
			n++
		}
	}
	return n
}

func faultLastSeq(t *testing.T, g *extGateway) int64 {
	evs := g.extAccessEvents(t)
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Seq
}

// faultServes checks that a new client gets a masked answer.
func faultServes(t *testing.T, g *extGateway) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, rec := g.Connect(t)
	defer c.Close(ctx)
	if err := bypassSimple(ctx, c, "SELECT phone FROM passengers WHERE id = 1"); err != nil {
		t.Fatalf("the gateway no longer serves: %v", err)
	}
	if leaks := extLeaks(rec.Received()); len(leaks) > 0 {
		t.Fatalf("unmasked: %v", leaks)
	}
}

func TestFault(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own PostgreSQL cluster")
	}
	cl := faultStartCluster(t, 1100)
	db := extDatabase(t, cl.Addr())
	ctx := context.Background()
	admin := func(t *testing.T, sql string) []*pgconn.Result {
		t.Helper()
		c, err := pgconn.Connect(ctx, "postgres://postgres@"+cl.Addr()+"/"+db+"?sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		res, err := c.Exec(ctx, sql).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	admin(t, "CREATE TABLE inbox (v text); CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 200000) g")

	t.Run("upstream restart", func(t *testing.T) {
		g := extStartGateway(t, extGatewayOptions{Upstream: cl.Addr(), Database: db})
		c, _ := g.Connect(t)
		qctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := bypassSimple(qctx, c, "SELECT phone FROM passengers WHERE id = 1"); err != nil {
			t.Fatal(err)
		}
		cl.run(t, "pg_ctl", "-D", cl.dir, "-l", filepath.Join(cl.dir, "log"), "-m", "fast", "-w", "-t", "60", "restart")
		// The session's upstream is gone: the client gets an error, not a hang.
		if err := bypassSimple(qctx, c, "SELECT phone FROM passengers WHERE id = 1"); err == nil {
			t.Error("a query on a connection whose upstream restarted succeeded")
		}
		faultServes(t, g)
		if n := faultEvents(t, g, 0); n < 2 {
			t.Errorf("%d events after two answered statements", n)
		}
	})

	t.Run("client disconnects mid COPY FROM", func(t *testing.T) {
		g := extStartGateway(t, extGatewayOptions{Upstream: cl.Addr(), Database: db})
		c, _ := g.Connect(t)
		hc, err := c.Hijack()
		if err != nil {
			t.Fatal(err)
		}
		fe := hc.Frontend
		fe.Send(&pgproto3.Query{String: "COPY inbox FROM STDIN"})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		faultExpect(t, hc.Conn, fe, func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.CopyInResponse); return ok })
		for i := 0; i < 100; i++ {
			fe.Send(&pgproto3.CopyData{Data: []byte(fmt.Sprintf("row %d\n", i))})
		}
		fe.Flush()
		hc.Conn.Close()
		faultNoActive(t, cl, db, "COPY inbox")
		if n := admin(t, "SELECT count(*) FROM inbox")[0].Rows[0][0]; string(n) != "0" {
			t.Errorf("%s rows of an abandoned COPY were committed", n)
		}
		faultServes(t, g)
	})

	t.Run("client disconnects mid COPY TO", func(t *testing.T) {
		g := extStartGateway(t, extGatewayOptions{Upstream: cl.Addr(), Database: db})
		c, _ := g.Connect(t)
		hc, err := c.Hijack()
		if err != nil {
			t.Fatal(err)
		}
		fe := hc.Frontend
		fe.Send(&pgproto3.Query{String: "COPY big TO STDOUT"})
		fe.Flush()
		faultExpect(t, hc.Conn, fe, func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.CopyData); return ok })
		hc.Conn.Close()
		faultNoActive(t, cl, db, "COPY big")
		faultServes(t, g)
	})

	t.Run("malformed messages", func(t *testing.T) {
		g := extStartGateway(t, extGatewayOptions{Upstream: cl.Addr(), Database: db})
		msg := func(typ byte, length uint32, body []byte) []byte {
			b := []byte{typ}
			b = binary.BigEndian.AppendUint32(b, length)
			return append(b, body...)
		}
		cases := []struct {
			name string
			raw  []byte
		}{
			{"unknown message type", msg('y', 8, []byte("abcd"))},
			{"length below four", msg('Q', 2, nil)},
			{"huge length", msg('Q', 0x7ffffff0, []byte("SELECT 1"))},
			{"query without terminator", msg('Q', 12, []byte("SELECT 1"))},
			{"bind of garbage", msg('B', 12, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})},
			{"backend message from a client", msg('D', 6, []byte{0, 0})},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c, _ := g.Connect(t)
				hc, err := c.Hijack()
				if err != nil {
					t.Fatal(err)
				}
				defer hc.Conn.Close()
				if _, err := hc.Conn.Write(tc.raw); err != nil {
					t.Fatal(err)
				}
				// The gateway answers with an ErrorResponse (protocol
				// violation) and closes, or at least closes.
				hc.Conn.SetDeadline(time.Now().Add(10 * time.Second))
				var sawError bool
				for {
					m, err := hc.Frontend.Receive()
					if err != nil {
						var ne net.Error
						if errors.As(err, &ne) && ne.Timeout() {
							t.Fatal("the gateway neither answered nor closed the connection")
						}
						break
					}
					if e, ok := m.(*pgproto3.ErrorResponse); ok {
						sawError = true
						if e.Code != "08P01" && !strings.HasPrefix(e.Code, "08") {
							t.Logf("error %s: %s", e.Code, e.Message)
						}
					}
				}
				if !sawError {
					t.Error("no ErrorResponse before the gateway closed the connection")
				}
			})
		}
		t.Run("garbage startup", func(t *testing.T) {
			conn, err := net.Dial("tcp", g.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.Write([]byte{0, 0, 0, 16, 0x12, 0x34, 0x56, 0x78, 'g', 'a', 'r', 'b', 'a', 'g', 'e', 0})
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = io.Copy(io.Discard, conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the gateway kept a connection with a garbage startup packet open")
			}
		})
		faultServes(t, g)
	})

	t.Run("1000 concurrent connections", func(t *testing.T) {
		n := 1000
		if v, err := strconv.Atoi(os.Getenv("CUSTOS_FAULT_CONNS")); err == nil {
			n = v
		}
		start := time.Now()
		g := extStartGateway(t, extGatewayOptions{Upstream: cl.Addr(), Database: db})
		before := faultLastSeq(t, g)
		goroutines := runtime.NumGoroutine()
		conns := make([]*pgconn.PgConn, n)
		recs := make([]*extRecorder, n)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		sem := make(chan struct{}, 50) // connect 50 at a time; all stay open
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				c, rec, err := faultConnect(g)
				if err != nil {
					errs <- err
					return
				}
				conns[i], recs[i] = c, rec
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("connect: %v", err)
		}
		t.Logf("%d connections open after %v", n, time.Since(start).Round(time.Millisecond))
		// All are open at once; each runs a statement.
		qctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		errs = make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := bypassSimple(qctx, conns[i], fmt.Sprintf("SELECT phone, id_number FROM passengers WHERE id = %d", i%3+1)); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("query: %v", err)
		}
		t.Logf("%d statements answered after %v", n, time.Since(start).Round(time.Millisecond))
		for i, rec := range recs {
			if leaks := extLeaks(rec.Received()); len(leaks) > 0 {
				t.Fatalf("connection %d received %v", i, leaks)
			}
		}
		for _, c := range conns {
			c.Close(ctx)
		}
		if got := faultEvents(t, g, before); got != n {
			t.Errorf("%d access events for %d statements", got, n)
		}
		// Every session's goroutines end once its client has gone.
		deadline := time.Now().Add(15 * time.Second)
		for runtime.NumGoroutine() > goroutines+10 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if got := runtime.NumGoroutine(); got > goroutines+10 {
			t.Errorf("%d goroutines after the clients left, %d before they came", got, goroutines)
		}
		faultServes(t, g)
	})
}

func faultConnect(g *extGateway) (*pgconn.PgConn, *extRecorder, error) {
	cfg, err := pgconn.ParseConfig(g.URL())
	if err != nil {
		return nil, nil, err
	}
	var rec *extRecorder
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		rec = &extRecorder{Conn: c}
		return rec, nil
	}
	// Generous: on a loaded 2-core machine PostgreSQL itself needs tens
	// of milliseconds per new backend.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgconn.ConnectConfig(ctx, cfg)
	return c, rec, err
}

// faultExpect reads until a message satisfies ok; an ErrorResponse or a
// timeout fails the test.
func faultExpect(t *testing.T, conn net.Conn, fe *pgproto3.Frontend, ok func(pgproto3.BackendMessage) bool) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetReadDeadline(time.Time{})
	for {
		m, err := fe.Receive()
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if e, isErr := m.(*pgproto3.ErrorResponse); isErr {
			t.Fatalf("error %s: %s", e.Code, e.Message)
		}
		if ok(m) {
			return
		}
	}
}

// faultNoActive waits until no backend of the cluster runs a statement
// starting with prefix: the gateway ended the upstream side of a session
// whose client vanished.
func faultNoActive(t *testing.T, cl *faultCluster, db, prefix string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgconn.Connect(ctx, "postgres://postgres@"+cl.Addr()+"/"+db+"?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := c.Exec(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE '"+prefix+"%' AND state <> 'idle'").ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if string(res[0].Rows[0][0]) == "0" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the upstream still runs %q 15 s after the client left", prefix)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
