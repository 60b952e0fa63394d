package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/store/postgres"
)

// TestTokenCreatePostgres: with cluster.store.driver postgres, `custos
// token create` writes the token where the cluster's gateways look it up.
func TestTokenCreatePostgres(t *testing.T) {
	ctx := context.Background()
	dsn := pgSchema(t)
	cfgPath := filepath.Join(t.TempDir(), "custos.yaml")
	yaml := "data_dir: " + t.TempDir() + "\ncluster:\n  store:\n    driver: postgres\n    dsn: \"" + dsn + "\"\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "token", "create", "-c", cfgPath, "--name", "gw-ingest", "--scope", "ingest")
	if code != 0 || !strings.HasPrefix(out, "cst_") {
		t.Fatalf("token create: %d %q %s", code, out, errOut)
	}
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok, err := st.TokenByHash(ctx, custos.HashTokenSecret(strings.TrimSpace(out)))
	if err != nil || tok.Name != "gw-ingest" || !tok.Allows(custos.ScopeIngest) || tok.Allows(custos.ScopeAdmin) {
		t.Fatalf("token in PostgreSQL: %+v, %v", tok, err)
	}
	// list and revoke work on the same store.
	code, out, errOut = run(t, "token", "list", "-c", cfgPath)
	if code != 0 || !strings.Contains(out, tok.ID) || !strings.Contains(out, "gw-ingest") || strings.Contains(out, "cst_") {
		t.Fatalf("token list: %d %q %s", code, out, errOut)
	}
	if code, out, errOut = run(t, "token", "revoke", "-c", cfgPath, tok.ID); code != 0 {
		t.Fatalf("token revoke: %d %q %s", code, out, errOut)
	}
	if _, err := st.TokenByHash(ctx, tok.Hash); !errors.Is(err, custos.ErrNotFound) {
		t.Fatalf("revoked token still found: %v", err)
	}
	if code, _, _ = run(t, "token", "revoke", "-c", cfgPath, tok.ID); code == 0 {
		t.Error("revoking an unknown token succeeded")
	}
}

// pgSchema creates a PostgreSQL schema for the test, dropped in cleanup,
// and returns a DSN that uses it.
func pgSchema(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	admin := "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") == "1" {
			t.Fatalf("PostgreSQL: %v", err)
		}
		t.Skipf("PostgreSQL not available: %v", err)
	}
	b := make([]byte, 5)
	rand.Read(b)
	schema := "custos_cli_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), admin); err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	return admin + "&search_path=" + schema
}
