package pgwire_test

import (
	"context"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/pgsql"
)

// Columns reached through views get the lineage of the view's definition:
// passed through, a catalogued column is masked by provenance (and its
// event names the table); derived, it is NULL (numbers) or redacted
// (text) as in a direct query; next to an uncatalogued column, the
// identifier in it is masked by content.
func TestViewLineage(t *testing.T) {
	extRequireServices(t)
	g := extStartGateway(t, extGatewayOptions{})
	const null = "NULL"
	tests := []struct {
		sql  string
		want []string
	}{
		{"SELECT p, h FROM v_rev WHERE id = 1", []string{"***********", "************************************"}},
		{"SELECT n, m FROM v_num WHERE id = 1", []string{null, null}},
		{"SELECT c FROM v_concat WHERE id = 1", []string{"Zhang San:138****5678"}},
		{"SELECT tel, doc FROM v_pass WHERE id = 1", []string{"138****5678", "110105********002X"}},
		{"SELECT tel FROM v_pass2 WHERE id = 1", []string{"138****5678"}},
		{"SELECT reverse(tel), length(tel) FROM v_pass2 WHERE id = 1", []string{"***********", null}},
		{"SELECT pp, half FROM v_nested WHERE id = 1", []string{"***********", null}},
		{"SELECT p, n FROM mv_rev WHERE id = 1", []string{"***********", null}},
		{"SELECT phone || ' ' || reverse(phone) FROM passengers WHERE id = 1", []string{"138****5678 ***********"}},
		{"SELECT id FROM v_rev WHERE id = 1", []string{"1"}},
	}
	for _, tc := range tests {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		c, _ := g.Connect(t)
		res, err := c.Exec(ctx, tc.sql).ReadAll()
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		if len(res) != 1 || len(res[0].Rows) != 1 {
			t.Fatalf("%s: %d results, want one row", tc.sql, len(res))
		}
		row := res[0].Rows[0]
		if len(row) != len(tc.want) {
			t.Fatalf("%s: %d columns, want %d", tc.sql, len(row), len(tc.want))
		}
		for i, w := range tc.want {
			got := string(row[i])
			if row[i] == nil {
				got = null
			}
			if got != w {
				t.Errorf("%s: column %d = %q, want %q", tc.sql, i, got, w)
			}
		}
	}
	a, err := pgsql.Analyze("SELECT tel FROM v_pass2 WHERE id = 1")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range g.extAccessEvents(t) {
		if e.Resource.Fingerprint != a.Statements[0].Fingerprint {
			continue
		}
		found = true
		if e.Resource.Object != "public.passengers" || len(e.DataTypes) != 1 || e.DataTypes[0] != "cn_mobile" || e.Decision != custos.DecisionMask {
			t.Errorf("event of a column passed through two views: %+v, want public.passengers, cn_mobile, mask", e.AccessEvent)
		}
	}
	if !found {
		t.Errorf("no event for the column passed through two views")
	}
}
