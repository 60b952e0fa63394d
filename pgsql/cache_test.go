package pgsql

import (
	"reflect"
	"testing"
)

func TestShape(t *testing.T) {
	tests := []struct {
		sql, key string
		ok       bool
	}{
		{"SELECT abalance FROM pgbench_accounts WHERE aid = 48213;", "SELECT abalance FROM pgbench_accounts WHERE aid = ?", true},
		{"select phone from t1 where name = 'O''Brien' and x > 1.5", "select phone from t1 where name = ? and x > ?", true},
		{`SELECT "a""b" FROM "T 1" WHERE v = -3`, `SELECT "a""b" FROM "T 1" WHERE v = -?`, true},
		{"SELECT 1; SELECT 2", "", false},
		{"SELECT E'\\x'", "", false},
		{"SELECT 'a\\' , phone FROM p", "", false},
		{"SELECT $1", "", false},
		{"SELECT $$x$$", "", false},
		{"SELECT 1 -- c", "", false},
		{"SELECT 1 /* c */", "", false},
		{"SELECT 1e5", "", false},
		{"SELECT x'1f'", "", false},
		{"SELECT 'unterminated", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		key, _, ok := shape(tt.sql)
		if ok != tt.ok || key != tt.key {
			t.Errorf("shape(%q) = %q, %v; want %q, %v", tt.sql, key, ok, tt.key, tt.ok)
		}
	}
}

// TestCacheAgreesWithAnalyze: every query of the golden corpus, twice
// through the cache, gives what Analyze gives.
func TestCacheAgreesWithAnalyze(t *testing.T) {
	c := NewCache(4)
	queries := append(goldenQueries(t),
		"SELECT abalance FROM pgbench_accounts WHERE aid = 1",
		"SELECT abalance FROM pgbench_accounts WHERE aid = 2;",
		"  SELECT phone FROM passengers WHERE name = 'x'  ")
	for round := 0; round < 2; round++ {
		for _, q := range queries {
			want, werr := Analyze(q)
			got, gerr := c.Analyze(q)
			if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(got, want) {
				t.Errorf("round %d %q: cache %+v, %v; Analyze %+v, %v", round, q, got, gerr, want, werr)
			}
		}
	}
}

func BenchmarkCacheAnalyze(b *testing.B) {
	c := NewCache(0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Analyze("SELECT abalance FROM pgbench_accounts WHERE aid = 48213;"); err != nil {
			b.Fatal(err)
		}
	}
}
