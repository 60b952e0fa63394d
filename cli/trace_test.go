package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/store/sqlite"
)

// TestTraceCommand registers an export in a fresh data directory, leaks
// part of it and checks that 'custos trace' names the export and its
// recipient, in both formats, without printing a value from the file.
func TestTraceCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if code, _, errOut := run(t, "init", "--data", dir); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	key, err := blind.LoadKey(blind.KeyFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	index, _ := blind.New(key)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	fp := &export.Fingerprinter{Keyer: export.NewKeyer(key), Hash: index.Hash, Pool: export.DemoPool(), Order: true,
		Variants: []export.Variant{export.VariantPhone}}
	tbl := &export.Table{Columns: []export.Column{{Name: "mobile", Type: "cn_mobile"}, {Name: "city"}}}
	for i := 0; i < 300; i++ {
		tbl.Rows = append(tbl.Rows, []string{fmt.Sprintf("139%08d", i), "上海"})
	}
	ex := export.Export{ID: "exp-cli", Actor: "zhao", Time: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), Channel: custos.ChannelHTTP, System: "crm", Format: "csv"}
	if err := fp.Apply(&ex, tbl); err != nil {
		t.Fatal(err)
	}
	if err := st.RegisterExport(ctx, ex); err != nil {
		t.Fatal(err)
	}
	st.Close()

	var leak strings.Builder
	for _, row := range tbl.Rows[40:70] {
		leak.WriteString(strings.Join(row, ",") + "\n")
	}
	file := filepath.Join(t.TempDir(), "leak.csv")
	os.WriteFile(file, []byte(leak.String()), 0o600)

	code, out, errOut := run(t, "trace", "--data", dir, file)
	if code != 0 || !strings.Contains(out, "exports: confident") || !strings.Contains(out, "exp-cli") || !strings.Contains(out, "zhao") {
		t.Fatalf("trace: %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, tbl.Rows[40][0][:7]) {
		t.Fatalf("report shows a value from the file:\n%s", out)
	}
	code, out, _ = run(t, "trace", "--data", dir, "--format", "json", file)
	var rep struct {
		ExportVerdict string `json:"export_verdict"`
		Exports       []struct {
			ID        string `json:"id"`
			Confirmed bool   `json:"confirmed"`
		} `json:"exports"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.ExportVerdict != "confident" || !rep.Exports[0].Confirmed {
		t.Fatalf("trace --format json: %d %s", code, out)
	}
	if code, _, errOut := run(t, "trace", "--data", dir, "--format", "xml", file); code != 2 {
		t.Fatalf("bad format: %d %s", code, errOut)
	}
}
