package pgwire_test

// The bypass suite (docs/pgsql.md, "Masking bypasses"): every known way of
// getting a masked column's value out through the gateway is a case, run
// against a real PostgreSQL through a real gateway, and every case asserts
// that no catalogued value, in any encoding we know, appears in any byte
// the client receives — rows, errors, notices, notifications, COPY data.
//
// The harness at the bottom of this file (ext*) is shared with
// fault_test.go and clients_test.go: a fresh database on the local
// PostgreSQL seeded with passengers whose phone and ID numbers are
// catalogued, a gateway in front of it with a masking policy and a real
// event store, and a client that records every byte the gateway sends.

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/pgwire"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/store/sqlite"
)

// bypassOutcome is what a case must end in, besides leaking nothing.
type bypassOutcome int

const (
	// outcomeMasked: the statement runs and the client sees masked values
	// ("****").
	outcomeMasked bypassOutcome = iota
	// outcomeBlocked: the gateway refuses with SQLSTATE 42501.
	outcomeBlocked
	// outcomeError: the statement fails (the server's error, scrubbed).
	outcomeError
	// outcomeAny: only "leaks nothing" is asserted.
	outcomeAny
	// outcomeNull: the statement runs and the values derived from a
	// masked column arrive as NULL (asserted by TestDerivedValues; here
	// only that it runs and leaks nothing).
	outcomeNull
)

type bypassCase struct {
	name string
	// sql runs as one simple-protocol query; run, when set, instead.
	sql  string
	run  func(ctx context.Context, c *pgconn.PgConn) error
	want bypassOutcome
	// forms are further byte strings that must not appear (derived forms
	// the generic list does not know, such as a reversed value).
	forms []string
	// gap, when set, names a known gap in the gateway: a leak skips the
	// case with this text instead of failing it (docs/pgsql.md lists them).
	gap string
}

// bypassSimple runs sql with the simple protocol and returns the first error.
func bypassSimple(ctx context.Context, c *pgconn.PgConn, sql string) error {
	results, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		return err
	}
	for _, r := range results {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

func bypassCases() []bypassCase {
	p1 := extPassengers[0]
	reversed := func(s string) string {
		b := []byte(s)
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return string(b)
	}
	return []bypassCase{
		// The baseline: catalogued columns by provenance.
		{name: "plain columns", sql: "SELECT id, name, phone, id_number FROM passengers"},
		{name: "qualified and aliased", sql: "SELECT p.phone AS x, p.id_number AS y FROM public.passengers p"},

		// Expressions and functions over a masked column: no provenance,
		// closed by content inspection.
		{name: "concatenation", sql: "SELECT phone || '' FROM passengers"},
		{name: "concatenation with text", sql: "SELECT 'tel:' || phone || ';' FROM passengers"},
		{name: "upper", sql: "SELECT upper(phone), upper(id_number) FROM passengers"},
		{name: "lower of id", sql: "SELECT lower(id_number) FROM passengers"},
		{name: "substr whole", sql: "SELECT substr(phone, 1, 11), substring(id_number from 1) FROM passengers"},
		{name: "concat", sql: "SELECT concat(phone, ''), concat_ws(',', name, phone) FROM passengers"},
		{name: "format", sql: "SELECT format('%s / %s', phone, id_number) FROM passengers"},
		{name: "coalesce and case", sql: "SELECT coalesce(phone, ''), CASE WHEN id > 0 THEN id_number END FROM passengers"},
		{name: "cast text", sql: "SELECT phone::text, id_number::varchar FROM passengers"},
		{name: "cast char(20)", sql: "SELECT phone::char(20), id_number::char(30) FROM passengers"},
		// Numbers derived from a masked column: NULL (lineage), whatever
		// the detectors see in them.
		{name: "cast bigint", sql: "SELECT phone::bigint FROM passengers", want: outcomeNull},
		{name: "cast numeric", sql: "SELECT phone::numeric FROM passengers", want: outcomeNull},
		{name: "arithmetic on the number", sql: "SELECT phone::bigint + 0 FROM passengers", want: outcomeNull},
		{name: "hex encoding", sql: "SELECT encode(phone::bytea, 'hex') FROM passengers", want: outcomeAny},
		{name: "base64 encoding", sql: "SELECT encode(id_number::bytea, 'base64') FROM passengers", want: outcomeAny},
		{name: "bytea output", sql: "SELECT phone::bytea FROM passengers", want: outcomeAny},
		{name: "reverse", sql: "SELECT reverse(phone) FROM passengers", want: outcomeAny,
			forms: []string{reversed(p1.Phone)}},
		{name: "whole row re-encoded", sql: "SELECT encode(textsend(p), 'hex') FROM passengers p", want: outcomeAny},
		{name: "translated digits", sql: "SELECT translate(phone, '0123456789', 'abcdefghij') FROM passengers", want: outcomeAny,
			forms: []string{strings.Map(func(r rune) rune { return r - '0' + 'a' }, p1.Phone)}},
		{name: "hash of the value", sql: "SELECT md5(phone) FROM passengers", want: outcomeAny,
			forms: []string{fmt.Sprintf("%x", md5.Sum([]byte(p1.Phone)))}},
		{name: "arithmetic beyond detection", sql: "SELECT phone::bigint * 2 FROM passengers", want: outcomeNull,
			forms: []string{strconv.FormatInt(2*bypassInt(p1.Phone), 10)}},
		{name: "digits as integer columns", sql: "SELECT " + bypassDigitColumns("phone", len(p1.Phone)) + " FROM passengers", want: outcomeNull,
			forms: []string{bypassDigitRow(p1.Phone)}},
		{name: "digits of the ID as integers", sql: "SELECT " + bypassDigitColumns("id_number", 17) + " FROM passengers", want: outcomeNull,
			forms: []string{bypassDigitRow(p1.ID18[:17])}},
		{name: "a slice as an integer", sql: "SELECT substr(phone, 4, 4)::int, substr(phone, 8)::int FROM passengers", want: outcomeNull,
			forms: []string{bypassCell(p1.Phone[3:7]), bypassCell(p1.Phone[7:])}},
		{name: "numeric division", sql: "SELECT phone::numeric / 7, substr(id_number, 1, 17)::numeric(30,0) FROM passengers", want: outcomeNull},
		{name: "float", sql: "SELECT phone::float8, substr(id_number, 1, 17)::float8 FROM passengers", want: outcomeNull},
		{name: "length", sql: "SELECT length(phone), octet_length(id_number) FROM passengers", want: outcomeNull},
		{name: "birth date from the ID", sql: "SELECT to_date(substr(id_number, 7, 8), 'YYYYMMDD') FROM passengers", want: outcomeNull,
			forms: []string{p1.ID18[6:10] + "-" + p1.ID18[10:12] + "-" + p1.ID18[12:14]}},
		{name: "digit as boolean", sql: "SELECT substr(phone, 4, 1) = '1', phone LIKE '1381%' FROM passengers", want: outcomeNull},
		{name: "json of a re-encoded value", sql: "SELECT to_json(reverse(phone)), jsonb_build_object('r', reverse(id_number)) FROM passengers", want: outcomeNull,
			forms: []string{reversed(p1.Phone), reversed(p1.ID18)}},
		{name: "array of numbers", sql: "SELECT ARRAY[phone::bigint * 3] FROM passengers", want: outcomeNull,
			forms: []string{strconv.FormatInt(3*bypassInt(p1.Phone), 10)}},
		{name: "number through a cursor", sql: "BEGIN; DECLARE c CURSOR FOR SELECT phone::bigint * 2 FROM passengers; FETCH ALL FROM c; COMMIT", want: outcomeNull,
			forms: []string{strconv.FormatInt(2*bypassInt(p1.Phone), 10)}},
		{name: "number through SQL PREPARE", sql: "PREPARE qn AS SELECT phone::bigint * 5 FROM passengers; EXECUTE qn", want: outcomeNull,
			forms: []string{strconv.FormatInt(5*bypassInt(p1.Phone), 10)}},
		{name: "number in the extended protocol, binary", run: func(ctx context.Context, c *pgconn.PgConn) error {
			return c.ExecParams(ctx, "SELECT phone::bigint * 2 FROM passengers WHERE id = $1", [][]byte{[]byte("1")}, nil, nil, []int16{1}).Read().Err
		}, want: outcomeNull, forms: []string{string(binary.BigEndian.AppendUint64(nil, uint64(2*bypassInt(p1.Phone))))}},
		{name: "aggregates of the number", sql: "SELECT sum(phone::bigint), max(substr(phone, 4, 4)::int), avg(phone::numeric) FROM passengers WHERE id = 1", want: outcomeNull,
			forms: []string{bypassCell(p1.Phone[3:7])}},
		{name: "CASE over a digit", sql: "SELECT CASE WHEN substr(phone, 4, 1) = '1' THEN 1 ELSE 0 END FROM passengers", want: outcomeNull},
		{name: "RETURNING arithmetic", sql: "UPDATE passengers SET name = name WHERE id = 1 RETURNING phone::bigint * 2", want: outcomeNull,
			forms: []string{strconv.FormatInt(2*bypassInt(p1.Phone), 10)}},
		{name: "number in a derived table", sql: "SELECT v * 2 FROM (SELECT phone::bigint AS v FROM passengers) q", want: outcomeNull,
			forms: []string{strconv.FormatInt(2*bypassInt(p1.Phone), 10)}},
		{name: "masked and re-encoded in one value", sql: "SELECT phone || ' ' || reverse(phone) FROM passengers",
			forms: []string{reversed(p1.Phone)}},
		{name: "masked and re-encoded next to a constant", sql: "SELECT 'x' || id_number || '/' || encode(phone::bytea, 'base64') FROM passengers"},
		{name: "split into fragments", sql: "SELECT substr(phone, 1, 6) || '-' || substr(phone, 7) FROM passengers", want: outcomeAny,
			forms: []string{p1.Phone[:6] + "-" + p1.Phone[6:]}},

		// JSON, aggregates and arrays.
		{name: "row_to_json", sql: "SELECT row_to_json(p) FROM passengers p"},
		{name: "to_json", sql: "SELECT to_json(phone), to_jsonb(id_number) FROM passengers"},
		{name: "json_build_object", sql: "SELECT json_build_object('p', phone, 'i', id_number) FROM passengers"},
		{name: "jsonb_agg", sql: "SELECT jsonb_agg(p) FROM passengers p"},
		{name: "json_agg of column", sql: "SELECT json_agg(phone) FROM passengers"},
		{name: "string_agg", sql: "SELECT string_agg(phone, ',') FROM passengers"},
		{name: "string_agg without separator", sql: "SELECT string_agg(phone, '') FROM passengers", want: outcomeAny},
		{name: "array_agg", sql: "SELECT array_agg(phone) FROM passengers"},
		{name: "ARRAY constructor", sql: "SELECT ARRAY[phone, id_number] FROM passengers"},
		{name: "array_to_string", sql: "SELECT array_to_string(array_agg(id_number), ';') FROM passengers"},
		{name: "row constructor", sql: "SELECT ROW(phone, id_number) FROM passengers"},
		{name: "xml", sql: "SELECT xmlelement(name p, phone) FROM passengers"},

		// Relations in the statement: CTEs, subqueries, views, functions.
		{name: "CTE", sql: "WITH x AS (SELECT phone, id_number FROM passengers) SELECT phone, id_number FROM x"},
		{name: "scalar subquery", sql: "SELECT (SELECT phone FROM passengers WHERE id = 1)"},
		{name: "derived table", sql: "SELECT q.v FROM (SELECT phone AS v FROM passengers) q"},
		{name: "union", sql: "SELECT phone FROM passengers UNION ALL SELECT code FROM flights"},
		{name: "lateral", sql: "SELECT x.v FROM passengers p, LATERAL (SELECT p.id_number AS v) x"},
		{name: "view", sql: "SELECT id, phone, id_number FROM passenger_contacts"},
		{name: "view with star and limit", sql: "SELECT * FROM passenger_contacts LIMIT 10"},
		{name: "set-returning function", sql: "SELECT * FROM passenger_phones()"},

		// Views whose columns are derived from masked columns: the
		// lineage of the view's definition (pgwire/views.go).
		{name: "view of reverse", sql: "SELECT p FROM v_rev", want: outcomeAny, forms: []string{reversed(p1.Phone)}},
		{name: "view of hex", sql: "SELECT id, h FROM v_rev", want: outcomeAny},
		{name: "view of arithmetic", sql: "SELECT n, m FROM v_num", want: outcomeNull,
			forms: []string{strconv.FormatInt(2*bypassInt(p1.Phone), 10)}},
		{name: "view of concatenations", sql: "SELECT c, rc FROM v_concat", want: outcomeAny, forms: []string{reversed(p1.Phone)}},
		{name: "expression over a view column", sql: "SELECT reverse(tel), p || '' FROM v_pass JOIN v_rev USING (id)", want: outcomeAny,
			forms: []string{reversed(p1.Phone)}},
		{name: "arithmetic over a view column", sql: "SELECT tel::bigint * 3, n + 1 FROM v_pass JOIN v_num USING (id)", want: outcomeNull,
			forms: []string{strconv.FormatInt(3*bypassInt(p1.Phone), 10), strconv.FormatInt(2*bypassInt(p1.Phone)+1, 10)}},
		{name: "nested views", sql: "SELECT pp, half FROM v_nested", want: outcomeNull, forms: []string{reversed(p1.Phone)}},
		{name: "view star", sql: "SELECT * FROM v_nested LIMIT 5", want: outcomeNull, forms: []string{reversed(p1.Phone)}},
		{name: "view with a union", sql: "SELECT u FROM v_union", want: outcomeAny, forms: []string{reversed(p1.Phone)}},
		{name: "view passing columns through", sql: "SELECT tel, doc FROM v_pass"},
		{name: "nested view passing a column through", sql: "SELECT tel FROM v_pass2"},
		{name: "materialized view", sql: "SELECT p, n FROM mv_rev", want: outcomeNull, forms: []string{reversed(p1.Phone)}},
		{name: "view in binary format", run: func(ctx context.Context, c *pgconn.PgConn) error {
			return c.ExecParams(ctx, "SELECT n, p FROM v_num JOIN v_rev USING (id)", nil, nil, nil, []int16{1, 1}).Read().Err
		}, want: outcomeNull, forms: []string{string(binary.BigEndian.AppendUint64(nil, uint64(2*bypassInt(p1.Phone)))), reversed(p1.Phone)}},
		{name: "RETURNING", sql: "UPDATE passengers SET name = name WHERE id = 1 RETURNING phone, id_number"},

		// New relations that copy data: blocked.
		{name: "CREATE TABLE AS", sql: "CREATE TABLE leak AS SELECT phone FROM passengers", want: outcomeBlocked},
		{name: "SELECT INTO", sql: "SELECT phone INTO leak FROM passengers", want: outcomeBlocked},
		{name: "temp table as", sql: "CREATE TEMP TABLE leak AS SELECT phone FROM passengers", want: outcomeBlocked},
		{name: "temp table then insert", sql: "CREATE TEMP TABLE leak (v text); INSERT INTO leak SELECT phone FROM passengers; SELECT v FROM leak", want: outcomeBlocked},
		{name: "view creation", sql: "CREATE VIEW leak AS SELECT phone FROM passengers", want: outcomeBlocked},
		{name: "materialized view", sql: "CREATE MATERIALIZED VIEW leak AS SELECT phone FROM passengers", want: outcomeBlocked},
		{name: "unbounded SELECT *", sql: "SELECT * FROM passengers", want: outcomeBlocked},
		{name: "DO block", sql: "DO $$ BEGIN CREATE TEMP TABLE leak AS SELECT phone FROM passengers; END $$", want: outcomeBlocked},
		{name: "SET ROLE", sql: "SET ROLE postgres", want: outcomeBlocked},

		// Protocol paths.
		{name: "prepared statement", run: func(ctx context.Context, c *pgconn.PgConn) error {
			if _, err := c.Prepare(ctx, "byp", "SELECT phone, id_number FROM passengers WHERE id = $1", nil); err != nil {
				return err
			}
			return c.ExecPrepared(ctx, "byp", [][]byte{[]byte("1")}, nil, nil).Read().Err
		}},
		{name: "prepared expression", run: func(ctx context.Context, c *pgconn.PgConn) error {
			if _, err := c.Prepare(ctx, "byp2", "SELECT phone || $1 FROM passengers", nil); err != nil {
				return err
			}
			return c.ExecPrepared(ctx, "byp2", [][]byte{[]byte("")}, nil, nil).Read().Err
		}},
		{name: "SQL PREPARE and EXECUTE", sql: "PREPARE q AS SELECT phone || '' FROM passengers; EXECUTE q"},
		{name: "extended unnamed", run: func(ctx context.Context, c *pgconn.PgConn) error {
			return c.ExecParams(ctx, "SELECT phone, upper(id_number) FROM passengers", nil, nil, nil, nil).Read().Err
		}},
		{name: "binary text column", run: func(ctx context.Context, c *pgconn.PgConn) error {
			return c.ExecParams(ctx, "SELECT phone, id_number FROM passengers", nil, nil, nil, []int16{1, 1}).Read().Err
		}},
		{name: "binary int8", run: func(ctx context.Context, c *pgconn.PgConn) error {
			return c.ExecParams(ctx, "SELECT phone::bigint FROM passengers", nil, nil, nil, []int16{1}).Read().Err
		}, want: outcomeAny},
		{name: "binary bytea", run: func(ctx context.Context, c *pgconn.PgConn) error {
			return c.ExecParams(ctx, "SELECT phone::bytea FROM passengers", nil, nil, nil, []int16{1}).Read().Err
		}, want: outcomeAny},
		{name: "binary json", run: func(ctx context.Context, c *pgconn.PgConn) error {
			return c.ExecParams(ctx, "SELECT to_jsonb(p) FROM passengers p", nil, nil, nil, []int16{1}).Read().Err
		}, want: outcomeAny},
		{name: "binary array", run: func(ctx context.Context, c *pgconn.PgConn) error {
			return c.ExecParams(ctx, "SELECT array_agg(phone) FROM passengers", nil, nil, nil, []int16{1}).Read().Err
		}, want: outcomeAny},
		{name: "portal suspended by row count", run: bypassPortal},
		{name: "cursor", sql: "BEGIN; DECLARE c CURSOR FOR SELECT phone, id_number FROM passengers; FETCH 2 FROM c; FETCH ALL FROM c; COMMIT"},
		{name: "cursor over expression", sql: "BEGIN; DECLARE c CURSOR FOR SELECT phone || '' FROM passengers; FETCH ALL FROM c; COMMIT"},
		{name: "binary cursor", sql: "BEGIN; DECLARE c BINARY CURSOR FOR SELECT phone FROM passengers; FETCH ALL FROM c; COMMIT", want: outcomeAny},

		// COPY.
		{name: "COPY table TO STDOUT", run: func(ctx context.Context, c *pgconn.PgConn) error {
			_, err := c.CopyTo(ctx, io.Discard, "COPY passengers TO STDOUT")
			return err
		}, want: outcomeBlocked},
		{name: "COPY query TO STDOUT", run: func(ctx context.Context, c *pgconn.PgConn) error {
			_, err := c.CopyTo(ctx, io.Discard, "COPY (SELECT phone || '' FROM passengers) TO STDOUT")
			return err
		}, want: outcomeBlocked},
		{name: "COPY view TO STDOUT", run: func(ctx context.Context, c *pgconn.PgConn) error {
			_, err := c.CopyTo(ctx, io.Discard, "COPY (SELECT * FROM passenger_contacts) TO STDOUT")
			return err
		}, want: outcomeAny},
		{name: "COPY binary", run: func(ctx context.Context, c *pgconn.PgConn) error {
			_, err := c.CopyTo(ctx, io.Discard, "COPY (SELECT phone FROM passenger_contacts) TO STDOUT (FORMAT binary)")
			return err
		}, want: outcomeAny},

		// NOTIFY payloads.
		{name: "pg_notify payload", run: func(ctx context.Context, c *pgconn.PgConn) error {
			if err := bypassSimple(ctx, c, "LISTEN byp"); err != nil {
				return err
			}
			if err := bypassSimple(ctx, c, "SELECT pg_notify('byp', phone) FROM passengers WHERE id = 1"); err != nil {
				return err
			}
			return bypassSimple(ctx, c, "SELECT 1") // the notification arrives with this at the latest
		}, want: outcomeAny},

		// Errors that carry values.
		{name: "cast error", sql: "SELECT phone::int FROM passengers", want: outcomeError},
		{name: "cast error on id", sql: "SELECT id_number::bigint FROM passengers", want: outcomeError},
		{name: "date cast error", sql: "SELECT phone::date FROM passengers", want: outcomeError},
		{name: "unique violation detail", sql: "INSERT INTO passengers SELECT id + 100, name, phone, id_number FROM passengers", want: outcomeError},
		{name: "raise in function", sql: "SELECT passenger_raise()", want: outcomeError},

		// Inference through predicates: cannot be blocked (the answer is a
		// count); detection alerts on probing patterns instead.
		{name: "count probe", sql: "SELECT count(*) FROM passengers WHERE phone LIKE '138%'", want: outcomeAny},
		{name: "count of the column", sql: "SELECT count(phone), count(DISTINCT id_number) FROM passengers", want: outcomeAny},
		{name: "ordered probe", sql: "SELECT id FROM passengers ORDER BY phone LIMIT 1", want: outcomeAny},
	}
}

// bypassCell is how a DataRow carries the text value v: behind its 4-byte
// length.
func bypassCell(v string) string {
	return string(binary.BigEndian.AppendUint32(nil, uint32(len(v)))) + v
}

func bypassInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// bypassDigitColumns selects each digit of col as its own integer column.
func bypassDigitColumns(col string, n int) string {
	var cols []string
	for i := 1; i <= n; i++ {
		cols = append(cols, fmt.Sprintf("substr(%s, %d, 1)::int", col, i))
	}
	return strings.Join(cols, ", ")
}

// bypassDigitRow is how a DataRow of one-digit text columns carries v:
// each digit behind its 4-byte length.
func bypassDigitRow(v string) string {
	var b []byte
	for i := 0; i < len(v); i++ {
		b = append(b, 0, 0, 0, 1, v[i])
	}
	return string(b)
}

// bypassPortal binds an unnamed portal and executes it one row at a time
// (PortalSuspended between), on the raw protocol.
func bypassPortal(ctx context.Context, c *pgconn.PgConn) error {
	fe := c.Frontend()
	fe.Send(&pgproto3.Parse{Query: "SELECT phone, id_number FROM passengers ORDER BY id"})
	fe.Send(&pgproto3.Bind{})
	fe.Send(&pgproto3.Describe{ObjectType: 'P'})
	fe.Send(&pgproto3.Execute{MaxRows: 1})
	fe.Send(&pgproto3.Execute{MaxRows: 1})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		return err
	}
	var firstErr error
	for {
		msg, err := c.ReceiveMessage(ctx)
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			if firstErr == nil {
				firstErr = pgconn.ErrorResponseToPgError(m)
			}
		case *pgproto3.ReadyForQuery:
			return firstErr
		}
	}
}

func TestBypass(t *testing.T) {
	extRequireServices(t)
	g := extStartGateway(t, extGatewayOptions{})
	for _, tc := range bypassCases() {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			c, rec := g.Connect(t)
			rec.Reset()
			var err error
			if tc.run != nil {
				err = tc.run(ctx, c)
			} else {
				err = bypassSimple(ctx, c, tc.sql)
			}
			// Drain what is still in flight (a notification, a late error).
			bypassSimple(ctx, c, "SELECT 1")
			got := rec.Received()
			leaks := extLeaks(got)
			for _, f := range tc.forms {
				if bytes.Contains(got, []byte(f)) {
					leaks = append(leaks, fmt.Sprintf("a derived form of a catalogued value (%d bytes)", len(f)))
				}
			}
			if len(leaks) > 0 && tc.gap != "" {
				t.Skipf("known gap: %s (leaked %s)", tc.gap, strings.Join(leaks, ", "))
			}
			if len(leaks) > 0 {
				t.Errorf("the client received %s", strings.Join(leaks, ", "))
			} else if tc.gap != "" {
				t.Logf("known gap closed, remove the marker: %s", tc.gap)
			}
			var pgErr *pgconn.PgError
			switch tc.want {
			case outcomeMasked:
				if err != nil {
					t.Fatalf("query failed: %v", err)
				}
				if !bytes.Contains(got, []byte("****")) {
					t.Errorf("no masked value reached the client")
				}
			case outcomeBlocked:
				if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
					t.Errorf("err = %v, want SQLSTATE 42501", err)
				}
			case outcomeError:
				if err == nil {
					t.Errorf("query succeeded, want an error")
				}
			case outcomeNull:
				if err != nil {
					t.Fatalf("query failed: %v", err)
				}
			}
		})
	}
}

// ---- harness shared with fault_test.go and clients_test.go ----

const (
	extUpstream = "127.0.0.1:5432"
	extPassword = "s3cret-pw"
)

// extPassengers are the seeded rows: phone (cn_mobile) and id_number (cn_id)
// are catalogued; name is not.
var extPassengers = []struct {
	ID                int
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
	seed.WriteString(`CREATE TABLE passengers (id int PRIMARY KEY, name text, phone text, id_number text UNIQUE);
CREATE TABLE flights (id int PRIMARY KEY, code text);
INSERT INTO flights VALUES (1, 'MU5101'), (2, 'CA1501');
CREATE VIEW passenger_contacts AS SELECT id, phone, id_number FROM passengers;
CREATE VIEW v_rev AS SELECT id, reverse(phone) AS p, encode(id_number::bytea, 'hex') AS h FROM passengers;
CREATE VIEW v_num AS SELECT id, phone::bigint * 2 AS n, phone::bigint + 0 AS m FROM passengers;
CREATE VIEW v_concat AS SELECT id, name || ':' || phone AS c, concat(reverse(phone), '') AS rc FROM passengers;
CREATE VIEW v_nested AS SELECT id, p AS pp, n / 2 AS half FROM v_rev JOIN v_num USING (id);
CREATE VIEW v_pass AS SELECT id, phone AS tel, id_number AS doc FROM passengers;
CREATE VIEW v_pass2 AS SELECT id, tel FROM v_pass;
CREATE VIEW v_union AS SELECT reverse(phone) AS u FROM passengers UNION ALL SELECT code FROM flights;
CREATE MATERIALIZED VIEW mv_rev AS SELECT id, reverse(phone) AS p, phone::bigint AS n FROM passengers;
CREATE FUNCTION passenger_phones() RETURNS SETOF text LANGUAGE sql AS 'SELECT phone FROM passengers';
CREATE FUNCTION passenger_raise() RETURNS int LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'bad passenger %', (SELECT phone FROM passengers WHERE id = 1); END $$;
`)
	for _, p := range extPassengers {
		fmt.Fprintf(&seed, "INSERT INTO passengers VALUES (%d, '%s', '%s', '%s');\n", p.ID, p.Name, p.Phone, p.ID18)
	}
	seed.WriteString("REFRESH MATERIALIZED VIEW mv_rev;\n")
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
		// As custos.yaml has it by default.
		AutoPrepare: true,
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
	// Generous: right after the 1,000-connection fault test the gateway
	// and the server are still closing sessions on a loaded CI machine.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
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
