package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/store/storetest"
)

// opener gives each test its own data directory and reopens the same one
// when a test asks again, as storetest.Opener requires.
func opener() storetest.Opener {
	var mu sync.Mutex
	dirs := map[*testing.T]string{}
	return func(t *testing.T) custos.EventStore {
		t.Helper()
		mu.Lock()
		dir, ok := dirs[t]
		if !ok {
			dir = t.TempDir()
			dirs[t] = dir
		}
		mu.Unlock()
		s, err := Open(context.Background(), dir)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, opener())
}

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	db, err := sql.Open("sqlite", dsn(s.Path(), false, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied) VALUES (?, 'future.sql', 0)`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, err = Open(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "newer than this build") {
		t.Fatalf("Open of a newer database: %v, want a 'newer than this build' error", err)
	}
}

func TestMigrationsAreRecorded(t *testing.T) {
	s := openTest(t)
	var n, max int
	if err := s.rdb.QueryRow(`SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	if n != SchemaVersion() || max != SchemaVersion() || n == 0 {
		t.Errorf("schema_migrations has %d rows up to %d, want %d", n, max, SchemaVersion())
	}
	// Reopening applies nothing twice.
	s.Close()
	s2, err := Open(context.Background(), strings.TrimSuffix(s.Path(), "/"+FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.rdb.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != SchemaVersion() {
		t.Errorf("after reopen schema_migrations has %d rows, want %d", n, SchemaVersion())
	}
}

func TestPragmas(t *testing.T) {
	s := openTest(t)
	// The write connection belongs to the writer goroutine, so its pragmas
	// are read from inside a write request.
	writePragmas := map[string]string{}
	_, err := s.submit(context.Background(), 0, func(w *writer) (custos.AppendResult, error) {
		for _, p := range []string{"journal_mode", "synchronous", "foreign_keys", "busy_timeout"} {
			var v string
			if err := w.conn.QueryRowContext(context.Background(), "PRAGMA "+p).Scan(&v); err != nil {
				return custos.AppendResult{}, err
			}
			writePragmas[p] = v
		}
		return custos.AppendResult{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "10000"} {
		if got := writePragmas[p]; got != want {
			t.Errorf("writer PRAGMA %s = %s, want %s", p, got, want)
		}
	}
	for p, want := range map[string]string{"query_only": "1", "busy_timeout": "10000", "journal_mode": "wal"} {
		var got string
		if err := s.rdb.QueryRow("PRAGMA " + p).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("reader PRAGMA %s = %s, want %s", p, got, want)
		}
	}
	if _, err := s.rdb.Exec(`DELETE FROM events`); err == nil {
		t.Error("the read pool accepted a write")
	}
}

// TestQueryPlans keeps history queries on their indexes: no full scans and
// no sorting, whatever the table size.
func TestQueryPlans(t *testing.T) {
	s := openTest(t)
	type plan struct {
		sql  string
		args []any
	}
	plans := map[string]plan{
		"since":  {accessSinceQuery, []any{1, 2}},
		"logins": {loginsSinceQuery, []any{1, 2}},
	}
	now := time.Now()
	for name, h := range map[string]struct {
		h    history
		keys []any
	}{
		"subject":  {subjectHistory, []any{"cn_id", "h"}},
		"actor":    {actorHistory, []any{"a"}},
		"system":   {systemHistory, []any{"s"}},
		"resource": {resourceHistory, []any{"s", "o"}},
		"account":  {accountHistory, []any{"a"}},
		"source":   {sourceHistory, []any{"10.0.0.1"}},
	} {
		for bname, q := range map[string]custos.Query{
			"unbounded": {},
			"from":      {From: now},
			"to":        {To: now},
			"window":    {From: now, To: now.Add(time.Hour), Before: 10, Limit: 5},
		} {
			sql, args := h.h.sql(q, h.keys...)
			plans[name+"/"+bname] = plan{sql, args}
		}
	}
	for name, q := range plans {
		rows, err := s.rdb.Query("EXPLAIN QUERY PLAN "+q.sql, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "; ")
		// A time window must seek both ends of the sequence range (login
		// histories have no seq_hours: an account's or a source's logins
		// are few).
		logins := strings.HasPrefix(name, "account/") || strings.HasPrefix(name, "source/")
		if strings.HasSuffix(name, "/window") && !logins && !strings.Contains(text, "seq>? AND seq<?") {
			t.Errorf("%s query plan does not bound seq on both sides: %s", name, text)
		}
		for _, bad := range []string{"TEMP B-TREE", "SCAN "} {
			if strings.Contains(text, bad) {
				t.Errorf("%s query plan contains %q: %s", name, bad, text)
			}
		}
	}
}

func TestTokens(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	created := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	a := custos.Token{ID: "tok-a", Name: "ingest from pss", Scopes: []custos.Scope{custos.ScopeIngest}, Hash: strings.Repeat("a", 64), Created: created}
	b := custos.Token{ID: "tok-b", Name: "admin", Scopes: []custos.Scope{custos.ScopeRead, custos.ScopeAdmin}, Hash: strings.Repeat("b", 64), Created: created.Add(time.Second)}
	for _, tok := range []custos.Token{a, b} {
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name string
		tok  custos.Token
	}{
		{"same id", custos.Token{ID: "tok-a", Hash: strings.Repeat("c", 64)}},
		{"same hash", custos.Token{ID: "tok-c", Hash: a.Hash}},
		{"no hash", custos.Token{ID: "tok-d"}},
	} {
		if err := s.CreateToken(ctx, tt.tok); err == nil {
			t.Errorf("CreateToken with %s succeeded", tt.name)
		}
	}

	got, err := s.TokenByHash(ctx, b.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != b.ID || got.Name != b.Name || !got.Created.Equal(b.Created) || len(got.Scopes) != 2 || !got.Allows(custos.ScopeIngest) {
		t.Errorf("TokenByHash = %+v, want %+v", got, b)
	}
	if _, err := s.TokenByHash(ctx, strings.Repeat("f", 64)); !errors.Is(err, ErrNotFound) {
		t.Errorf("TokenByHash of unknown hash: %v, want ErrNotFound", err)
	}

	list, err := s.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "tok-a" || list[1].ID != "tok-b" {
		t.Errorf("ListTokens = %+v", list)
	}

	if err := s.RevokeToken(ctx, "tok-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, a.Hash); !errors.Is(err, ErrNotFound) {
		t.Errorf("TokenByHash of revoked token: %v, want ErrNotFound", err)
	}
	if err := s.RevokeToken(ctx, "tok-a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RevokeToken twice: %v, want ErrNotFound", err)
	}
	list, _ = s.ListTokens(ctx)
	if len(list) != 1 || list[0].ID != "tok-b" {
		t.Errorf("ListTokens after revoke = %+v", list)
	}
}

// TestFailedRequestLeavesGroupIntact checks that one request failing inside
// a group commit is undone alone: a token insert that violates UNIQUE,
// queued between appends, fails while the appends around it commit.
func TestFailedRequestLeavesGroupIntact(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if err := s.CreateToken(ctx, custos.Token{ID: "t1", Hash: "h1"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%5 == 0 {
				errs[i] = s.CreateToken(ctx, custos.Token{ID: "t1", Hash: "h1"})
				return
			}
			_, errs[i] = s.AppendAccess(ctx, []custos.AccessEvent{storetest.Access("g-"+string(rune('a'+i)), time.Now(), "emp-1")})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i%5 == 0) != (err != nil) {
			t.Errorf("request %d: err = %v", i, err)
		}
	}
	all, err := s.AccessSince(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 16 {
		t.Errorf("stored %d events, want 16", len(all))
	}
}

// TestWideEventIndexesEverySubject stores an event that returned 1,000
// people (some listed twice) and finds it from the first, a middle and
// the last of them.
func TestWideEventIndexesEverySubject(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	var ids []string
	for i := range 1000 {
		ids = append(ids, fmt.Sprintf("11010119900307%04d", i))
	}
	ids = append(ids, ids[5], ids[700])
	if _, err := s.AppendAccess(ctx, []custos.AccessEvent{storetest.Access("wide", time.Now(), "emp-1", ids...)}); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 5, 637, 999} {
		got, err := s.SubjectAccesses(ctx, "cn_id", storetest.Hash(ids[i]), custos.Query{})
		if err != nil || len(got) != 1 || got[0].ID != "wide" {
			t.Errorf("subject %d: %d events, %v", i, len(got), err)
		}
	}
	var rows int
	s.rdb.QueryRow(`SELECT count(*) FROM event_subjects`).Scan(&rows)
	if rows != 1000 {
		t.Errorf("event_subjects has %d rows, want 1000", rows)
	}
}

// BenchmarkAppendWideEvent is the PostgreSQL gateway's masking-heavy case:
// one event per 1,000-row result.
func BenchmarkAppendWideEvent(b *testing.B) {
	ctx := b.Context()
	s, err := Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var ids []string
	for i := range 1000 {
		ids = append(ids, fmt.Sprintf("11010119900307%04d", i))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.AppendAccess(ctx, []custos.AccessEvent{storetest.Access(fmt.Sprintf("w-%d", i), time.Now(), "emp-1", ids...)}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWALBoundedUnderConstantReads keeps a reader busy without pause
// while events are written, and checks that the WAL is still truncated
// once it passes the limit.
func TestWALBoundedUnderConstantReads(t *testing.T) {
	old := walTruncateAt
	walTruncateAt = 1 << 20
	t.Cleanup(func() { walTruncateAt = old })
	ctx := t.Context()
	s := openTest(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				s.ActorAccesses(ctx, "emp-1", custos.Query{Limit: 50})
			}
		}
	}()
	var peak int64
	for i := range 60 {
		var batch []custos.AccessEvent
		for j := range 100 {
			batch = append(batch, storetest.Access(fmt.Sprintf("w-%d-%d", i, j), time.Now(), "emp-1", fmt.Sprintf("11010119900307%04d", j)))
		}
		if _, err := s.AppendAccess(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(s.path + "-wal"); err == nil {
			peak = max(peak, fi.Size())
		}
	}
	// The reader goes on; within a few checkpoints the WAL must be cut.
	var size int64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(checkpointEvery) {
		fi, err := os.Stat(s.path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		if size = fi.Size(); size <= 4<<20 {
			break
		}
	}
	close(stop)
	<-done
	t.Logf("WAL peak %d bytes, now %d", peak, size)
	if size > 4<<20 {
		t.Errorf("WAL is %d bytes under constant reads, limit %d", size, walTruncateAt)
	}
}

// TestWALBoundedUnderSustainedWrites keeps the writer committing back to
// back from several goroutines and checks that the WAL stays near the
// limit: the writer truncates it between groups.
func TestWALBoundedUnderSustainedWrites(t *testing.T) {
	old := walTruncateAt
	walTruncateAt = 1 << 20
	t.Cleanup(func() { walTruncateAt = old })
	ctx := t.Context()
	s := openTest(t)
	var wg sync.WaitGroup
	var peak atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				var batch []custos.AccessEvent
				for j := range 100 {
					batch = append(batch, storetest.Access(fmt.Sprintf("s-%d-%d-%d", w, i, j), time.Now(), "emp-1", fmt.Sprintf("11010119900307%04d", j)))
				}
				if _, err := s.AppendAccess(ctx, batch); err != nil {
					t.Error(err)
					return
				}
				if fi, err := os.Stat(s.path + "-wal"); err == nil && fi.Size() > peak.Load() {
					peak.Store(fi.Size())
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("WAL peak %d bytes under sustained writes (limit %d)", peak.Load(), walTruncateAt)
	if peak.Load() > 32<<20 {
		t.Errorf("WAL reached %d bytes under sustained writes, limit %d", peak.Load(), walTruncateAt)
	}
}

// TestBulkMode builds a store in bulk mode and reads it back opened
// normally: what bulk mode wrote is all there after Close.
func TestBulkMode(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := OpenWith(ctx, dir, Options{Bulk: true})
	if err != nil {
		t.Fatal(err)
	}
	var batch []custos.AccessEvent
	for i := range 300 {
		batch = append(batch, storetest.Access(fmt.Sprintf("b-%d", i), time.Now(), "emp-1", "11010119900307123X"))
	}
	if res, err := b.AppendAccess(ctx, batch); err != nil || res.Stored != 300 {
		t.Fatalf("bulk append: %+v %v", res, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, FileName+"-wal")); err == nil && fi.Size() > 0 {
		t.Errorf("bulk close left %d bytes of WAL", fi.Size())
	}
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.ActorAccesses(ctx, "emp-1", custos.Query{Limit: 1000})
	if err != nil || len(got) != 300 {
		t.Fatalf("after bulk load: %d events, %v", len(got), err)
	}
}

func TestAlertSuppression(t *testing.T) { storetest.RunAlerts(t, openTest(t)) }
