package pgwire_test

// The harness of the external gateway tests (bypass_test.go, fault_test.go,
// clients_test.go): a fresh database on the local PostgreSQL seeded with
// passengers whose phone and ID numbers are catalogued, a gateway in front
// of it with a masking policy and a real event store, and a client that
// records every byte the gateway sends it.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/pgwire"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/store/sqlite"
)

const (
	extUpstream = "127.0.0.1:5432"
	extPassword = "s3cret-pw"
)

// extPassengers are the seeded rows: phone (cn_mobile) and id_number (cn_id)
// are catalogued; name is not.
var extPassengers = []struct {
	ID              int
	Name, Phone, ID18 string
}{
	{1, "Zhang San", "13812345678", extCNID("11010519491231002")},
	{2, "Li Si", "13987654321", extCNID("44030419800101123")},
	{3, "Wang Wu", "15011112222", extCNID("32010619951212456")},
}

// extCNID appends the ISO 7064 MOD 11-2 check character to 17 digits.
func extCNID(d17 string) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(d17[i]-'0') * w
	}
	return d17 + string("10X98765432"[sum%11])
}

const extPolicy = `version: 1
name: bypass
defaults:
  sensitive: mask
  other: mask
  mask: {cn_mobile: partial, cn_id: partial}
rules:
  - id: analysts-masked
    match:
      systems: [pss]
      roles: [analyst]
    decision: mask
    mask: {cn_mobile: partial, cn_id: partial}
`

const extCatalog = `version: 1
resources:
  - system: pss
    table: public.passengers
    columns:
      id_number: {type: cn_id, subject_key: true}
      phone: {type: cn_mobile}
`

// extRequireServices fails (CI) or skips when PostgreSQL is not reachable.
func extRequireServices(t testing.TB) {
	t.Helper()
	c, err := net.DialTimeout("tcp", extUpstream, time.Second)
	if err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") == "1" {
			t.Fatalf("PostgreSQL at %s: %v", extUpstream, err)
		}
		t.Skipf("PostgreSQL at %s not reachable: %v", extUpstream, err)
	}
	c.Close()
}

// extDatabase creates a fresh database seeded with passengers and flights
// on the PostgreSQL at addr, dropped at cleanup.
func extDatabase(t testing.TB, addr string) string {
	t.Helper()
	ctx := context.Background()
	var b [6]byte
	rand.Read(b[:])
	name := "custos_gw_" + hex.EncodeToString(b[:])
	admin, err := pgconn.Connect(ctx, "postgres://postgres@"+addr+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer admin.Close(ctx)
	if err := admin.Exec(ctx, "CREATE DATABASE "+name).Close(); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := pgconn.Connect(ctx, "postgres://postgres@"+addr+"/postgres?sslmode=disable")
		if err != nil {
			return
		}
		defer c.Close(ctx)
		c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)").Close()
	})
	db, err := pgconn.Connect(ctx, "postgres://postgres@"+addr+"/"+name+"?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var seed strings.Builder
	seed.WriteString(`CREATE TABLE passengers (id int PRIMARY KEY, name text, phone text, id_number text);
CREATE TABLE flights (id int PRIMARY KEY, code text);
INSERT INTO flights VALUES (1, 'MU5101'), (2, 'CA1501');
`)
	for _, p := range extPassengers {
		fmt.Fprintf(&seed, "INSERT INTO passengers VALUES (%d, '%s', '%s', '%s');\n", p.ID, p.Name, p.Phone, p.ID18)
	}
	if _, err := db.Exec(ctx, seed.String()).ReadAll(); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return name
}

// extGateway is a gateway on a random loopback port.
type extGateway struct {
	Addr   string
	DB     string
	Server *pgwire.Server
	Store  *sqlite.Store
}

// extGatewayOptions change the harness's defaults.
type extGatewayOptions struct {
	Upstream string // default 127.0.0.1:5432
	Database string // default a fresh seeded database
	Roles    []string
}

// extStartGateway starts a gateway with the masking policy, the catalogue
// and an event store in t.TempDir, closed at cleanup. User "alice" (role
// analyst by default) logs in with extPassword.
func extStartGateway(t testing.TB, o extGatewayOptions) *extGateway {
	t.Helper()
	if o.Upstream == "" {
		o.Upstream = extUpstream
	}
	if o.Database == "" {
		o.Database = extDatabase(t, o.Upstream)
	}
	if o.Roles == nil {
		o.Roles = []string{"analyst"}
	}
	ctx := context.Background()
	cat, err := catalog.Parse("catalog.yaml", []byte(extCatalog))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse("policy.yaml", []byte(extPolicy), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, blind.KeySize)
	idx, err := blind.New(key)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := mask.NewTokenizer(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := pgwire.NewVerifier(extPassword)
	if err != nil {
		t.Fatal(err)
	}
	v, err := pgwire.ParseVerifier(verifier)
	if err != nil {
		t.Fatal(err)
	}
	creds := map[string]pgwire.Credential{}
	for _, r := range o.Roles {
		creds[r] = pgwire.Credential{User: "postgres"}
	}
	srv := &pgwire.Server{
		System: "pss",
		Upstream: pgwire.Upstream{
			Address:     o.Upstream,
			Database:    o.Database,
			SSLMode:     "disable",
			Credentials: creds,
			Meta:        pgwire.Credential{User: "postgres"},
		},
		Users: map[string]pgwire.User{
			"alice": {Name: "alice", Verifier: v, Roles: o.Roles},
		},
		Policy:  &policy.Engine{Policies: policy.NewHolderWith(pol, policy.Options{}, nil), Catalog: cat},
		Catalog: cat,
		Masker:  &mask.Masker{Tokens: tok},
		Index:   idx,
		Events:  &ingest.Pipeline{Store: st, Index: idx},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil && !errors.Is(err, pgwire.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		st.Close()
	})
	return &extGateway{Addr: ln.Addr().String(), DB: o.Database, Server: srv, Store: st}
}

// URL is a libpq connection URL for alice through the gateway.
func (g *extGateway) URL() string {
	return fmt.Sprintf("postgres://alice:%s@%s/%s?sslmode=disable", extPassword, g.Addr, g.DB)
}

// extRecorder records every byte read from a connection.
type extRecorder struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *extRecorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.buf.Write(p[:n])
	r.mu.Unlock()
	return n, err
}

// Received is everything the client has read so far.
func (r *extRecorder) Received() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf.Bytes())
}

// Reset forgets what was read.
func (r *extRecorder) Reset() {
	r.mu.Lock()
	r.buf.Reset()
	r.mu.Unlock()
}

// Connect opens a pgconn connection through the gateway whose every
// received byte is recorded.
func (g *extGateway) Connect(t testing.TB) (*pgconn.PgConn, *extRecorder) {
	t.Helper()
	cfg, err := pgconn.ParseConfig(g.URL())
	if err != nil {
		t.Fatal(err)
	}
	var rec *extRecorder
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		rec = &extRecorder{Conn: c}
		return rec, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect through the gateway: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn, rec
}

// extSecretForms are the forms in which a catalogued value would give
// itself away in a client's bytes: as text, hex (encode(…,'hex'), bytea
// output), base64, and for the phone numbers as a binary int8.
func extSecretForms() map[string][]byte {
	forms := map[string][]byte{}
	for _, p := range extPassengers {
		for _, v := range []string{p.Phone, p.ID18} {
			forms[v] = []byte(v)
			forms["hex of "+v] = []byte(hex.EncodeToString([]byte(v)))
			forms["base64 of "+v] = []byte(base64.StdEncoding.EncodeToString([]byte(v)))
		}
		n, _ := strconv.ParseInt(p.Phone, 10, 64)
		forms["int8 of "+p.Phone] = binary.BigEndian.AppendUint64(nil, uint64(n))
		forms["float8 text of "+p.Phone] = []byte(strconv.FormatFloat(float64(n), 'g', -1, 64))
	}
	return forms
}

// extLeaks lists the secret forms found in b.
func extLeaks(b []byte) []string {
	var found []string
	for name, f := range extSecretForms() {
		if bytes.Contains(b, f) {
			found = append(found, name)
		}
	}
	return found
}

// extAccessEvents returns the access events stored so far.
func (g *extGateway) extAccessEvents(t testing.TB) []custos.StoredAccess {
	t.Helper()
	evs, err := g.Store.AccessSince(context.Background(), 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}
