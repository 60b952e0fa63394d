package cli

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/ledger"
)

func runLedgerCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{ctx: t.Context(), stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}
	cmd := newLedgerCmd(e)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func TestLedgerVerifyAndProof(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, "ledger")
	l, err := ledger.Open(t.Context(), dir, ledger.Options{CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var recs []ledger.Record
	for i := range 10 {
		recs = append(recs, ledger.Record{Kind: "console", ID: fmt.Sprintf("a-%06d", i), Event: []byte(`{"action":"view"}`)})
	}
	if _, err := l.Append(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	out, err := runLedgerCmd(t, "verify", "--data", data, "--key", filepath.Join(dir, "signer.pub"))
	if err != nil || !strings.Contains(out, "ledger intact: 10 entries") {
		t.Fatalf("verify intact: %v\n%s", err, out)
	}
	out, err = runLedgerCmd(t, "proof", "--data", data, "a-000007")
	if err != nil || !strings.Contains(out, `"leaf_index": 7`) {
		t.Fatalf("proof: %v\n%s", err, out)
	}
	cp, err := runLedgerCmd(t, "checkpoint", "--data", data)
	if err != nil || !strings.Contains(cp, "custos.ledger\n10\n") {
		t.Fatalf("checkpoint: %v\n%s", err, cp)
	}

	// Edit entry 5 in place: same length, different event ID.
	bundle := filepath.Join(dir, "log", "tile", "entries", "000.p", "10")
	raw, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bundle, bytes.Replace(raw, []byte(`"a-000005"`), []byte(`"a-000009"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runLedgerCmd(t, "verify", "--data", data)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 3 {
		t.Fatalf("verify of an edited ledger returned %v, want exit code 3\n%s", err, out)
	}
	if !strings.Contains(out, "first bad: entry 5:") {
		t.Fatalf("verify did not name entry 5:\n%s", out)
	}
}

func TestLedgerVerifyMySQL(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MariaDB")
	}
	root, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/")
	if err == nil {
		err = root.PingContext(t.Context())
	}
	if err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") != "" {
			t.Fatalf("MariaDB at 127.0.0.1:3306: %v", err)
		}
		t.Skipf("MariaDB at 127.0.0.1:3306 unreachable (%v)", err)
	}
	defer root.Close()
	name := fmt.Sprintf("custos_cli_ledger_%d", time.Now().UnixNano()%1e9)
	if _, err := root.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	defer root.Exec("DROP DATABASE " + name)
	dsn := "root@tcp(127.0.0.1:3306)/" + name
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	data := t.TempDir()
	l, err := ledger.Open(t.Context(), filepath.Join(data, "ledger"), ledger.Options{MySQL: db})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(t.Context(), []ledger.Record{{Kind: "console", ID: "c-1", Event: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	out, err := runLedgerCmd(t, "verify", "--data", data, "--mysql", dsn)
	if err != nil || !strings.Contains(out, "ledger intact: 1 entries") {
		t.Fatalf("verify --mysql: %v\n%s", err, out)
	}
	out, err = runLedgerCmd(t, "proof", "--data", data, "--mysql", dsn, "c-1")
	if err != nil || !strings.Contains(out, `"leaf_index": 0`) || !strings.Contains(out, `"tree_size": 1`) {
		t.Fatalf("proof --mysql: %v\n%s", err, out)
	}
	if _, err := db.Exec("UPDATE TiledLeaves SET data = REPLACE(data, 'c-1', 'c-2')"); err != nil {
		t.Fatal(err)
	}
	out, err = runLedgerCmd(t, "verify", "--data", data, "--mysql", dsn)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 3 || !strings.Contains(out, "first bad: entry 0:") {
		t.Fatalf("verify --mysql of an edited log: %v\n%s", err, out)
	}
}

func TestLedgerKey(t *testing.T) {
	data := t.TempDir()
	first, err := runLedgerCmd(t, "key", "--data", data)
	if err != nil || !strings.HasPrefix(first, "custos.ledger+") {
		t.Fatalf("key: %v\n%s", err, first)
	}
	if again, err := runLedgerCmd(t, "key", "--data", data); err != nil || again != first {
		t.Fatalf("key printed %q then %q (%v): the key must be created once", first, again, err)
	}
	l, err := ledger.Open(t.Context(), filepath.Join(data, "ledger"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	if l.VerifierKey() != strings.TrimSpace(first) {
		t.Fatalf("the ledger signs with %s, the printed key is %s", l.VerifierKey(), first)
	}
}
