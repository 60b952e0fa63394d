package pgsql

import "testing"

func BenchmarkAnalyze(b *testing.B) {
	for _, q := range []struct{ name, sql string }{
		{"pgbench-S", "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;"},
		{"join", "SELECT p.id, p.phone, b.flight FROM passengers p JOIN bookings b ON b.pid = p.id WHERE b.day > now() - interval '1 day' ORDER BY p.id LIMIT 100 /* custos_purpose='support',custos_ticket='T-1' */"},
	} {
		b.Run(q.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Analyze(q.sql); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
