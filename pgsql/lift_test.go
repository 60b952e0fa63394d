package pgsql

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestLift(t *testing.T) {
	tests := []struct {
		sql    string
		text   string // "" when nothing is lifted
		types  []uint32
		values []string
	}{
		{"SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
			"SELECT abalance FROM pgbench_accounts WHERE aid = $1", []uint32{oidInt4}, []string{"48213"}},
		{"  select a from t where b > 3000000000 and c < 1.50 limit 10 ",
			"select a from t where b > $1 and c < $2 limit $3", []uint32{oidInt8, oidNumeric, oidInt4}, []string{"3000000000", "1.50", "10"}},
		{"SELECT 99999999999999999999", "SELECT $1", []uint32{oidNumeric}, []string{"99999999999999999999"}},
		// Strings stay; a negated literal is one constant at the sign.
		{"SELECT a FROM t WHERE name = 'x' AND v = -3 AND w = 4",
			"SELECT a FROM t WHERE name = 'x' AND v = -3 AND w = $1", []uint32{oidInt4}, []string{"4"}},
		// Column positions and type modifiers stay.
		{"SELECT a, b FROM t WHERE c = 5 ORDER BY 1, 2 + 0",
			"SELECT a, b FROM t WHERE c = $1 ORDER BY 1, $2 + $3", []uint32{oidInt4, oidInt4, oidInt4}, []string{"5", "2", "0"}},
		{"SELECT a, count(*) FROM t WHERE c = 7 GROUP BY 1", "SELECT a, count(*) FROM t WHERE c = $1 GROUP BY 1", []uint32{oidInt4}, []string{"7"}},
		{"SELECT DISTINCT ON (1) a FROM t WHERE c = 7", "SELECT DISTINCT ON (1) a FROM t WHERE c = $1", []uint32{oidInt4}, []string{"7"}},
		{"SELECT a::varchar(10), b::numeric(8, 2) FROM t WHERE c = 2",
			"SELECT a::varchar(10), b::numeric(8, 2) FROM t WHERE c = $1", []uint32{oidInt4}, []string{"2"}},
		{"SELECT a FROM t ORDER BY a LIMIT 5 OFFSET 10", "SELECT a FROM t ORDER BY a LIMIT $1 OFFSET $2", []uint32{oidInt4, oidInt4}, []string{"5", "10"}},
		// Nothing to lift, or not a plain SELECT.
		{"SELECT a FROM t WHERE name = 'x'", "", nil, nil},
		{"UPDATE t SET a = 1 WHERE b = 2", "", nil, nil},
		{"SELECT a INTO t2 FROM t WHERE b = 2", "", nil, nil},
		{"DECLARE c CURSOR FOR SELECT a FROM t WHERE b = 2", "", nil, nil},
		{"SELECT 1; SELECT 2", "", nil, nil},
		{"SELECT 1 /* c */", "", nil, nil},
		{"SELECT a FROM t WHERE b = $1", "", nil, nil},
	}
	c := NewCache(0)
	for round := 0; round < 2; round++ { // the second round hits the cache
		for _, tt := range tests {
			_, l, err := c.AnalyzeLifted(tt.sql)
			if err != nil {
				t.Fatalf("%q: %v", tt.sql, err)
			}
			if tt.text == "" {
				if l != nil {
					t.Errorf("%q: lifted %+v, want nothing", tt.sql, l)
				}
				continue
			}
			if l == nil {
				t.Errorf("%q: nothing lifted, want %q", tt.sql, tt.text)
				continue
			}
			var values []string
			for _, v := range l.Values {
				values = append(values, string(v))
			}
			if l.Text != tt.text || !reflect.DeepEqual(l.Types, tt.types) || !reflect.DeepEqual(values, tt.values) {
				t.Errorf("%q: lifted %q %v %q; want %q %v %q", tt.sql, l.Text, l.Types, values, tt.text, tt.types, tt.values)
			}
		}
	}
	// Another query of a cached shape gets its own constants.
	_, l, _ := c.AnalyzeLifted("SELECT abalance FROM pgbench_accounts WHERE aid = 7")
	if l == nil || string(l.Values[0]) != "7" {
		t.Errorf("second query of a shape: %+v", l)
	}
}

// TestLiftMeansTheSame runs queries as written (simple protocol) and
// lifted (a prepared statement with typed parameters) against a real
// PostgreSQL, and requires the same columns (names and type OIDs), rows
// and errors: lifting must not change a single answer.
func TestLiftMeansTheSame(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgconn.Connect(ctx, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	if err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") != "" {
			t.Fatalf("PostgreSQL: %v", err)
		}
		t.Skipf("PostgreSQL at 127.0.0.1:5432 unreachable (set CUSTOS_REQUIRE_SERVICES to fail instead): %v", err)
	}
	defer conn.Close(ctx)
	setup := `CREATE TEMP TABLE lt (id int PRIMARY KEY, big bigint, amount numeric(10,2), score float8, name text, tags int[], doc jsonb, small smallint);
		INSERT INTO lt SELECT g, g::bigint * 1000000000, g * 1.25, g / 3.0, 'n' || g, ARRAY[g, g + 1], jsonb_build_object('k', g, 'a', jsonb_build_array(g, g * 2)), g
		FROM generate_series(1, 50) g`
	if err := conn.Exec(ctx, setup).Close(); err != nil {
		t.Fatal(err)
	}
	queries := []string{
		"SELECT id, name FROM lt WHERE id = 7",
		"SELECT * FROM lt WHERE big > 3000000000 AND big < 9000000000 ORDER BY id",
		"SELECT id FROM lt WHERE amount > 10.5 ORDER BY 1 LIMIT 3 OFFSET 2",
		"SELECT id FROM lt WHERE score < 2.5 ORDER BY id",
		"SELECT 1, 2.50, 3000000000, 99999999999999999999, -4, 007",
		"SELECT id + 1, id * 2.0, id / 2, id % 3, small + 1 FROM lt WHERE id BETWEEN 3 AND 6 ORDER BY 1",
		"SELECT tags[1], tags[1:2], doc -> 'a' -> 1, doc ->> 'k' FROM lt WHERE id IN (1, 2, 3) ORDER BY id",
		"SELECT round(amount, 1), substr(name, 1, 2), power(2, 10), 10 / 4, 10.0 / 4 FROM lt WHERE id = 9",
		"SELECT CASE WHEN id > 25 THEN 1 ELSE 2.5 END AS c FROM lt WHERE id < 4 ORDER BY id",
		"SELECT id, count(*) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM lt WHERE id <= 5",
		"SELECT id % 5, count(*) FROM lt GROUP BY 1 ORDER BY 1",
		"SELECT DISTINCT ON (1) id % 3, id FROM lt ORDER BY 1, 2 DESC",
		"SELECT name::varchar(2), amount::numeric(6,1) FROM lt WHERE id = 12",
		"SELECT id FROM lt WHERE small = 3",
		"SELECT id FROM lt WHERE small = 3000000000",
		"SELECT generate_series(1, 4), 1 = 1.0",
		"SELECT id FROM lt ORDER BY id FETCH FIRST 2 ROWS ONLY",
		"SELECT (SELECT max(id) FROM lt WHERE id < 10) + 5, EXISTS (SELECT 1 FROM lt WHERE id = 51)",
		"SELECT id FROM lt WHERE name = 5", // an error either way
		"SELECT 2147483647 + 1",            // int4 overflow either way
		"SELECT id FROM lt WHERE id = 1 UNION SELECT 2 ORDER BY 1",
		"SELECT make_interval(0, 0, 0, 1), to_char(1234.5, '9999.9'), lpad('x', 5)",
	}
	c := NewCache(0)
	lifted := 0
	for _, q := range queries {
		_, l, err := c.AnalyzeLifted(q)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if l == nil {
			continue
		}
		lifted++
		want := runSimple(ctx, conn, q)
		got := runPrepared(ctx, conn, l)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q lifted as %q:\n got  %s\n want %s", q, l.Text, got, want)
		}
	}
	if lifted < len(queries)-2 {
		t.Errorf("only %d of %d queries lifted", lifted, len(queries))
	}
}

// answer is what a client sees of one statement: columns, rows, error code.
type answer struct {
	Fields []string
	Rows   [][]string
	Err    string
}

func (a answer) String() string { return fmt.Sprintf("%v %v %s", a.Fields, a.Rows, a.Err) }

func collect(fds []pgconn.FieldDescription, rows [][][]byte, err error) answer {
	var a answer
	for _, f := range fds {
		a.Fields = append(a.Fields, fmt.Sprintf("%s:%d", f.Name, f.DataTypeOID))
	}
	for _, r := range rows {
		var row []string
		for _, v := range r {
			row = append(row, string(v))
		}
		a.Rows = append(a.Rows, row)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		a.Err = pe.Code
	} else if err != nil {
		a.Err = err.Error()
	}
	return a
}

func runSimple(ctx context.Context, conn *pgconn.PgConn, q string) answer {
	mrr := conn.Exec(ctx, q)
	var a answer
	for mrr.NextResult() {
		r := mrr.ResultReader().Read()
		a = collect(r.FieldDescriptions, r.Rows, r.Err)
	}
	if err := mrr.Close(); err != nil && a.Err == "" {
		a = collect(nil, nil, err)
	}
	return a
}

func runPrepared(ctx context.Context, conn *pgconn.PgConn, l *Lifted) answer {
	name := "lift_" + strings.ReplaceAll(fmt.Sprint(len(l.Text), l.Types), " ", "_")
	if _, err := conn.Prepare(ctx, name, l.Text, l.Types); err != nil {
		return collect(nil, nil, err)
	}
	defer conn.Deallocate(ctx, name)
	r := conn.ExecPrepared(ctx, name, l.Values, nil, nil).Read()
	return collect(r.FieldDescriptions, r.Rows, r.Err)
}

// FuzzLift: whatever is lifted parses, has one parameter per value, and
// names the same tables and columns as the statement it came from.
func FuzzLift(f *testing.F) {
	for _, s := range []string{
		"SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
		"select a from t where b > 3000000000 and c < 1.50 limit 10",
		"SELECT a, b FROM t WHERE c = 5 ORDER BY 1, 2 + 0",
		"SELECT a::varchar(10) FROM t WHERE c = -2 GROUP BY 1",
		"SELECT x FROM t WHERE y = 1.2.3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		a, l, err := NewCache(0).AnalyzeLifted(sql)
		if err != nil || l == nil {
			return
		}
		if len(l.Types) != len(l.Values) || len(l.Types) == 0 {
			t.Fatalf("%q: %d types, %d values", sql, len(l.Types), len(l.Values))
		}
		b, err := Analyze(l.Text)
		if err != nil {
			t.Fatalf("%q lifted as %q does not parse: %v", sql, l.Text, err)
		}
		if len(b.Statements) != 1 || !reflect.DeepEqual(a.Statements[0].Tables, b.Statements[0].Tables) ||
			!reflect.DeepEqual(a.Statements[0].Columns, b.Statements[0].Columns) {
			t.Fatalf("%q lifted as %q: analysis changed", sql, l.Text)
		}
		for i := range l.Types {
			if !strings.Contains(l.Text, fmt.Sprintf("$%d", i+1)) {
				t.Fatalf("%q lifted as %q: no $%d", sql, l.Text, i+1)
			}
		}
	})
}
