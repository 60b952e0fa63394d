package pgwire

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tool finds a client program or skips (fails under CUSTOS_REQUIRE_SERVICES).
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") != "" {
			t.Fatalf("%s not installed", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// run runs a client with libpq's environment for user through the gateway.
func (g *gw) run(t *testing.T, user, sslmode, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	host, port, _ := net.SplitHostPort(g.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(),
		"PGHOST="+host, "PGPORT="+port, "PGUSER="+user, "PGPASSWORD="+user+"-secret",
		"PGDATABASE="+g.db, "PGSSLMODE="+sslmode, "PGCONNECT_TIMEOUT=10", "PSQLRC=/dev/null")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestPsql(t *testing.T) {
	psql := tool(t, "psql")
	g := newGateway(t, gwOptions{tls: true})
	for _, mode := range []string{"disable", "require"} {
		t.Run("sslmode="+mode, func(t *testing.T) {
			out, err := g.run(t, "alice", mode, "", psql, "-X", "-At", "-v", "ON_ERROR_STOP=1",
				"-c", "SELECT phone, id_number FROM passengers WHERE pid = 1",
				"-c", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
			if err != nil {
				t.Fatalf("psql: %v\n%s", err, out)
			}
			p := passengers[0]
			if strings.Contains(out, p.phone) || !strings.Contains(out, "138****5678|") {
				t.Errorf("psql output not masked: %q", out)
			}
		})
	}
	t.Run("copy", func(t *testing.T) {
		out, err := g.run(t, "alice", "require", "7\tcall me on 13812345678\n8\tnothing\n", psql, "-X", "-At", "-v", "ON_ERROR_STOP=1",
			"-c", `\copy notes FROM STDIN`,
			"-c", `\copy (SELECT id, body FROM notes ORDER BY id) TO STDOUT`)
		if err != nil {
			t.Fatalf("psql \\copy: %v\n%s", err, out)
		}
		if strings.Contains(out, "13812345678") || !strings.Contains(out, "call me on 138****5678") {
			t.Errorf("\\copy output not masked: %q", out)
		}
	})
	t.Run("copy of a catalogued table is blocked", func(t *testing.T) {
		out, err := g.run(t, "alice", "require", "", psql, "-X", "-At", "-c", `\copy passengers TO STDOUT`)
		if err == nil || !strings.Contains(out, "42501") && !strings.Contains(strings.ToLower(out), "copy") {
			t.Fatalf("COPY TO of passengers: err %v, output %q", err, out)
		}
		if strings.Contains(out, passengers[0].phone) {
			t.Fatalf("COPY leaked: %q", out)
		}
	})
}

func TestPgbenchSelectOnly(t *testing.T) {
	pgbench := tool(t, "pgbench")
	g := newGateway(t, gwOptions{recordAll: true}) // pgbench's tables hold no personal data
	host, port, _ := net.SplitHostPort(upstreamAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	init := exec.CommandContext(ctx, pgbench, "-i", "-q", "-s", "1", "-h", host, "-p", port, "-U", "postgres", g.db)
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	for _, mode := range []string{"simple", "extended", "prepared"} {
		out, err := g.run(t, "alice", "disable", "", pgbench, "-n", "-S", "-M", mode, "-c", "2", "-t", "100")
		if err != nil {
			t.Fatalf("pgbench -M %s: %v\n%s", mode, err, out)
		}
		if !strings.Contains(out, "number of transactions actually processed: 200/200") {
			t.Errorf("pgbench -M %s:\n%s", mode, out)
		}
	}
	evs := g.accesses("alice")
	if len(evs) < 600 {
		t.Errorf("%d events for 600 statements", len(evs))
	}
}

const nodeScript = `
const { Client } = require('pg');
(async () => {
  const c = new Client();
  await c.connect();
  const simple = await c.query("SELECT phone FROM passengers WHERE pid = 1");
  const prepared = await c.query({ name: 'p1', text: "SELECT phone, id_number FROM passengers WHERE pid = $1", values: [1] });
  const again = await c.query({ name: 'p1', text: "SELECT phone, id_number FROM passengers WHERE pid = $1", values: [2] });
  let denied = '';
  try { await c.query("SELECT pg_read_file('/etc/passwd')"); } catch (e) { denied = e.code; }
  console.log(JSON.stringify({ simple: simple.rows[0].phone, prepared: prepared.rows[0], again: again.rows[0], denied }));
  await c.end();
})().catch(e => { console.error(e.message); process.exit(1); });
`

func TestNodePostgres(t *testing.T) {
	node := tool(t, "node")
	dir := filepath.Join(os.TempDir(), "custos-node-pg")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "pg")); err != nil {
		npm := tool(t, "npm")
		os.MkdirAll(dir, 0o755)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "pg@8")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			if os.Getenv("CUSTOS_REQUIRE_SERVICES") != "" {
				t.Fatalf("npm install pg: %v\n%s", err, out)
			}
			t.Skipf("npm install pg failed: %v", err)
		}
	}
	script := filepath.Join(dir, "gateway_test.js")
	if err := os.WriteFile(script, []byte(nodeScript), 0o644); err != nil {
		t.Fatal(err)
	}
	g := newGateway(t, gwOptions{})
	out, err := g.run(t, "alice", "disable", "", node, script)
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	want := fmt.Sprintf(`{"simple":"138****5678","prepared":{"phone":"138****5678","id_number":"110105********%s"},"again":{"phone":"139****4321"`, passengers[0].id[14:])
	if !strings.HasPrefix(strings.TrimSpace(out), want) || !strings.Contains(out, `"denied":"42501"`) {
		t.Errorf("node output:\n%s\nwant prefix %s", out, want)
	}
}
