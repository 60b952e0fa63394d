package ledger

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

// mariaDB returns a fresh database on the local MariaDB, dropped after
// the test.
func mariaDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", mariaDSN(newMariaDB(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mariaDSN(name string) string { return "root@tcp(127.0.0.1:3306)/" + name }

// newMariaDB creates a database on the local MariaDB, dropped after the
// test, and returns its name; it skips the test when MariaDB is not
// reachable (unless CUSTOS_REQUIRE_SERVICES is set).
func newMariaDB(t *testing.T) string {
	t.Helper()
	root, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/")
	if err == nil {
		err = root.PingContext(t.Context())
	}
	if err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") != "" {
			t.Fatalf("MariaDB at 127.0.0.1:3306: %v", err)
		}
		t.Skipf("MariaDB at 127.0.0.1:3306 unreachable (%v); set CUSTOS_REQUIRE_SERVICES to fail instead", err)
	}
	t.Cleanup(func() { root.Close() })
	name := fmt.Sprintf("custos_ledger_%d", rand.Uint32())
	if _, err := root.ExecContext(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Exec("DROP DATABASE " + name) })
	return name
}

// TestMySQL runs the POSIX test's append, proof, reopen and verify steps
// and two tamper cases on Tessera's MySQL driver against MariaDB.
func TestMySQL(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MariaDB")
	}
	ctx := t.Context()
	db := mariaDB(t)
	dir := filepath.Join(t.TempDir(), "ledger")
	opts := testOptions(nil)
	opts.MySQL = db
	opts.CheckpointInterval = time.Second // Tessera's minimum on MySQL
	l, err := Open(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	recs := accessRecords(0, 600)
	leaves, err := l.Append(ctx, recs)
	if err != nil || leaves[599] != 599 {
		t.Fatalf("append: %v %v", err, leaves[len(leaves)-1])
	}
	if again, err := l.Append(ctx, recs[300:301]); err != nil || again[0] != 300 {
		t.Fatalf("re-append: %v %v", again, err)
	}
	waitCheckpoint(t, l)
	p, err := l.Proof(ctx, "a-000300")
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyProof(p, l.verifier); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	storage, err := OpenMySQLLog(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	cp600, err := storage.ReadCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, dir, VerifyOptions{Log: storage}); !rep.Intact() || rep.Size != 600 {
		t.Fatalf("intact MySQL ledger: %+v", rep)
	}

	l, err = Open(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if leaves, err := l.Append(ctx, accessRecords(600, 10)); err != nil || leaves[0] != 600 {
		t.Fatalf("append after reopen: %v %v", leaves, err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cp610, _ := storage.ReadCheckpoint(ctx)
	if rep := mustVerify(t, dir, VerifyOptions{Log: storage, Trusted: [][]byte{cp600}}); !rep.Intact() || rep.Size != 610 {
		t.Fatalf("after reopen: %+v", rep)
	}

	// Flip a byte of entry 300 in its bundle row.
	var bundle []byte
	if err := db.QueryRowContext(ctx, "SELECT data FROM TiledLeaves WHERE tile_index = 1").Scan(&bundle); err != nil {
		t.Fatal(err)
	}
	changed := []byte(strings.Replace(string(bundle), `"a-000300"`, `"a-000399"`, 1))
	if _, err := db.ExecContext(ctx, "UPDATE TiledLeaves SET data = ? WHERE tile_index = 1", changed); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, dir, VerifyOptions{Log: storage})
	if first := rep.FirstBad(); first == nil || first.Leaf != 300 {
		t.Fatalf("edited entry 300 in MySQL: %+v", rep.Problems)
	}
	if _, err := db.ExecContext(ctx, "UPDATE TiledLeaves SET data = ? WHERE tile_index = 1", bundle); err != nil {
		t.Fatal(err)
	}

	// Roll the checkpoint back to size 600; the saved 610 one catches it.
	if _, err := db.ExecContext(ctx, "UPDATE Checkpoint SET note = ? WHERE id = 0", cp600); err != nil {
		t.Fatal(err)
	}
	rep = mustVerify(t, dir, VerifyOptions{Log: storage, Trusted: [][]byte{cp610}})
	if first := rep.FirstBad(); first == nil || first.Leaf != 600 || !strings.Contains(first.What, "rolled back") {
		t.Fatalf("rolled-back MySQL checkpoint: %+v", rep.Problems)
	}
}
