package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custos-dev/custos/store/postgres"
)

// TestTracePostgres: with cluster.store.driver postgres, custos trace asks
// the cluster's export registry and access index.
func TestTracePostgres(t *testing.T) {
	dsn := pgSchema(t)
	dir := initData(t, filepath.Join(t.TempDir(), "data"))
	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	file := registerLeakedExport(t, dir, st, "exp-cluster", "qian", 100, 140)
	st.Close()
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
