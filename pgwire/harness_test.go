package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/store/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// pgx's pools and the SQLite driver keep background goroutines
		// that end shortly after Close.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
	)
}

const upstreamAddr = "127.0.0.1:5432"

const testAppKey = "app-key-0123456789abcdef"

// testPolicy: agents see passengers masked, investigators with a ticket
// see them in clear, contractors are denied; a quota of 3 passengers per
// hour applies to the role quota3.
const testPolicy = `version: 1
defaults:
  sensitive: deny
  other: mask
rules:
  - id: contractors-denied
    match: {roles: [contractor]}
    decision: deny
    reason: contractors may not read passenger data
  - id: investigator-with-ticket
    match: {roles: [investigator], purposes: [investigation]}
    decision: allow
  - id: limit-five
    match: {roles: [limited]}
    decision: limit
    limit: 5
  - id: agents-masked
    match: {roles: [agent, limited, quota3]}
    decision: mask
quotas:
  - id: three-passengers
    match: {roles: [quota3]}
    subjects: 3
    window: 1h
    on_exceed: deny
`

const testCatalog = `version: 1
resources:
  - system: pss
    table: public.passengers
    columns:
      id_number: {type: cn_id, subject_key: true}
      phone: {type: cn_mobile}
      name: {type: cn_name}
`

// gw is a running gateway in front of a fresh database.
type gw struct {
	t     *testing.T
	srv   *Server
	addr  string
	db    string
	store *sqlite.Store
	index *blind.Index
	tls   *tls.Config // client side, when the gateway offers TLS
}

type gwOptions struct {
	tls        bool
	requireTLS bool
	recordAll  bool
	// noAutoPrepare turns Server.AutoPrepare off (on by default, as in
	// custos.yaml).
	noAutoPrepare bool
	policy        string              // testPolicy when empty
	grants        policy.GrantChecker // approval grants, none when nil
}

// adminURL is the upstream as the test's own superuser.
func adminURL(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", upstreamAddr, db)
}

func requireUpstream(t testing.TB) {
	c, err := net.DialTimeout("tcp", upstreamAddr, time.Second)
	if err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") != "" {
			t.Fatalf("PostgreSQL at %s unreachable: %v", upstreamAddr, err)
		}
		t.Skipf("PostgreSQL at %s unreachable (set CUSTOS_REQUIRE_SERVICES to fail instead): %v", upstreamAddr, err)
	}
	c.Close()
}

// passengers are the test rows: valid resident IDs and mobiles.
var passengers = []struct{ id, phone, name string }{
	{cnID("11010519900307123"), "13812345678", "张三明"},
	{cnID("31010419851122456"), "13987654321", "李四"},
	{cnID("44030519770101789"), "15012345678", "王五"},
	{cnID("11010819920202012"), "18612345678", "赵六"},
	{cnID("32010219880808345"), "17712345678", "钱七"},
	{cnID("33010619950505678"), "13312345678", "孙八"},
	{cnID("51010419800606901"), "13612345678", "周九"},
}

// cnID appends the ISO 7064 MOD 11-2 check character to 17 digits.
func cnID(d17 string) string {
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(d17[i]-'0') * w[i]
	}
	return d17 + string("10X98765432"[sum%11])
}

func newGateway(t *testing.T, o gwOptions) *gw {
	t.Helper()
	requireUpstream(t)
	ctx := context.Background()
	var rb [6]byte
	rand.Read(rb[:])
	db := "custos_pgwire_" + hex.EncodeToString(rb[:])
	admin, err := pgx.Connect(ctx, adminURL("postgres"))
	if err != nil {
		t.Fatalf("connect upstream: %v", err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("create database: %v", err)
	}
	admin.Close(ctx)
	t.Cleanup(func() {
		admin, err := pgx.Connect(context.Background(), adminURL("postgres"))
		if err != nil {
			t.Errorf("cleanup connect: %v", err)
			return
		}
		defer admin.Close(context.Background())
		if _, err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database: %v", err)
		}
	})
	dc, err := pgx.Connect(ctx, adminURL(db))
	if err != nil {
		t.Fatal(err)
	}
	_, err = dc.Exec(ctx, `CREATE TABLE passengers (pid serial PRIMARY KEY, id_number text NOT NULL, phone text, name text, seat text);
		CREATE VIEW passenger_contacts AS SELECT name, phone FROM passengers;
		CREATE TABLE notes (id int, body text)`)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range passengers {
		if _, err := dc.Exec(ctx, "INSERT INTO passengers (id_number, phone, name, seat) VALUES ($1, $2, $3, $4)", p.id, p.phone, p.name, fmt.Sprintf("%dA", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	dc.Close(ctx)

	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, blind.KeySize)
	rand.Read(key)
	index, err := blind.New(key)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Parse("catalog.yaml", []byte(testCatalog))
	if err != nil {
		t.Fatal(err)
	}
	polText := testPolicy
	if o.policy != "" {
		polText = o.policy
	}
	pol, err := policy.Parse("policy.yaml", []byte(polText), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := mask.NewTokenizer([]byte("0123456789abcdef0123456789abcdef"))
	users := map[string]User{}
	for _, u := range []struct {
		name  string
		roles []string
	}{
		{"alice", []string{"agent"}},
		{"ivan", []string{"investigator"}},
		{"carl", []string{"contractor"}},
		{"lim", []string{"limited"}},
		{"quinn", []string{"quota3"}},
		{"dora", []string{"dba", "agent"}},
		{"svc", []string{"agent"}},
	} {
		v, err := NewVerifier(u.name + "-secret")
		if err != nil {
			t.Fatal(err)
		}
		pv, _ := ParseVerifier(v)
		users[u.name] = User{Name: u.name, Verifier: pv, Roles: u.roles, OrgUnit: "ops"}
		if u.name == "svc" {
			users[u.name] = User{Name: u.name, Verifier: pv, Roles: u.roles, AppKey: []byte(testAppKey)}
		}
	}
	creds := map[string]Credential{}
	for _, r := range []string{"agent", "investigator", "contractor", "limited", "quota3", "dba"} {
		creds[r] = Credential{User: "postgres"}
	}
	srv := &Server{
		System:   "pss",
		Upstream: Upstream{Address: upstreamAddr, Database: db, SSLMode: "disable", Credentials: creds},
		Users:    users,
		Policy: &policy.Engine{
			Policies: policy.NewHolderWith(pol, policy.Options{}, slog.New(slog.DiscardHandler)),
			Catalog:  cat,
			Quotas:   policy.NewQuotas(),
			Grants:   o.grants,
		},
		Catalog: cat,
		Masker:  &mask.Masker{Tokens: tok},
		Index:   index,
		Events:  &ingest.Pipeline{Store: st, Index: index},
		Log:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	srv.RecordAll = o.recordAll
	// As custos.yaml has it unless turned off.
	srv.AutoPrepare = !o.noAutoPrepare
	g := &gw{t: t, srv: srv, db: db, store: st, index: index}
	if o.tls {
		serverTLS, clientTLS := testCerts(t)
		srv.TLS = serverTLS
		srv.RequireTLS = o.requireTLS
		g.tls = clientTLS
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
		st.Close()
	})
	return g
}

// url is a client URL for user through the gateway.
func (g *gw) url(user, extra string) string {
	host, port, _ := net.SplitHostPort(g.addr)
	u := fmt.Sprintf("postgres://%s:%s-secret@%s:%s/%s?sslmode=disable", user, user, host, port, g.db)
	if g.tls != nil {
		u = fmt.Sprintf("postgres://%s:%s-secret@%s:%s/%s?sslmode=require", user, user, host, port, g.db)
	}
	if extra != "" {
		u += "&" + extra
	}
	return u
}

func (g *gw) connect(user, extra string) *pgx.Conn {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, g.url(user, extra))
	if err != nil {
		g.t.Fatalf("connect as %s: %v", user, err)
	}
	g.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// accesses returns the actor's stored events, oldest first.
func (g *gw) accesses(actor string) []custos.StoredAccess {
	g.t.Helper()
	evs, err := g.store.ActorAccesses(context.Background(), actor, custos.Query{Limit: 1000})
	if err != nil {
		g.t.Fatal(err)
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}
