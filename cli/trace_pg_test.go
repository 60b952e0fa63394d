package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/store/postgres"
)

// TestTracePostgres: with cluster.store.driver postgres, custos trace asks
// the cluster's export registry and access index.
func TestTracePostgres(t *testing.T) {
	dsn := pgSchema(t)
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
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	fp := &export.Fingerprinter{Keyer: export.NewKeyer(key), Hash: index.Hash, Pool: export.DemoPool(), Order: true}
	tbl := &export.Table{Columns: []export.Column{{Name: "mobile", Type: "cn_mobile"}, {Name: "city"}}}
	for i := range 300 {
		tbl.Rows = append(tbl.Rows, []string{fmt.Sprintf("139%08d", i), "上海"})
	}
	ex := export.Export{ID: "exp-cluster", Actor: "qian", Time: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), Channel: custos.ChannelPostgres, System: "crm", Format: "copy"}
	if err := fp.Apply(&ex, tbl); err != nil {
		t.Fatal(err)
	}
	if err := st.RegisterExport(ctx, ex); err != nil {
		t.Fatal(err)
	}
	st.Close()
	var leak strings.Builder
	for _, row := range tbl.Rows[100:140] {
		leak.WriteString(strings.Join(row, ",") + "\n")
	}
	file := filepath.Join(t.TempDir(), "leak.csv")
	os.WriteFile(file, []byte(leak.String()), 0o600)
	cfgPath := filepath.Join(t.TempDir(), "custos.yaml")
	yaml := "data_dir: " + dir + "\ncluster:\n  store:\n    driver: postgres\n    dsn: \"" + dsn + "\"\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "trace", "-c", cfgPath, file)
	if code != 0 || !strings.Contains(out, "exports: confident") || !strings.Contains(out, "exp-cluster") || !strings.Contains(out, "qian") {
		t.Fatalf("trace against the cluster store: %d\n%s\n%s", code, out, errOut)
	}
}
