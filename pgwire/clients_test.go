package pgwire_test

// Real client drivers through the gateway: psycopg2 (Debian's
// python3-psycopg2 for /usr/bin/python3) and the PostgreSQL JDBC driver
// (Debian's libpostgresql-jdbc-java, compiled against with javac). Each runs
// simple and prepared queries, COPY and a cancel, and must see masked
// values only. scripts/services.sh installs both.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clientsNeed skips (or fails under CUSTOS_REQUIRE_SERVICES) when a client
// is not installed.
func clientsNeed(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CUSTOS_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is not installed (bash scripts/services.sh installs it)", what)
	}
	t.Skipf("%s is not installed (bash scripts/services.sh installs it)", what)
}

// clientsCheck asserts that a client's output holds every expected line
// and no catalogued value.
func clientsCheck(t *testing.T, out []byte, want ...string) {
	t.Helper()
	if leaks := extLeaks(out); len(leaks) > 0 {
		t.Errorf("the client printed %s", strings.Join(leaks, ", "))
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("output lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", extScrub(out))
	}
}

// extScrub replaces catalogued values so that output can be logged.
func extScrub(b []byte) string {
	s := string(b)
	for _, p := range extPassengers {
		s = strings.ReplaceAll(s, p.Phone, "<phone>")
		s = strings.ReplaceAll(s, p.ID18, "<id>")
	}
	return s
}

const clientsPython = `
import sys, threading, io
import psycopg2, psycopg2.errors
host, port, db, pw = sys.argv[1:5]
conn = psycopg2.connect(host=host, port=port, dbname=db, user="alice", password=pw, sslmode="disable", connect_timeout=30)
conn.autocommit = True
cur = conn.cursor()
cur.execute("SELECT phone, id_number FROM passengers WHERE id = %s", (1,))
print("simple", cur.fetchone())
cur.execute("SELECT phone || '' FROM passengers ORDER BY id")
print("expression", [r[0] for r in cur.fetchall()])
cur.execute("PREPARE byid(int) AS SELECT phone FROM passengers WHERE id = $1")
cur.execute("EXECUTE byid(%s)", (2,))
print("prepared", cur.fetchone()[0])
buf = io.StringIO()
cur.copy_expert("COPY flights TO STDOUT", buf)
print("copy out", buf.getvalue().replace("\n", "|"))
cur.copy_expert("COPY flights (id, code) FROM STDIN", io.StringIO("3\tZH9001\n"))
cur.execute("SELECT count(*) FROM flights")
print("copy in", cur.fetchone()[0])
try:
    cur.execute("COPY passengers TO STDOUT")
except psycopg2.Error as e:
    print("blocked", e.pgcode)
t = threading.Timer(0.5, conn.cancel)
t.start()
try:
    cur.execute("SELECT pg_sleep(30)")
    print("not cancelled")
except psycopg2.errors.QueryCanceled as e:
    print("cancelled", e.pgcode)
cur.execute("SELECT 1")
print("after cancel", cur.fetchone()[0])
conn.close()
`

func TestClientPsycopg2(t *testing.T) {
	extRequireServices(t)
	python := "/usr/bin/python3"
	_, err := os.Stat(python)
	ok := err == nil && exec.Command(python, "-c", "import psycopg2").Run() == nil
	clientsNeed(t, ok, "python3-psycopg2")
	g := extStartGateway(t, extGatewayOptions{})
	host, port, _ := strings.Cut(g.Addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", clientsPython, host, port, g.DB, extPassword).CombinedOutput()
	if err != nil {
		t.Fatalf("psycopg2: %v\n%s", err, extScrub(out))
	}
	clientsCheck(t, out,
		"simple ('138****5678', '110105********002X')",
		"expression ['138****5678', '139****4321', '150****2222']",
		"prepared 139****4321",
		"copy out 1\tMU5101|2\tCA1501|",
		"copy in 3",
		"blocked 42501",
		"cancelled 57014",
		"after cancel 1",
	)
}

const clientsJava = `
import java.sql.*;
import java.io.StringWriter;
import java.io.StringReader;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;

public class GatewayClient {
    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + args[0] + "/" + args[1] + "?sslmode=disable&prepareThreshold=1&connectTimeout=30";
        try (Connection c = DriverManager.getConnection(url, "alice", args[2])) {
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT phone, id_number FROM passengers WHERE id = 1")) {
                r.next();
                System.out.println("simple " + r.getString(1) + " " + r.getString(2));
            }
            try (PreparedStatement p = c.prepareStatement("SELECT phone, id FROM passengers WHERE id = ?")) {
                for (int i = 1; i <= 3; i++) {
                    p.setInt(1, i);
                    try (ResultSet r = p.executeQuery()) {
                        r.next();
                        System.out.println("prepared " + r.getInt(2) + " " + r.getString(1));
                    }
                }
            }
            try (PreparedStatement p = c.prepareStatement("SELECT upper(id_number) FROM passengers WHERE id = ?")) {
                p.setInt(1, 1);
                try (ResultSet r = p.executeQuery()) {
                    r.next();
                    System.out.println("expression " + r.getString(1));
                }
            }
            CopyManager cm = c.unwrap(PGConnection.class).getCopyAPI();
            StringWriter w = new StringWriter();
            cm.copyOut("COPY flights TO STDOUT", w);
            System.out.println("copy out " + w.toString().replace("\n", "|"));
            long n = cm.copyIn("COPY flights (id, code) FROM STDIN", new StringReader("4\tHU7101\n"));
            System.out.println("copy in " + n);
            try (Statement s = c.createStatement()) {
                s.executeQuery("SELECT * FROM passengers");
                System.out.println("not blocked");
            } catch (SQLException e) {
                System.out.println("blocked " + e.getSQLState());
            }
            final Statement slow = c.createStatement();
            Thread canceller = new Thread(() -> {
                try { Thread.sleep(500); slow.cancel(); } catch (Exception e) { e.printStackTrace(); }
            });
            canceller.start();
            try {
                slow.executeQuery("SELECT pg_sleep(30)");
                System.out.println("not cancelled");
            } catch (SQLException e) {
                System.out.println("cancelled " + e.getSQLState());
            }
            canceller.join();
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT 1")) {
                r.next();
                System.out.println("after cancel " + r.getInt(1));
            }
        }
    }
}
`

func TestClientJDBC(t *testing.T) {
	extRequireServices(t)
	const jar = "/usr/share/java/postgresql.jar"
	_, jarErr := os.Stat(jar)
	_, javacErr := exec.LookPath("javac")
	_, javaErr := exec.LookPath("java")
	clientsNeed(t, jarErr == nil && javacErr == nil && javaErr == nil, "the PostgreSQL JDBC driver and a JDK")
	g := extStartGateway(t, extGatewayOptions{})
	dir := t.TempDir()
	src := filepath.Join(dir, "GatewayClient.java")
	if err := os.WriteFile(src, []byte(clientsJava), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "javac", "-cp", jar, "-d", dir, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, "java", "-cp", dir+string(os.PathListSeparator)+jar, "GatewayClient", g.Addr, g.DB, extPassword).CombinedOutput()
	if err != nil {
		t.Fatalf("java: %v\n%s", err, extScrub(out))
	}
	clientsCheck(t, out,
		"simple 138****5678 110105********002X",
		"prepared 1 138****5678",
		"prepared 2 139****4321",
		"prepared 3 150****2222",
		"expression 110105********002X",
		"copy out 1\tMU5101|2\tCA1501|",
		"copy in 1",
		"blocked 42501",
		"cancelled 57014",
		"after cancel 1",
	)
}
