package pii_test

import (
	"bytes"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

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
	b.ReportAllocs()
	dst := benchFind(b, text)
	b.ReportMetric(float64(len(dst))/float64(len(text))*(1<<20), "matches/MiB")
}

// benchFind runs the detectors over text b.N times and reports MB/s and
// MB per CPU-second; it returns the matches of the last run.
func benchFind(b *testing.B, text []byte) []pii.Match {
	var d pii.Detector
	dst := d.AppendMatches(nil, text) // grow dst once, outside the measurement
	b.SetBytes(int64(len(text)))
	cpu := cpuTime()
	for b.Loop() {
		dst = d.AppendMatches(dst[:0], text)
	}
	reportCPU(b, cpu, len(text))
	return dst
}

// BenchmarkFindPlain measures text with no personal data at all (English
// and Chinese prose), the common case for response bodies.
func BenchmarkFindPlain(b *testing.B) {
	line := []byte("The quarterly report is attached for review. 会议纪要已上传至共享目录，请大家查阅。Build finished in 42.7s with 0 errors. 本季度业绩同比增长百分之十二。\n")
	text := make([]byte, 0, 4<<20)
	for len(text) < 4<<20 {
		text = append(text, line...)
	}
	b.ReportAllocs()
	benchFind(b, text)
}

// cpuTime is the process's user+system CPU time. On a shared machine
// wall-clock MB/s depends on the neighbours; MB per CPU-second does much
// less, and is what "MB/s per core" means.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration, size int) {
	if used := cpuTime() - start; used > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/1e6/used.Seconds(), "MB/cpu-s")
	}
}

// peerPattern is what a regexp-based DLP rule set looks like for five of
// the types, without any validation: the peer BenchmarkFind is compared
// with in docs/benchmarks.md.
var peerPattern = regexp.MustCompile(`1[3-9]\d{9}|\d{17}[\dXx]|\d{13,19}|[\w.+-]+@[\w-]+\.[\w.]+|\d{1,3}(?:\.\d{1,3}){3}`)

// BenchmarkPeerRegexp runs peerPattern (Go's regexp, RE2 semantics) over
// the same corpus as BenchmarkFind.
func BenchmarkPeerRegexp(b *testing.B) {
	text := benchText()
	b.SetBytes(int64(len(text)))
	cpu := cpuTime()
	var n int
	for b.Loop() {
		n = len(peerPattern.FindAllIndex(text, -1))
	}
	reportCPU(b, cpu, len(text))
	b.ReportMetric(float64(n)/float64(len(text))*(1<<20), "matches/MiB")
}

// BenchmarkPeerByteLoop is the floor for any one-pass engine: a table
// lookup per byte and nothing else.
func BenchmarkPeerByteLoop(b *testing.B) {
	text := benchText()
	var class [256]uint8
	for c := '0'; c <= '9'; c++ {
		class[c] = 1
	}
	b.SetBytes(int64(len(text)))
	cpu := cpuTime()
	var n int
	for b.Loop() {
		n = 0
		for _, c := range text {
			n += int(class[c])
		}
	}
	reportCPU(b, cpu, len(text))
	if n == 0 {
		b.Fatal("no digits")
	}
}

// BenchmarkFindAdversarial measures inputs built to make the engine work
// hardest: every group a candidate, every character an anchor.
func BenchmarkFindAdversarial(b *testing.B) {
	for _, unit := range []string{"123 ", "1 ", "收件人：张", "北京", "北京市朝阳区", "@a.", "a:", "一"} {
		text := bytes.Repeat([]byte(unit), (1<<20)/len(unit))
		b.Run(unit, func(b *testing.B) { benchFind(b, text) })
	}
}

// BenchmarkFindPlainCorpus runs the detectors over 8 MiB of the prose
// corpus bench/scan generates with PLAIN=1 (corpus.WritePlain): English
// and Chinese sentences, log lines, one record line in a hundred.
func BenchmarkFindPlainCorpus(b *testing.B) {
	var buf bytes.Buffer
	if _, err := corpus.WritePlain(&buf, 8<<20, 1); err != nil {
		b.Fatal(err)
	}
	text := buf.Bytes()
	dst := benchFind(b, text)
	b.ReportMetric(float64(len(dst))/float64(len(text))*(1<<20), "matches/MiB")
}
