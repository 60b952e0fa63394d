package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpListsCommands(t *testing.T) {
	code, out, _ := run(t, "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, c := range []string{"demo", "init", "serve", "token", "config"} {
		if !strings.Contains(out, c) {
			t.Errorf("--help does not list %s", c)
		}
	}
}

func TestUsageErrorExitCode(t *testing.T) {
	if code, _, errOut := run(t, "serve", "--no-such-flag"); code != 2 || !strings.Contains(errOut, "--no-such-flag") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestInitTokenConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, out, errOut := run(t, "init", "--data", dir)
	if code != 0 || !strings.Contains(out, "cst_") {
		t.Fatalf("init: %d %s %s", code, out, errOut)
	}
	// The ledger's verifier key is printed at init and is the one
	// custos ledger key prints later.
	_, vkey, _ := run(t, "ledger", "key", "--data", dir)
	if vkey == "" || !strings.Contains(out, strings.TrimSpace(vkey)) {
		t.Errorf("init printed no ledger verifier key, or another one than custos ledger key (%q):\n%s", vkey, out)
	}
	if code, _, errOut := run(t, "init", "--data", dir); code == 0 || !strings.Contains(errOut, "already initialized") {
		t.Errorf("second init: %d %s", code, errOut)
	}
	code, out, _ = run(t, "token", "create", "--data", dir, "--name", "pss", "--scope", "ingest")
	if code != 0 || !strings.HasPrefix(out, "cst_") {
		t.Fatalf("token create: %d %q", code, out)
	}
	if code, _, errOut := run(t, "token", "create", "--data", dir, "--name", "x", "--scope", "god"); code != 2 || !strings.Contains(errOut, "unknown scope") {
		t.Errorf("bad scope: %d %s", code, errOut)
	}
	code, out, _ = run(t, "token", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, "pss") || !strings.Contains(out, "admin") || strings.Contains(out, "cst_") {
		t.Errorf("token list: %d %s", code, out)
	}
	cfgPath := filepath.Join(t.TempDir(), "custos.yaml")
	os.WriteFile(cfgPath, []byte("api:\n  listen: 127.0.0.1:1\n  max_batchs: 3\n"), 0o600)
	if code, _, errOut := run(t, "config", "check", "-c", cfgPath); code != 1 || !strings.Contains(errOut, "custos.yaml:3:3") {
		t.Errorf("config check: %d %s", code, errOut)
	}
}

func TestDemoRuns(t *testing.T) {
	code, out, errOut := run(t, "demo", "--duration", "3s", "--history", "1", "--listen", "127.0.0.1:0", "--speed", "600")
	if code != 0 {
		t.Fatalf("demo exit %d: %s", code, errOut)
	}
	for _, want := range []string{"/api/v1/subjects/cn_id/", "token: cst_", "back-filled 1 days", "live access events"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
