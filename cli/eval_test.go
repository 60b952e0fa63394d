package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func runCmd(t *testing.T, mk func(*env) *cobra.Command, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	cmd := mk(e)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage = true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func TestEvalCommand(t *testing.T) {
	out, _, err := runCmd(t, newEvalCmd, "--scenario", "crawler", "--employees", "20", "--days", "12", "--strict")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "planted_crawler") || !strings.Contains(out, "caught 1 of 1 injected scenarios") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestDetectReplayCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "events.ndjson")
	snap := filepath.Join(t.TempDir(), "detect.snap")
	if out, _, err := runCmd(t, newEvalCmd, "--scenario", "stuffing", "--employees", "20", "--days", "12", "--write-events", file); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, stderr, err := runCmd(t, newDetectCmd, "--replay", file, "--tz", "+08:00", "--snapshot", snap)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	rules := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var a struct {
			Rule     string  `json:"rule"`
			Actor    *string `json:"actor"`
			SourceIP string  `json:"source_ip"`
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("alert line %q: %v", line, err)
		}
		rules[a.Rule] = true
	}
	if !rules["stuffing_source"] || !rules["success_after_stuffing"] {
		t.Fatalf("replay alerts: %v\n%s", rules, stderr)
	}
	if _, _, err := runCmd(t, newDetectCmd); err == nil {
		t.Fatal("detect without --replay succeeded")
	}
}
