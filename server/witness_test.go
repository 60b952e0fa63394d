package server_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/server"
	"github.com/custos-dev/custos/store/sqlite"
)

// TestAnotherCustosWitnesses runs two nodes: B witnesses A's ledger over
// HTTP, and A's checkpoints come back cosigned by B.
func TestAnotherCustosWitnesses(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfgA, adminA := initDir(t)
	a, err := server.Start(ctx, cfgA, log) // creates A's ledger key
	if err != nil {
		t.Fatal(err)
	}
	a.Close(ctx)
	logKey, err := os.ReadFile(filepath.Join(cfgA.DataDir, "ledger", "signer.pub"))
	if err != nil {
		t.Fatal(err)
	}

	cfgB, _ := initDir(t)
	cfgB.Ledger.ServeWitness.LogKey = strings.TrimSpace(string(logKey))
	st, err := sqlite.Open(ctx, cfgB.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	_, tokenForA, err := server.CreateToken(ctx, st, "ledger-a", []custos.Scope{custos.ScopeIngest})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	b, err := server.Start(ctx, cfgB, log)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	code, witnessKey := do(t, "GET", b.URL()+"/api/v1/witness/witness.pub", tokenForA, "")
	if code != 200 || !strings.Contains(witnessKey, "+") {
		t.Fatalf("witness key: %d %q", code, witnessKey)
	}

	tokenFile := filepath.Join(cfgA.DataDir, "witness.token")
	os.WriteFile(tokenFile, []byte(tokenForA), 0o600)
	cfgA.Ledger.Witness.URL = b.URL() + "/api/v1/witness"
	cfgA.Ledger.Witness.Key = strings.TrimSpace(witnessKey)
	cfgA.Ledger.Witness.TokenFile = tokenFile
	a, err = server.Start(ctx, cfgA, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	if code, body := do(t, "POST", a.URL()+"/api/v1/events", adminA, accessJSON("w-1", "emp-1", "cn_id", "11010119900307123X", time.Now().Add(-time.Minute))); code != 200 {
		t.Fatalf("event: %d %s", code, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for a.Ledger.Witnessed() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("A's ledger was never cosigned by B")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := do(t, "GET", b.URL()+"/api/v1/witness/latest", tokenForA, ""); code != 200 || !strings.Contains(body, "custos.ledger") {
		t.Errorf("B's latest cosigned checkpoint: %d %s", code, body)
	}
}
