package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runPolicyCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	e := &env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &out, stderr: &out}
	cmd := newPolicyCmd(e)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceUsage = true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestPolicyTestCommand(t *testing.T) {
	out, err := runPolicyCmd(t, "test", "-p", "../policy/testdata/airline.yaml", "../policy/testdata/airline_cases.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "11 passed, 0 failed") {
		t.Errorf("output:\n%s", out)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "cases.yaml")
	os.WriteFile(bad, []byte("cases:\n  - name: x\n    request: {actor: {id: a}, resource: {system: s}, categories: [credit]}\n    expect: {decision: allow}\n"), 0o600)
	out, err = runPolicyCmd(t, "test", "-p", "../policy/testdata/airline.yaml", bad)
	if ee, ok := err.(*exitError); !ok || ee.code != 1 {
		t.Fatalf("want exit 1, got %v\n%s", err, out)
	}
	if !strings.Contains(out, "FAIL "+bad+":2:5 x: decision deny, want allow") || !strings.Contains(out, "0 passed, 1 failed") {
		t.Errorf("output:\n%s", out)
	}
}

func TestPolicyLintCommand(t *testing.T) {
	out, err := runPolicyCmd(t, "lint", "../policy/testdata/airline.yaml")
	if err != nil || !strings.Contains(out, "0 errors, 0 warnings") {
		t.Fatalf("%v\n%s", err, out)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "p.yaml")
	os.WriteFile(p, []byte("rules:\n  - {id: a, decision: deny}\n  - {id: b, decision: allow, match: {roles: [x]}}\n  - {id: c, decision: allow, colour: red}\n"), 0o600)
	out, err = runPolicyCmd(t, "lint", p)
	if err == nil || !strings.Contains(out, p+":4:") || !strings.Contains(out, "unknown field") {
		t.Fatalf("want an unknown-field error with its line: %v\n%s", err, out)
	}
	os.WriteFile(p, []byte("rules:\n  - {id: a, decision: deny}\n  - {id: b, decision: allow, match: {roles: [x]}}\n"), 0o600)
	out, err = runPolicyCmd(t, "lint", p)
	if err != nil || !strings.Contains(out, p+":3:6: warning: unreachable") {
		t.Fatalf("want an unreachable warning, exit 0: %v\n%s", err, out)
	}
	if _, err := runPolicyCmd(t, "lint", "--strict", p); err == nil {
		t.Fatal("--strict passed with a warning")
	}
}
