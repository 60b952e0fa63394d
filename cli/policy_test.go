package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custos-dev/custos/catalog"
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

func TestPolicyCatalogCommand(t *testing.T) {
	dir := t.TempDir()
	scan := filepath.Join(dir, "scan.jsonl")
	os.WriteFile(scan, []byte(`{"system":"pss","schema":"public","table":"passengers","column":"idno","type":"cn_id","category":"identity","confidence":0.98}
{"system":"pss","schema":"public","table":"passengers","column":"phone","type":"cn_mobile","category":"contact","confidence":0.95}
{"system":"pss","schema":"public","table":"passengers","column":"note","type":"cn_mobile","category":"contact","confidence":0.3}
{"system":"pss","schema":"public","table":"calls","column":"callee","type":"cn_mobile","category":"communication","confidence":0.9}
{"path":"a.csv","offset":3,"length":11,"type":"cn_mobile","confidence":0.9,"value":"138****5678"}
`), 0o600)
	hand := filepath.Join(dir, "catalog.yaml")
	os.WriteFile(hand, []byte("version: 1\nresources:\n  - system: pss\n    table: public.passengers\n    columns:\n      phone: {type: cn_landline}\n"), 0o600)
	out := filepath.Join(dir, "out.yaml")
	if msg, err := runPolicyCmd(t, "catalog", "--merge", hand, "-o", out, scan); err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	c, err := catalog.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		object, column, typ string
		subjectKey, present bool
	}{
		{"public.passengers", "idno", "cn_id", true, true},
		{"public.passengers", "phone", "cn_landline", false, true}, // written by hand: kept
		{"public.passengers", "note", "", false, false},            // below --min-confidence
		{"public.calls", "callee", "cn_mobile", true, true},
	} {
		f, ok := c.Field("pss", tt.object, tt.column)
		if ok != tt.present || ok && (f.Type != tt.typ || f.SubjectKey != tt.subjectKey) {
			t.Errorf("%s.%s: %+v present=%v, want type %q subject key %v present %v", tt.object, tt.column, f, ok, tt.typ, tt.subjectKey, tt.present)
		}
	}
	if _, err := runPolicyCmd(t, "catalog", filepath.Join(dir, "missing.jsonl")); err == nil {
		t.Error("missing scan file accepted")
	}
}
