package pgwire

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/pgsql"
)

func pgErrCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// The catalogued columns come back masked for an agent in every query
// mode pgx has: simple protocol, extended with a cached statement,
// described statements and binary results.
func TestPgxMaskedModes(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{
		pgx.QueryExecModeSimpleProtocol,
		pgx.QueryExecModeExec,
		pgx.QueryExecModeCacheStatement,
		pgx.QueryExecModeCacheDescribe,
		pgx.QueryExecModeDescribeExec,
	} {
		t.Run(mode.String(), func(t *testing.T) {
			c := g.connect("alice", "")
			rows, err := c.Query(ctx, "SELECT id_number, phone, seat FROM passengers WHERE pid <= $1 ORDER BY pid", mode, 3)
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			for rows.Next() {
				var id, phone, seat string
				if err := rows.Scan(&id, &phone, &seat); err != nil {
					t.Fatal(err)
				}
				p := passengers[i]
				if want := mask.Partial(custos.TypeCNID, p.id); id != want {
					t.Errorf("row %d id_number = %q, want %q", i, id, want)
				}
				if want := mask.Partial(custos.TypeCNMobile, p.phone); phone != want {
					t.Errorf("row %d phone = %q, want %q", i, phone, want)
				}
				if seat == "" {
					t.Errorf("row %d: seat empty", i)
				}
				i++
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if i != 3 {
				t.Fatalf("got %d rows, want 3", i)
			}
		})
	}
}

// Expressions, views, casts and aggregates over masked columns have no
// provenance and are masked by content.
func TestPgxExpressionsMaskedByContent(t *testing.T) {
	g := newGateway(t, gwOptions{})
	c := g.connect("alice", "")
	ctx := context.Background()
	p := passengers[0]
	for _, q := range []string{
		"SELECT phone || '' FROM passengers WHERE pid = 1",
		"SELECT upper(phone) FROM passengers WHERE pid = 1",
		"SELECT phone::varchar(20) FROM passengers WHERE pid = 1",
		"SELECT 'tel:' || phone || ' id:' || id_number FROM passengers WHERE pid = 1",
		"SELECT phone FROM passenger_contacts WHERE name = '张三明'",
		"SELECT row_to_json(p)::text FROM passengers p WHERE pid = 1",
		"SELECT string_agg(phone, ',') FROM passengers WHERE pid = 1",
		"WITH x AS (SELECT phone FROM passengers) SELECT phone FROM x LIMIT 1",
		"SELECT array_agg(phone)::text FROM passengers WHERE pid = 1",
	} {
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
			var got string
			if err := c.QueryRow(ctx, q, mode).Scan(&got); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if strings.Contains(got, p.phone) || strings.Contains(got, p.id) {
				t.Errorf("%s (%v): unmasked value leaked: %q", q, mode, got)
			}
			if !strings.Contains(got, "138****5678") {
				t.Errorf("%s (%v) = %q, want the masked phone in it", q, mode, got)
			}
		}
	}
}

// An investigator with the right purpose sees clear values; the purpose
// comes from the startup options, SET custos.purpose or a comment.
func TestPurposeUnmasks(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx := context.Background()
	clear := passengers[0].phone
	q := "SELECT phone FROM passengers WHERE pid = 1"

	c := g.connect("ivan", "")
	var got string
	if err := c.QueryRow(ctx, q).Scan(&got); err != nil || got != "138****5678" {
		t.Fatalf("without a purpose: got %q, err %v; want the default mask", got, err)
	}

	c = g.connect("ivan", "options=-c%20custos.purpose%3Dinvestigation%20-c%20custos.ticket%3DINC-7")
	if err := c.QueryRow(ctx, q).Scan(&got); err != nil || got != clear {
		t.Fatalf("startup purpose: got %q, %v", got, err)
	}

	c = g.connect("ivan", "")
	if _, err := c.Exec(ctx, "SET custos.purpose = 'investigation'"); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(ctx, q).Scan(&got); err != nil || got != clear {
		t.Fatalf("SET purpose: got %q, %v", got, err)
	}

	c = g.connect("ivan", "")
	if err := c.QueryRow(ctx, "/* custos_purpose='investigation',custos_ticket='INC-9' */ "+q).Scan(&got); err != nil || got != clear {
		t.Fatalf("comment purpose: got %q, %v", got, err)
	}

	evs := g.accesses("ivan")
	var tickets []string
	for _, e := range evs {
		tickets = append(tickets, e.Purpose.Name+"/"+e.Purpose.Ticket)
	}
	joined := strings.Join(tickets, " ")
	if !strings.Contains(joined, "investigation/INC-7") || !strings.Contains(joined, "investigation/INC-9") {
		t.Errorf("event purposes = %v", tickets)
	}
}

func TestDenyAndEvents(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx := context.Background()
	c := g.connect("carl", "")
	_, err := c.Exec(ctx, "SELECT phone FROM passengers")
	if pgErrCode(err) != "42501" || !strings.Contains(err.Error(), "contractors-denied") {
		t.Fatalf("contractor: err = %v, want 42501 naming the rule", err)
	}
	// The connection still works after a refusal.
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM notes").Scan(&n); err != nil {
		t.Fatal(err)
	}

	a := g.connect("alice", "")
	rows, _ := a.Query(ctx, "SELECT id_number, phone FROM passengers ORDER BY pid")
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ ID, Phone string }])
	if err != nil || len(got) != len(passengers) {
		t.Fatalf("alice: %d rows, %v", len(got), err)
	}
	evs := g.accesses("alice")
	if len(evs) == 0 {
		t.Fatal("no access event stored")
	}
	e := evs[len(evs)-1]
	if e.Records != int64(len(passengers)) || e.Decision != custos.DecisionMask || e.Resource.Object != "public.passengers" || e.Resource.Fingerprint == "" {
		t.Errorf("event = %+v", e.AccessEvent)
	}
	if len(e.Subjects) != len(passengers) {
		t.Fatalf("event has %d subjects, want %d", len(e.Subjects), len(passengers))
	}
	want, _ := g.index.Hash(custos.TypeCNID, passengers[0].id)
	found := false
	for _, s := range e.Subjects {
		if s.Value != "" {
			t.Errorf("stored subject carries a raw value")
		}
		found = found || s.Hash == want
	}
	if !found {
		t.Errorf("subject hash of passenger 0 not in the event")
	}
	hist, err := g.store.SubjectAccesses(ctx, custos.TypeCNID, want, custos.Query{})
	if err != nil || len(hist) == 0 {
		t.Errorf("subject history: %d, %v", len(hist), err)
	}
	carl := g.accesses("carl")
	if len(carl) == 0 || carl[0].Decision != custos.DecisionDeny {
		t.Errorf("carl's refusal not recorded: %+v", carl)
	}
}

// A record limit stops the result with an error after the allowed rows.
func TestLimitStopsWithError(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx := context.Background()
	c := g.connect("lim", "")
	rows, err := c.Query(ctx, "SELECT phone FROM passengers ORDER BY pid")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	err = rows.Err()
	if n != 5 || pgErrCode(err) != "54000" {
		t.Fatalf("got %d rows and %v; want 5 rows then 54000", n, err)
	}
}

// A quota on distinct subjects releases the allowed rows, then refuses.
func TestQuotaCountsDistinctSubjects(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx := context.Background()
	c := g.connect("quinn", "")
	// The same two passengers twice: two subjects.
	for range 2 {
		rows, _ := c.Query(ctx, "SELECT id_number FROM passengers WHERE pid <= 2")
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil || n != 2 {
			t.Fatalf("within quota: %d rows, %v", n, err)
		}
	}
	rows, _ := c.Query(ctx, "SELECT id_number FROM passengers ORDER BY pid")
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); pgErrCode(err) != "42501" || n != 3 {
		t.Fatalf("over quota: %d rows, %v; want 3 rows then 42501", n, err)
	}
}

func TestCopy(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx := context.Background()
	c := g.connect("alice", "")
	n, err := c.CopyFrom(ctx, pgx.Identifier{"notes"}, []string{"id", "body"}, pgx.CopyFromRows([][]any{{1, "call 13812345678"}, {2, "nothing"}}))
	if err != nil || n != 2 {
		t.Fatalf("copy from: %d, %v", n, err)
	}
	var buf strings.Builder
	tag, err := c.PgConn().CopyTo(ctx, &buf, "COPY (SELECT id, body FROM notes ORDER BY id) TO STDOUT")
	if err != nil || tag.RowsAffected() != 2 {
		t.Fatalf("copy to: %v %v", tag, err)
	}
	if strings.Contains(buf.String(), "13812345678") || !strings.Contains(buf.String(), "138****5678") {
		t.Errorf("COPY TO output not masked: %q", buf.String())
	}
}

func TestCancel(t *testing.T) {
	g := newGateway(t, gwOptions{})
	c := g.connect("alice", "")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Exec(ctx, "SELECT pg_sleep(20)")
	if err == nil {
		t.Fatal("pg_sleep was not cancelled")
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("cancel took %v", time.Since(start))
	}
}

func TestTLS(t *testing.T) {
	g := newGateway(t, gwOptions{tls: true, requireTLS: true})
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(g.url("alice", ""))
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSConfig = g.tls
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var phone string
	if err := c.QueryRow(ctx, "SELECT phone FROM passengers WHERE pid = 1").Scan(&phone); err != nil || phone != "138****5678" {
		t.Fatalf("over TLS: %q %v", phone, err)
	}
	if !c.PgConn().Conn().(interface{ ConnectionState() tls.ConnectionState }).ConnectionState().HandshakeComplete {
		t.Error("not TLS")
	}
	// Without TLS the gateway refuses.
	plain := strings.Replace(g.url("alice", ""), "sslmode=require", "sslmode=disable", 1)
	if _, err := pgx.Connect(ctx, plain); err == nil {
		t.Error("plain connection accepted with require_tls")
	}
}

func TestBadPassword(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx := context.Background()
	u := strings.Replace(g.url("alice", ""), "alice-secret", "wrong", 1)
	_, err := pgx.Connect(ctx, u)
	if pgErrCode(err) != "28P01" {
		t.Fatalf("wrong password: %v", err)
	}
	u = strings.Replace(g.url("alice", ""), "alice:alice-secret", "nobody:x", 1)
	if _, err := pgx.Connect(ctx, u); pgErrCode(err) != "28P01" {
		t.Fatalf("unknown user: %v", err)
	}
}

// A service account names its end user in a signed comment; the event is
// the end user's, and a bad signature is refused.
func TestSignedEndUser(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx := context.Background()
	c := g.connect("svc", "")
	ts := time.Now()
	sig := pgsql.SignEndUser([]byte(testAppKey), "bob", "refund", "T-1", ts)
	comment := fmt.Sprintf("/* custos_purpose='refund',custos_sig='%s',custos_ticket='T-1',custos_ts='%d',custos_user='bob' */", sig, ts.Unix())
	var phone string
	if err := c.QueryRow(ctx, "SELECT phone FROM passengers WHERE pid = 1 "+comment).Scan(&phone); err != nil || phone != "138****5678" {
		t.Fatalf("signed: %q %v", phone, err)
	}
	evs := g.accesses("bob")
	if len(evs) != 1 || evs[0].Actor.Attributes["service_account"] != "svc" || evs[0].Purpose.Ticket != "T-1" {
		t.Fatalf("bob's events: %+v", evs)
	}
	bad := strings.Replace(comment, "custos_user='bob'", "custos_user='eve'", 1)
	if _, err := c.Exec(ctx, "SELECT phone FROM passengers WHERE pid = 1 "+bad); pgErrCode(err) != "42501" {
		t.Fatalf("forged attribution: %v", err)
	}
	// An account without an application key cannot claim an end user.
	a := g.connect("alice", "")
	if _, err := a.Exec(ctx, "SELECT phone FROM passengers WHERE pid = 1 "+comment); pgErrCode(err) != "42501" {
		t.Fatalf("claim without key: %v", err)
	}
}

// A count(*) probe over a catalogued table returns no personal value but
// is decided and recorded: the contractor is refused.
func TestProbeDecided(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx := context.Background()
	var n int
	err := g.connect("carl", "").QueryRow(ctx, "SELECT count(*) FROM passengers WHERE phone LIKE '138%'").Scan(&n)
	if pgErrCode(err) != "42501" {
		t.Fatalf("contractor probe: %d, %v", n, err)
	}
	if err := g.connect("alice", "").QueryRow(ctx, "SELECT count(*) FROM passengers WHERE phone LIKE '138%'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("agent probe: %d, %v", n, err)
	}
	if evs := g.accesses("alice"); len(evs) != 1 || evs[0].Resource.Object != "public.passengers" {
		t.Fatalf("probe events: %+v", evs)
	}
}
