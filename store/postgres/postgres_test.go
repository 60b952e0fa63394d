package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/store/storetest"
)

// adminDSN is the local test server (scripts/services.sh); CUSTOS_TEST_POSTGRES
// overrides it.
func adminDSN() string {
	if v := os.Getenv("CUSTOS_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// freshSchema creates an empty schema for t, dropped in cleanup, and
// returns a DSN that uses it.
func freshSchema(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminDSN())
	if err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") == "1" {
			t.Fatalf("PostgreSQL: %v", err)
		}
		t.Skipf("PostgreSQL not available: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "custos_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, adminDSN())
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return adminDSN() + "&search_path=" + schema
}

// openFresh opens a store on a schema of its own, closed when the test
// ends.
func openFresh(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), freshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) custos.EventStore {
		dsn, ok := dsns[t.Name()]
		if !ok {
			dsn = freshSchema(t)
			dsns[t.Name()] = dsn
		}
		s, err := Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// dsns remembers each test's schema so that a second open (the
// durability test) finds the same data. Subtests run one at a time.
var dsns = map[string]string{}

func TestPartitionsPerMonth(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, freshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var batch []custos.AccessEvent
	for i, at := range []time.Time{
		time.Date(2026, 1, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC),
	} {
		batch = append(batch, storetest.Access("pm-"+string(rune('a'+i)), at, "emp-1", "110101199003071231"))
	}
	if _, err := s.AppendAccess(ctx, batch); err != nil {
		t.Fatal(err)
	}
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events' AND c.relnamespace = p.relnamespace
		AND p.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"events_p202601", "events_p202602", "events_p202611"}
	if len(names) != len(want) || names[0] != want[0] || names[1] != want[1] || names[2] != want[2] {
		t.Errorf("partitions = %v, want %v", names, want)
	}
	// A February query reads February only, and finds its event.
	got, err := s.ActorAccesses(ctx, "emp-1", custos.Query{From: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(got) != 1 || got[0].ID != "pm-b" {
		t.Errorf("February = %+v, %v", got, err)
	}
}

func TestMigrationsIdempotentAndConcurrent(t *testing.T) {
	dsn := freshSchema(t)
	ctx := context.Background()
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			s, err := Open(ctx, dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil || v != SchemaVersion() {
		t.Errorf("schema version %d, %v; want %d", v, err, SchemaVersion())
	}
}

func TestSnapshotsAndAlerts(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, freshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, ok, err := s.LoadSnapshot(ctx, "p0"); ok || err != nil {
		t.Fatalf("LoadSnapshot of none = %v, %v", ok, err)
	}
	if err := s.SaveSnapshot(ctx, "p0", 7, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSnapshot(ctx, "p0", 9, []byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSnapshot(ctx, "p0", 5, []byte("stale")); err != nil {
		t.Fatal(err)
	}
	pos, data, ok, err := s.LoadSnapshot(ctx, "p0")
	if err != nil || !ok || pos != 9 || string(data) != "b" {
		t.Errorf("LoadSnapshot = %d %q %v %v", pos, data, ok, err)
	}
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	a := custos.AlertRecord{ID: "a1", Rule: "bulk", Severity: "high", Actor: "emp-1", FirstSeen: at, LastSeen: at, Summary: "s", Doc: []byte(`{}`)}
	if err := s.UpsertAlerts(ctx, []custos.AlertRecord{a}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAlertStatus(ctx, "a1", custos.AlertAcknowledged); err != nil {
		t.Fatal(err)
	}
	a.LastSeen = at.Add(time.Hour)
	if err := s.UpsertAlerts(ctx, []custos.AlertRecord{a}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Alerts(ctx, custos.AlertQuery{Actor: "emp-1"})
	if err != nil || len(got) != 1 || got[0].Status != custos.AlertAcknowledged || !got[0].LastSeen.Equal(a.LastSeen) {
		t.Errorf("Alerts = %+v, %v", got, err)
	}
	if err := s.SetAlertStatus(ctx, "nope", custos.AlertResolved); err == nil {
		t.Error("SetAlertStatus of an unknown alert succeeded")
	}
}

// TestLock: one node holds a named lock; another, on the same schema, is
// refused until it is released; another schema (another cluster) has its
// own.
func TestLock(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	open := func(dsn string) *Store {
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b, other := open(dsn), open(dsn), open(freshSchema(t))
	unlock, err := a.Lock(ctx, "ledger")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(ctx, "ledger"); !errors.Is(err, ErrLocked) {
		t.Fatalf("second holder: %v, want ErrLocked", err)
	}
	u, err := b.Lock(ctx, "something-else")
	if err != nil {
		t.Fatalf("another lock name: %v", err)
	}
	u()
	u, err = other.Lock(ctx, "ledger")
	if err != nil {
		t.Fatalf("another schema: %v", err)
	}
	u()
	unlock()
	u, err = b.Lock(ctx, "ledger")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	u()
}

func TestExports(t *testing.T) {
	storetest.RunExports(t, func(t *testing.T) storetest.ExportStore { return openFresh(t) })
}

func TestAlertSuppression(t *testing.T) {
	s := openFresh(t)
	storetest.RunAlerts(t, s)
}
