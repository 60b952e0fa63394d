package server_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/custos-dev/custos/server"
)

// TestRelationshipSourcesConfigured: policy.relationships makes the node's
// need-to-know table ask the business database, and a bad file stops the
// start with its line.
func TestRelationshipSourcesConfigured(t *testing.T) {
	ctx := context.Background()
	cfg, _ := initDir(t)
	path := filepath.Join(cfg.DataDir, "relationships.yaml")
	os.WriteFile(path, []byte("sources:\n  - kind: booking\n    subject_type: cn_id\n    driver: oracle\n"), 0o600)
	cfg.Policy.Relationships = path
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := server.Start(ctx, cfg, log); err == nil || !strings.Contains(err.Error(), path+":4:") {
		t.Fatalf("bad relationships file: %v", err)
	}

	dsn := "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	db, err := sql.Open("pgx", dsn)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err = db.PingContext(pctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") != "" {
			t.Fatalf("PostgreSQL at 127.0.0.1:5432 required: %v", err)
		}
		t.Skipf("PostgreSQL unreachable: %v", err)
	}
	defer db.Close()
	table := "server_test_bookings"
	db.Exec(`DROP TABLE IF EXISTS ` + table)
	if _, err := db.Exec(`CREATE TABLE ` + table + ` (agent text, passenger_id text)`); err != nil {
		t.Fatal(err)
	}
	defer db.Exec(`DROP TABLE IF EXISTS ` + table)
	db.Exec(`INSERT INTO ` + table + ` VALUES ('a1', '110101199003071234')`)
	os.WriteFile(path, []byte("sources:\n  - kind: booking\n    subject_type: cn_id\n    driver: postgres\n    dsn: "+dsn+
		"\n    query: SELECT passenger_id FROM "+table+" WHERE agent = $1\n"), 0o600)
	srv, err := server.Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	h, err := srv.Index.Hash("cn_id", "110101199003071234")
	if err != nil {
		t.Fatal(err)
	}
	if !srv.Relationships.HasRelationship("a1", h, "booking") {
		t.Error("booking in the business database not seen")
	}
	if srv.Relationships.HasRelationship("a2", h, "booking") {
		t.Error("another agent's booking seen")
	}
}
