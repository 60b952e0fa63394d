package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/pgwire"
	"github.com/custos-dev/custos/server"
)

// custos serve with postgres.enabled: the gateway answers with masked
// values and the node's store holds the access event.
func TestServePostgresGateway(t *testing.T) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:5432", time.Second)
	if err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") != "" {
			t.Fatalf("PostgreSQL unreachable: %v", err)
		}
		t.Skipf("PostgreSQL unreachable: %v", err)
	}
	c.Close()
	ctx := context.Background()
	var rb [6]byte
	rand.Read(rb[:])
	db := "custos_serve_pg_" + hex.EncodeToString(rb[:])
	admin, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	t.Cleanup(func() {
		a, err := pgx.Connect(context.Background(), "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
		if err == nil {
			a.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
			a.Close(context.Background())
		}
	})
	dc, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/"+db+"?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Exec(ctx, "CREATE TABLE passengers (id int, phone text); INSERT INTO passengers VALUES (1, '13812345678'); CREATE TABLE notes (id int, note text); INSERT INTO notes SELECT i, 'call back on 139' || lpad(i::text, 8, '0') FROM generate_series(1, 10) i"); err != nil {
		t.Fatal(err)
	}
	dc.Close(ctx)

	cfg, _ := initDir(t)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	cat := filepath.Join(dir, "catalog.yaml")
	os.WriteFile(pol, []byte("version: 1\nrules:\n  - id: agents-masked\n    match: {roles: [agent]}\n    decision: mask\n"), 0o600)
	os.WriteFile(cat, []byte("version: 1\nresources:\n  - system: pss\n    table: public.passengers\n    columns:\n      phone: {type: cn_mobile, subject_key: true}\n"), 0o600)
	v, err := pgwire.NewVerifier("pw")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Policy.File, cfg.Policy.Catalog = pol, cat
	cfg.Detect.Enabled = false
	cfg.Postgres.Enabled = true
	cfg.Postgres.Listen = "127.0.0.1:0"
	cfg.Postgres.System = "pss"
	cfg.Postgres.Upstream = config.PostgresUpstream{Address: "127.0.0.1:5432", Database: db, SSLMode: "disable"}
	cfg.Postgres.Credentials = []config.PostgresCredential{{Role: "agent", User: "postgres"}}
	cfg.Postgres.Users = []config.PostgresUser{{Name: "alice", Verifier: v, Roles: []string{"agent"}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := server.Start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())

	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://alice:pw@%s/%s?sslmode=disable", s.PostgresAddr(), db))
	if err != nil {
		t.Fatal(err)
	}
	var phone string
	err = conn.QueryRow(ctx, "SELECT phone FROM passengers WHERE id = 1").Scan(&phone)
	conn.Close(ctx)
	if err != nil || phone != "138****5678" {
		t.Fatalf("through custos serve: %q, %v", phone, err)
	}
	evs, err := s.Store.ActorAccesses(ctx, "alice", custos.Query{})
	if err != nil || len(evs) != 1 || evs[0].Channel != custos.ChannelPostgres || len(evs[0].Subjects) != 1 {
		t.Fatalf("stored events: %+v, %v", evs, err)
	}

	// A result of 1,000 rows is an export: registered, with its subjects,
	// once its event is durable.
	dc, err = pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/"+db+"?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Exec(ctx, "INSERT INTO passengers SELECT i, '139' || lpad(i::text, 8, '0') FROM generate_series(2, 1000) i"); err != nil {
		t.Fatal(err)
	}
	dc.Close(ctx)
	conn, err = pgx.Connect(ctx, fmt.Sprintf("postgres://alice:pw@%s/%s?sslmode=disable", s.PostgresAddr(), db))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, "SELECT phone FROM passengers")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	rows.Close()
	conn.Close(ctx)
	if n != 1000 || rows.Err() != nil {
		t.Fatalf("large result: %d rows, %v", n, rows.Err())
	}
	exs, err := s.Store.ListExports(ctx, export.Query{Actor: "alice"})
	if err != nil || len(exs) != 1 || exs[0].Channel != custos.ChannelPostgres || exs[0].Rows != 1000 {
		t.Fatalf("exports: %+v, %v", exs, err)
	}
	if subjects, _, err := s.Store.ExportSubjectCount(ctx, exs[0].ID); err != nil || subjects != 1000 {
		t.Errorf("export subjects: %d, %v", subjects, err)
	}
	if len(exs[0].Fields) != 1 || exs[0].Fields[0] != "phone" {
		t.Errorf("export fields: %v", exs[0].Fields)
	}

	// COPY … TO is an export whatever its size (of a table the catalogue
	// does not list: catalogued ones cannot be copied out), masked by
	// content and registered once its event is durable.
	conn, err = pgx.Connect(ctx, fmt.Sprintf("postgres://alice:pw@%s/%s?sslmode=disable", s.PostgresAddr(), db))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	tag, err := conn.PgConn().CopyTo(ctx, &out, "COPY (SELECT note FROM notes) TO STDOUT")
	conn.Close(ctx)
	if err != nil || tag.RowsAffected() != 10 || strings.Contains(out.String(), "13900000001") {
		t.Fatalf("COPY TO through the gateway: %v, %v:\n%s", tag, err, out.String())
	}
	exs, err = s.Store.ListExports(ctx, export.Query{Actor: "alice"})
	if err != nil || len(exs) != 2 || exs[0].Format != "copy" || exs[0].Rows != 10 {
		t.Fatalf("exports after COPY: %+v, %v", exs, err)
	}
	if subjects, _, err := s.Store.ExportSubjectCount(ctx, exs[0].ID); err != nil || subjects != 10 {
		t.Errorf("COPY export subjects: %d, %v", subjects, err)
	}
}
