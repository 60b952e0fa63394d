package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/store/sqlite"
)

func batchBody(b, n int) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, `{"id":"b%d-%d","time":"2026-11-28T10:00:00Z","actor":{"id":"emp-%d","roles":["agent"]},"channel":"ingest","action":"read","resource":{"system":"pss","object":"passengers"},"purpose":{"name":"customer_service","ticket":"INC-1"},"subjects":[{"type":"cn_id","value":"11010119900307123X"},{"type":"cn_mobile","value":"138%08d"}],"records":1}`+"\n", b, i, i%2000, i)
	}
	return sb.String()
}

// setup opens a store in a temporary directory and prepares b.N batches.
func setup(b *testing.B) (*ingest.Pipeline, []string) {
	st, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	idx, _ := blind.New(make([]byte, 32))
	p := &ingest.Pipeline{Store: st, Index: idx, Now: func() time.Time { return time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC) }}
	bodies := make([]string, b.N)
	for i := range bodies {
		bodies[i] = batchBody(i, 500)
	}
	return p, bodies
}

// BenchmarkPipeline measures decode, validation, sealing and the durable
// append of 500-event batches, without HTTP.
func BenchmarkPipeline(b *testing.B) {
	p, bodies := setup(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		evs, err := ingest.Decode[custos.AccessEvent](strings.NewReader(bodies[i]), 1000)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Access(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkPipelineParallel is BenchmarkPipeline with concurrent callers,
// as the API has, so that group commit can merge their batches.
func BenchmarkPipelineParallel(b *testing.B) {
	p, bodies := setup(b)
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			evs, err := ingest.Decode[custos.AccessEvent](strings.NewReader(bodies[i]), 1000)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Access(context.Background(), evs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecode measures decoding alone: a 500-event NDJSON batch.
func BenchmarkDecode(b *testing.B) {
	body := batchBody(0, 500)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ingest.Decode[custos.AccessEvent](strings.NewReader(body), 1000); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "events/s")
}
