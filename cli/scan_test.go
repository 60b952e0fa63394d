package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// runScan runs `custos scan args…` through the command itself (the root
// registers it; this keeps the test independent of that).
func runScan(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{ctx: context.Background(), stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}
	cmd := newScanCmd(e)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

const scanFiles = "../scan/testdata/files"

func TestScanJSONL(t *testing.T) {
	out, stderr, err := runScan(t, "", "--format", "jsonl", scanFiles)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 10 {
		t.Fatalf("%d findings", len(lines))
	}
	for _, l := range lines {
		var f struct {
			Path   string  `json:"path"`
			Offset *int64  `json:"offset"`
			Length int     `json:"length"`
			Type   string  `json:"type"`
			Conf   float64 `json:"confidence"`
			Value  string  `json:"value"`
		}
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatal(err)
		}
		if f.Path == "" || f.Offset == nil || f.Length == 0 || f.Type == "" || f.Conf == 0 || !strings.Contains(f.Value, "*") {
			t.Errorf("incomplete or unmasked finding: %s", l)
		}
	}
	if !strings.Contains(stderr, "broken.zip") || strings.Contains(stderr, "image.bin") {
		t.Errorf("stderr should report the error and not the skipped file without -v:\n%s", stderr)
	}
}

func TestScanStdinReveal(t *testing.T) {
	out, _, err := runScan(t, "手机 13812345678\n", "--reveal", "--format", "csv", "-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "-,,7,11,") || !strings.Contains(out, "13812345678") {
		t.Errorf("csv:\n%s", out)
	}
}

func TestScanExitCodes(t *testing.T) {
	var ee *exitError
	_, _, err := runScan(t, "", "--fail-on-findings", scanFiles+"/notes.txt")
	if !errors.As(err, &ee) || ee.code != exitFindings {
		t.Errorf("--fail-on-findings with findings: %v, want exit %d", err, exitFindings)
	}
	if _, _, err := runScan(t, "", "--fail-on-findings", scanFiles+"/image.bin"); err != nil {
		t.Errorf("--fail-on-findings without findings: %v", err)
	}
	var ue *usageError
	if _, _, err := runScan(t, "", "--format", "xml", scanFiles); !errors.As(err, &ue) {
		t.Errorf("bad format: %v, want a usage error", err)
	}
	out, _, err := runScan(t, "", scanFiles+"/notes.txt", "no/such/file")
	if err == nil || errors.As(err, &ee) || !strings.Contains(out, "SUMMARY") {
		t.Errorf("missing path: %v (want a plain error after the summary)", err)
	}
	if _, _, err := runScan(t, "", "sqlite:no/such.db"); err == nil {
		t.Error("missing database: no error")
	}
}

func TestScanSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crm.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	db.Exec(`CREATE TABLE contacts (id INTEGER PRIMARY KEY, 手机 TEXT, note TEXT)`)
	for _, m := range []string{"13812345678", "13912345678", "15012345678", "18612345678"} {
		db.Exec(`INSERT INTO contacts (手机, note) VALUES (?, 'ok')`, m)
	}
	db.Close()
	out, stderr, err := runScan(t, "", "--sample", "10", "sqlite:"+path)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(out, "contacts.手机") || !strings.Contains(out, "cn_mobile") || !strings.Contains(out, "4/4") || strings.Contains(out, "13812345678") {
		t.Errorf("table:\n%s", out)
	}
}
