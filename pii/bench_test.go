package pii_test

import (
	"sync"
	"testing"

	"github.com/custos-dev/custos/pii"
	"github.com/custos-dev/custos/pii/corpus"
)

var benchText = sync.OnceValue(func() []byte {
	text, _ := corpus.Generate(42, 8<<20)
	return text
})

// BenchmarkFind measures one core on the mixed Chinese/English corpus
// (about a third of its lines carry personal data); -benchtime and
// b.SetBytes make go test print MB/s.
func BenchmarkFind(b *testing.B) {
	text := benchText()
	var d pii.Detector
	var dst []pii.Match
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		dst = d.AppendMatches(dst[:0], text)
	}
	b.ReportMetric(float64(len(dst))/float64(len(text))*(1<<20), "matches/MiB")
}

// BenchmarkFindPlain measures text with no personal data at all (English
// and Chinese prose), the common case for response bodies.
func BenchmarkFindPlain(b *testing.B) {
	line := []byte("The quarterly report is attached for review. 会议纪要已上传至共享目录，请大家查阅。Build finished in 42.7s with 0 errors. 本季度业绩同比增长百分之十二。\n")
	text := make([]byte, 0, 4<<20)
	for len(text) < 4<<20 {
		text = append(text, line...)
	}
	var d pii.Detector
	var dst []pii.Match
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		dst = d.AppendMatches(dst[:0], text)
	}
}
