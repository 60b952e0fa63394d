package detect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/detect"
)

// benchStream is a month of a 60-employee bank with a planted crawler
// and a stuffing attack, sealed.
func benchStream(b *testing.B) ([]detect.Event, detect.Config, []byte) {
	evs, cfg := sealedStream(b, 60, 30)
	var file bytes.Buffer
	enc := json.NewEncoder(&file)
	for _, ev := range evs {
		var v any = ev.Access
		if ev.Login != nil {
			v = ev.Login
		}
		if err := enc.Encode(v); err != nil {
			b.Fatal(err)
		}
	}
	return evs, cfg, file.Bytes()
}

// BenchmarkProcess is the engine alone, all default rules on, over
// decoded events.
func BenchmarkProcess(b *testing.B) {
	evs, cfg, _ := benchStream(b)
	ctx := context.Background()
	cpu0 := cpuTime()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		e := detect.New(cfg)
		for _, ev := range evs {
			e.Process(ctx, ev)
		}
		n += len(evs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	// On a shared machine wall time includes other people's work; CPU
	// time says what the engine costs.
	b.ReportMetric(float64(n)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}

// BenchmarkReplayNDJSON is `custos detect --replay`'s loop: decode each
// line and process it.
func BenchmarkReplayNDJSON(b *testing.B) {
	evs, cfg, file := benchStream(b)
	ctx := context.Background()
	b.SetBytes(int64(len(file)))
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := detect.New(cfg)
		if err := detect.ReadNDJSON(bytes.NewReader(file), func(ev detect.Event) error {
			e.Process(ctx, ev)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(evs)*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(evs)*b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}

// BenchmarkDecodeOnly is the peer: reading the same file without the
// engine, the floor of any NDJSON replay.
func BenchmarkDecodeOnly(b *testing.B) {
	evs, _, file := benchStream(b)
	b.SetBytes(int64(len(file)))
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := detect.ReadNDJSON(bytes.NewReader(file), func(ev detect.Event) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(evs)*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(evs)*b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}

// BenchmarkMemoryPerActor tracks 20,000 actors, each with a working
// day of 40 accesses on distinct subjects, and reports the live heap per
// actor.
func BenchmarkMemoryPerActor(b *testing.B) {
	const actors, perActor = 20000, 40
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e := detect.New(detect.DefaultConfig())
		ev := custos.AccessEvent{Channel: custos.ChannelHTTP, Action: custos.ActionRead, Resource: custos.Resource{System: "res"},
			Categories: []string{custos.CategoryIdentity}, Records: 1, Subjects: []custos.Subject{{Type: custos.TypeCNID}}}
		for k := 0; k < perActor; k++ {
			for a := 0; a < actors; a++ {
				ev.ID = fmt.Sprintf("e%d-%d", a, k)
				ev.Time = start.Add(time.Duration(k)*10*time.Minute + time.Duration(a)*time.Millisecond)
				ev.Actor = custos.Actor{ID: fmt.Sprintf("actor-%06d", a), Roles: []string{"agent"}}
				ev.Source = custos.Source{IP: "10.1.0.1", Session: ev.Actor.ID}
				ev.Subjects[0].Hash = fmt.Sprintf("%016x%048x", uint64(a)*1000003+uint64(k), 0)
				e.ProcessAccess(&ev)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if st := e.Stats(); st.Actors != actors {
			b.Fatalf("tracking %d actors, want %d", st.Actors, actors)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/actors, "bytes/actor")
		runtime.KeepAlive(e)
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
