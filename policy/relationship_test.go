package policy

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"cel.dev/cel-go/common/types"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// testHash stands in for the blind index with the same construction: hex
// HMAC-SHA256 of type and value (normalization aside).
func testHash(typ, value string) (string, error) {
	if value == "bad" {
		return "", errors.New("normalize cn_id: want 18 or 15 characters, got 3")
	}
	m := hmac.New(sha256.New, []byte("test key 0123456789abcdef"))
	m.Write([]byte(typ + "\x00" + strings.TrimSpace(value)))
	return hex.EncodeToString(m.Sum(nil)), nil
}

func post(t *testing.T, h http.Handler, body string) (int, relResponse) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/relationships", strings.NewReader(body)))
	var resp relResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("response %q: %v", rec.Body.String(), err)
	}
	return rec.Code, resp
}

type memLog struct {
	added, removed []Relationship
	fail           bool
}

func (m *memLog) AppendRelationships(ctx context.Context, added, removed []Relationship) error {
	if m.fail {
		return errors.New("disk full")
	}
	m.added = append(m.added, added...)
	m.removed = append(m.removed, removed...)
	return nil
}

func TestRelationshipHandler(t *testing.T) {
	store := NewRelationships()
	log := &memLog{}
	h := &RelationshipHandler{Store: store, Hash: testHash, Log: log}
	zhang, _ := testHash("cn_id", "110101199003071234")

	code, resp := post(t, h, `[{"actor":"a1","subject":{"type":"cn_id","value":"110101199003071234"},"kind":"booking"},
	 {"actor":"a2","subject":{"type":"cn_id","hash":"`+zhang+`"},"kind":"ticket","expires":"2999-01-01T00:00:00Z"}]`)
	if code != 200 || resp.Added != 2 {
		t.Fatalf("%d %+v", code, resp)
	}
	if !store.HasRelationship("a1", zhang, "booking") || !store.HasRelationship("a2", zhang, "ticket") {
		t.Fatal("relationships not applied")
	}
	for _, r := range log.added {
		if strings.Contains(r.Subject, "1101011990") {
			t.Fatal("raw value persisted")
		}
	}
	// NDJSON, removal.
	code, resp = post(t, h, `{"actor":"a1","subject":{"type":"cn_id","value":"110101199003071234"},"kind":"booking","remove":true}`+"\n\n")
	if code != 200 || resp.Removed != 1 || store.HasRelationship("a1", zhang, "booking") {
		t.Fatalf("remove: %d %+v", code, resp)
	}

	bad := []struct{ body, field string }{
		{`[{"subject":{"type":"cn_id","hash":"x"},"kind":"k"}]`, "actor"},
		{`[{"actor":"a","subject":{"type":"cn_id","hash":"x"}}]`, "kind"},
		{`[{"actor":"a","subject":{"type":"shoe","hash":"x"},"kind":"k"}]`, "subject.type"},
		{`[{"actor":"a","subject":{"type":"cn_id"},"kind":"k"}]`, "subject"},
		{`[{"actor":"a","subject":{"type":"cn_id","value":"bad"},"kind":"k"}]`, "subject.value"},
	}
	for _, b := range bad {
		n := store.Len()
		code, resp := post(t, h, `[{"actor":"ok","subject":{"type":"cn_id","hash":"h"},"kind":"k"},`+b.body[1:])
		if code != 400 || len(resp.Errors) != 1 || resp.Errors[0].Field != b.field || resp.Errors[0].Index != 1 {
			t.Errorf("%s: %d %+v", b.body, code, resp)
		}
		if store.Len() != n {
			t.Errorf("%s: half a batch applied", b.body)
		}
	}
	// Errors never quote values.
	code, resp = post(t, h, `{"actor":"a","subject":{"type":"cn_id","value":"110101199003071234"},"kind":"k","colour":"13812345678"}`)
	if code != 400 || strings.Contains(resp.Error+resp.Errors[0].Reason, "1381234") {
		t.Errorf("unknown field: %d %+v", code, resp)
	}
	code, _ = post(t, h, `[{"actor":"a","subject":{"type":"cn_id","value":13812345678}}]`)
	if code != 400 {
		t.Errorf("type error: %d", code)
	}
	if code, _ := post(t, h, ``); code != 400 {
		t.Errorf("empty: %d", code)
	}
	// Persistence failure: nothing applied, 503.
	log.fail = true
	code, _ = post(t, h, `[{"actor":"z","subject":{"type":"cn_id","hash":"h"},"kind":"k"}]`)
	if code != 503 || store.HasRelationship("z", "h", "k") {
		t.Errorf("persist failure: %d", code)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 405 {
		t.Errorf("GET: %d", rec.Code)
	}
}

func TestRelationshipExpiry(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	s := NewRelationships()
	s.Now = func() time.Time { return now }
	s.Add(Relationship{Actor: "a", Subject: "s", Kind: "k", Expires: now.Add(time.Minute)})
	if !s.HasRelationship("a", "s", "k") {
		t.Fatal("live relationship missing")
	}
	now = now.Add(time.Minute)
	if s.HasRelationship("a", "s", "k") {
		t.Fatal("expired relationship still counts")
	}
	if n := s.Prune(); n != 1 || s.Len() != 0 {
		t.Fatalf("prune %d, len %d", n, s.Len())
	}
}

func openPostgres(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = db.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") != "" {
			t.Fatalf("PostgreSQL at 127.0.0.1:5432 required: %v", err)
		}
		t.Skipf("PostgreSQL at 127.0.0.1:5432 unreachable (set CUSTOS_REQUIRE_SERVICES to fail instead): %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestSQLRelationships reads bookings from a real PostgreSQL, hashes the
// passengers' ID numbers and answers from the cache until the TTL passes.
func TestSQLRelationships(t *testing.T) {
	db := openPostgres(t)
	ctx := context.Background()
	table := "policy_test_bookings"
	if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS `+table+`; CREATE TABLE `+table+` (agent text, passenger_id text, status text)`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec(`DROP TABLE IF EXISTS ` + table) })
	if _, err := db.ExecContext(ctx, `INSERT INTO `+table+` VALUES ('a1','110101199003071234','open'), ('a1','110101199003075678','closed'), ('a2','110101199003079999','open'), ('a1', NULL, 'open')`); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	src := &SQLRelationships{DB: db, Kind: "booking", SubjectType: "cn_id", Hash: testHash, TTL: time.Minute,
		Query: `SELECT passenger_id FROM ` + table + ` WHERE agent = $1 AND status = 'open'`, Now: func() time.Time { return now }}
	open, _ := testHash("cn_id", "110101199003071234")
	closed, _ := testHash("cn_id", "110101199003075678")
	other, _ := testHash("cn_id", "110101199003079999")
	rel := NewRelationships()
	rel.Sources = []RelationshipChecker{src}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !rel.HasRelationship("a1", open, "booking") {
				t.Error("open booking not found")
			}
		}()
	}
	wg.Wait()
	if rel.HasRelationship("a1", closed, "booking") || rel.HasRelationship("a1", other, "booking") || rel.HasRelationship("a1", open, "ticket") {
		t.Error("relationship that does not exist")
	}
	// Cached: a new booking is not seen until the TTL passes.
	db.ExecContext(ctx, `INSERT INTO `+table+` VALUES ('a1','110101199003079999','open')`)
	if rel.HasRelationship("a1", other, "booking") {
		t.Error("cache not used")
	}
	now = now.Add(2 * time.Minute)
	if !rel.HasRelationship("a1", other, "booking") {
		t.Error("cache not refreshed after TTL")
	}
	// Database gone: fail closed.
	broken := &SQLRelationships{DB: db, Kind: "booking", SubjectType: "cn_id", Hash: testHash, Query: `SELECT nope FROM missing_table WHERE x = $1`}
	if broken.HasRelationship("a1", open, "booking") {
		t.Error("failed lookup answered true")
	}
}

// TestPolicyWithRelationships ties it together: a policy's
// has_relationship sees what the handler accepted.
func TestPolicyWithRelationships(t *testing.T) {
	store := NewRelationships()
	h := &RelationshipHandler{Store: store, Hash: testHash}
	p := mustParse(t, `
rules:
  - id: own
    when: has_relationship(actor, subjects, "booking")
    decision: allow
`, Options{Relationships: store})
	hash, _ := testHash("cn_id", "110101199003071234")
	r := Request{Actor: actorID("a1"), Resource: resource("pss"), DataTypes: []string{"cn_id"}, Subjects: []string{hash}}
	if d := p.Decide(&r); d.Rules[0] == "own" {
		t.Fatal("allowed before the booking")
	}
	post(t, h, `{"actor":"a1","subject":{"type":"cn_id","value":"110101199003071234"},"kind":"booking"}`)
	if d := p.Decide(&r); d.Rules[0] != "own" {
		t.Fatalf("not allowed after the booking: %+v", d)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`[{"actor":"a1","subject":{"type":"cn_id","value":"110101199003071234"},"kind":"booking"}]`))
	f.Add([]byte("{\"actor\":\"a\",\"subject\":{\"type\":\"cn_id\",\"hash\":\"h\"},\"kind\":\"k\"}\n{}\n"))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, ferrs, err := decodeBatch[RelationshipEvent](strings.NewReader(string(data)), 100)
		if err == nil && len(ferrs) > 0 {
			t.Fatal("field errors without an error")
		}
		if len(evs) > 100 {
			t.Fatalf("%d events past the limit", len(evs))
		}
	})
}

// TestNativeConditionMatchesCEL holds the native fast path to the answers
// of the CEL program it stands in for.
func TestNativeConditionMatchesCEL(t *testing.T) {
	rel := NewRelationships()
	rel.Add(Relationship{Actor: "a", Subject: "s1", Kind: "booking"}, Relationship{Actor: "a", Subject: "s2", Kind: "booking"})
	for _, src := range []string{
		`has_relationship(actor, subjects, "booking")`,
		`has_relationship(actor.id, subject, "booking")`,
		`has_relationship( actor , subjects , "booking" )`,
	} {
		native := nativeCondition(src, rel)
		if native == nil {
			t.Fatalf("%s: not recognised", src)
		}
		env, err := newEnv(rel)
		if err != nil {
			t.Fatal(err)
		}
		ast, iss := env.Compile(src)
		if iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		prg, _ := env.Program(ast)
		for _, subjects := range [][]string{nil, {"s1"}, {"s1", "s2"}, {"s1", "s3"}, {"s3"}, {""}, {"s2", ""}} {
			for _, actor := range []string{"a", "b"} {
				r := &Request{Actor: actorID(actor), Subjects: subjects}
				out, _, err := prg.Eval(&activation{r: r, loc: time.UTC})
				if err != nil {
					t.Fatal(err)
				}
				if got := native(r); got != (out == types.True) {
					t.Errorf("%s actor %s subjects %q: native %v, CEL %v", src, actor, subjects, got, out)
				}
			}
		}
	}
	for _, src := range []string{`has_relationship(actor, subjects, "booking") || true`, `!has_relationship(actor, subjects, "x")`, `has_relationship("a", subjects, "x")`} {
		if nativeCondition(src, rel) != nil {
			t.Errorf("%s taken for the plain form", src)
		}
	}
}

func TestWatchlistHandler(t *testing.T) {
	wl := NewWatchlist()
	h := &WatchlistHandler{List: wl, Hash: testHash}
	do := func(body string) (int, watchResponse) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/watchlist", strings.NewReader(body)))
		var resp watchResponse
		json.Unmarshal(rec.Body.Bytes(), &resp)
		return rec.Code, resp
	}
	star, _ := testHash("cn_id", "110101199003071234")
	code, resp := do(`[{"subject":{"type":"cn_id","value":"110101199003071234"},"kind":"alert","note":"actor"},
	{"subject":{"type":"cn_mobile","hash":"honey"},"kind":"honeytoken"}]`)
	if code != 200 || resp.Listed != 2 || wl.Kind(star) != WatchAlert || wl.Kind("honey") != WatchHoneytoken {
		t.Fatalf("%d %+v", code, resp)
	}
	code, resp = do(`{"subject":{"type":"cn_id","hash":"x"},"kind":"vip"}` + "\n" + `{"subject":{"type":"cn_mobile","hash":"honey"},"remove":true}`)
	if code != 400 || len(resp.Errors) != 1 || resp.Errors[0].Field != "kind" || wl.Kind("honey") == "" {
		t.Fatalf("bad kind: %d %+v", code, resp)
	}
	code, resp = do(`{"subject":{"type":"cn_mobile","hash":"honey"},"remove":true}`)
	if code != 200 || resp.Unlisted != 1 || wl.Kind("honey") != "" {
		t.Fatalf("remove: %d %+v", code, resp)
	}
}
