package pgwire

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Values derived from a masked column that no mask can render in their
// type (numbers, dates, booleans, bytea) arrive as NULL; counts and
// plain columns next to them, and the same values for a reader the policy
// allows, arrive as they are.
func TestDerivedValues(t *testing.T) {
	g := newGateway(t, gwOptions{})
	const null = "NULL"
	tests := []struct {
		user    string
		options string
		sql     string
		want    []string // text of each column, NULL for NULL
	}{
		{"alice", "", "SELECT phone::bigint * 2 FROM passengers WHERE pid = 1", []string{null}},
		{"alice", "", "SELECT phone::bigint, phone::numeric FROM passengers WHERE pid = 1", []string{null, null}},
		{"alice", "", "SELECT substr(phone, 4, 4)::int, length(phone) FROM passengers WHERE pid = 1", []string{null, null}},
		{"alice", "", "SELECT to_date(substr(id_number, 7, 8), 'YYYYMMDD') FROM passengers WHERE pid = 1", []string{null}},
		{"alice", "", "SELECT phone LIKE '138%', to_jsonb(reverse(phone)) FROM passengers WHERE pid = 1", []string{null, null}},
		{"alice", "", "SELECT count(*) FROM passengers WHERE phone LIKE '138%'", []string{"1"}},
		{"alice", "", "SELECT count(phone), count(DISTINCT id_number) FROM passengers", []string{"7", "7"}},
		{"alice", "", "SELECT pid FROM passengers ORDER BY phone LIMIT 1", []string{"6"}},
		{"alice", "", "SELECT pid, length(seat) FROM passengers WHERE phone = '13812345678'", []string{"1", "2"}},
		{"alice", "", "SELECT pid + 0, seat FROM passengers WHERE id_number LIKE '110105%'", []string{"1", "1A"}},
		{"ivan", "options=-c%20custos.purpose%3Dinvestigation", "SELECT phone::bigint * 2 FROM passengers WHERE pid = 1", []string{"27624691356"}},
	}
	for _, tc := range tests {
		c := g.connect(tc.user, tc.options)
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
			rows, err := c.Query(context.Background(), tc.sql, mode)
			if err != nil {
				t.Fatalf("%s (%v): %v", tc.sql, mode, err)
			}
			var got [][]byte
			n := 0
			for rows.Next() {
				n++
				for _, v := range rows.RawValues() {
					got = append(got, append([]byte(nil), v...))
					if v == nil {
						got[len(got)-1] = nil
					}
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("%s (%v): %v", tc.sql, mode, err)
			}
			if n != 1 || len(got) != len(tc.want) {
				t.Fatalf("%s (%v): %d rows, %d values; want one row of %d", tc.sql, mode, n, len(got), len(tc.want))
			}
			for i, w := range tc.want {
				switch {
				case w == null && got[i] != nil:
					t.Errorf("%s (%v): column %d = %q, want NULL", tc.sql, mode, i, got[i])
				case w != null && got[i] == nil:
					t.Errorf("%s (%v): column %d is NULL, want %s", tc.sql, mode, i, w)
				case w != null && mode == pgx.QueryExecModeSimpleProtocol && string(got[i]) != w:
					// Text format only: the extended mode reads numbers in binary.
					t.Errorf("%s (%v): column %d = %q, want %s", tc.sql, mode, i, got[i], w)
				}
			}
		}
	}
}
