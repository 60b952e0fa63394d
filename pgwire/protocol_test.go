package pgwire

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// rawConn logs in through the gateway with pgconn and takes over the
// socket, to speak the protocol by hand.
func (g *gw) rawConn(t *testing.T, user string) *pgconn.HijackedConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pc, err := pgconn.Connect(ctx, g.url(user, ""))
	if err != nil {
		t.Fatal(err)
	}
	hj, err := pc.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hj.Conn.Close() })
	hj.Conn.SetDeadline(time.Now().Add(10 * time.Second))
	return hj
}

// receiveUntil reads backend messages until one of type T or an error.
func receiveAll(t *testing.T, fe *pgproto3.Frontend, stop func(pgproto3.BackendMessage) bool) []pgproto3.BackendMessage {
	t.Helper()
	var out []pgproto3.BackendMessage
	for {
		m, err := fe.Receive()
		if err != nil {
			return out
		}
		switch m := m.(type) {
		case *pgproto3.ErrorResponse:
			c := *m
			out = append(out, &c)
		default:
			out = append(out, m)
		}
		if stop(m) {
			return out
		}
	}
}

func TestMalformedMessages(t *testing.T) {
	g := newGateway(t, gwOptions{})
	cases := map[string][]byte{
		"unknown type":   {'!', 0, 0, 0, 4},
		"short length":   {'Q', 0, 0, 0, 2},
		"bad bind":       {'B', 0, 0, 0, 6, 0, 0},
		"huge length":    binary.BigEndian.AppendUint32([]byte{'Q'}, 1<<30),
		"parse no nul":   {'P', 0, 0, 0, 7, 'a', 'b', 'c'},
		"describe kind?": {'D', 0, 0, 0, 6, 'X', 0},
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			hj := g.rawConn(t, "alice")
			if _, err := hj.Conn.Write(msg); err != nil {
				t.Fatal(err)
			}
			msgs := receiveAll(t, hj.Frontend, func(pgproto3.BackendMessage) bool { return false })
			var code string
			for _, m := range msgs {
				if e, ok := m.(*pgproto3.ErrorResponse); ok {
					code = e.Code
				}
			}
			if code != "08P01" {
				t.Errorf("got %d messages, error code %q; want 08P01 and the connection closed", len(msgs), code)
			}
		})
	}
	// The gateway still serves everyone else.
	c := g.connect("alice", "")
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM passengers").Scan(&n); err != nil || n != len(passengers) {
		t.Fatalf("after malformed clients: %d, %v", n, err)
	}
}

func TestFunctionCallRefused(t *testing.T) {
	g := newGateway(t, gwOptions{})
	hj := g.rawConn(t, "alice")
	hj.Frontend.Send(&pgproto3.FunctionCall{Function: 2619, ResultFormatCode: 0}) // pg_read_file
	if err := hj.Frontend.Flush(); err != nil {
		t.Fatal(err)
	}
	msgs := receiveAll(t, hj.Frontend, func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.ReadyForQuery); return ok })
	if len(msgs) != 2 {
		t.Fatalf("got %d messages: %#v", len(msgs), msgs)
	}
	if e, ok := msgs[0].(*pgproto3.ErrorResponse); !ok || e.Code != "42501" {
		t.Fatalf("first message %#v, want 42501", msgs[0])
	}
}

// Pipelined extended queries: named and unnamed statements, several
// portals before one Sync, and a blocked statement in the middle that
// fails that pipeline up to its Sync only.
func TestPipeline(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pc, err := pgconn.Connect(ctx, g.url("alice", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	p := pc.StartPipeline(ctx)
	p.SendPrepare("byid", "SELECT phone FROM passengers WHERE pid = $1", nil)
	p.SendQueryPrepared("byid", [][]byte{[]byte("1")}, nil, nil)
	p.SendQueryParams("SELECT name FROM passengers WHERE pid = $1", [][]byte{[]byte("2")}, nil, nil, nil)
	p.SendQueryPrepared("byid", [][]byte{[]byte("3")}, nil, nil)
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		r, err := p.GetResults()
		if err != nil {
			t.Fatal(err)
		}
		if r == nil {
			break
		}
		switch r := r.(type) {
		case *pgconn.ResultReader:
			res := r.Read()
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			for _, row := range res.Rows {
				got = append(got, string(row[0]))
			}
		case *pgconn.PipelineSync:
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"138****5678", "李*", "150****5678"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("pipeline rows = %v, want %v", got, want)
	}
}

// A phone number cast to bigint comes back in binary format to pgx: NULL
// when lineage shows it derives from the masked column, else (through a
// view, content only) with its masked digits as zeros.
func TestBinaryIntegerMasked(t *testing.T) {
	g := newGateway(t, gwOptions{})
	c := g.connect("alice", "")
	var derived *int64
	err := c.QueryRow(context.Background(), "SELECT phone::bigint FROM passengers WHERE pid = 1", pgx.QueryResultFormats{pgx.BinaryFormatCode}).Scan(&derived)
	if err != nil {
		t.Fatal(err)
	}
	if derived != nil {
		t.Errorf("binary bigint phone = %d, want NULL", *derived)
	}
	// Through a view: the view's lineage makes it derived as well.
	var n *int64
	err = c.QueryRow(context.Background(), "SELECT phone::bigint FROM passenger_contacts WHERE name = '张三明'", pgx.QueryResultFormats{pgx.BinaryFormatCode}).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != nil {
		t.Errorf("binary bigint phone through a view = %d, want NULL", *n)
	}
	// A binary integer masked by content keeps its type, masked digits
	// read as zeros (a column without lineage: a VALUES list).
	var m int64
	err = c.QueryRow(context.Background(), "SELECT v::bigint FROM (VALUES ('13812345678')) t(v)", pgx.QueryResultFormats{pgx.BinaryFormatCode}).Scan(&m)
	if err != nil {
		t.Fatal(err)
	}
	if m != 13800005678 {
		t.Errorf("binary bigint phone by content = %d, want 13800005678", m)
	}
	var s []string
	err = c.QueryRow(context.Background(), "SELECT array_agg(phone) FROM passengers WHERE pid <= 2", pgx.QueryResultFormats{pgx.BinaryFormatCode}).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(s, ","), "13812345678") {
		t.Errorf("binary array leaked: %v", s)
	}
}
