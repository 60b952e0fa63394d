package cli

import (
	"bytes"
	"context"
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
