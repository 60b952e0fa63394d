package detect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/custos-dev/custos/detect"
	"github.com/custos-dev/custos/detect/eval"
	"github.com/custos-dev/custos/sim"
)

// sealedStream generates a small airline with a planted crawler and a
// stuffing attack, sealed, as the engine would see it from the bus.
func sealedStream(t testing.TB, employees, days int) ([]detect.Event, detect.Config) {
	t.Helper()
	var crawler, stuffing *sim.Scenario
	for _, sc := range sim.Suite(employees, days) {
		switch sc.Name {
		case "planted_crawler":
			crawler = sc
		case "credential_stuffing":
			stuffing = sc
		}
	}
	crawler.Kind = sim.Bank // both in one organization
	o := crawler.Org()
	idx := eval.Index(1)
	cfg, addRel, err := eval.Setup(o, stuffing, idx, detect.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Relations = nil // relationships are not in an event file
	var evs []detect.Event
	err = sim.Generate(o, sim.SuiteStart, crawler.Days, []*sim.Scenario{crawler, stuffing}, func(ev sim.Event) error {
		switch {
		case ev.Relationship != nil:
			return addRel(*ev.Relationship)
		case ev.Access != nil:
			a := *ev.Access
			a.Subjects = slices.Clone(a.Subjects)
			if err := idx.Seal(&a); err != nil {
				return err
			}
			evs = append(evs, detect.Event{Access: &a})
		case ev.Login != nil:
			evs = append(evs, detect.Event{Login: ev.Login})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs, cfg
}

func final(as []detect.Alert) map[string]detect.Alert {
	m := map[string]detect.Alert{}
	for _, a := range as {
		m[a.ID] = a
	}
	return m
}

func TestReplayAndSnapshotGiveLiveAlerts(t *testing.T) {
	evs, cfg := sealedStream(t, 20, 12)
	ctx := context.Background()
	live := detect.New(cfg)
	var liveAlerts []detect.Alert
	for _, ev := range evs {
		liveAlerts = append(liveAlerts, live.Process(ctx, ev)...)
	}
	want := final(liveAlerts)
	rules := map[string]bool{}
	for _, a := range want {
		rules[a.Rule] = true
	}
	for _, r := range []string{detect.RuleMachineCadence, detect.RuleStuffingSource, detect.RuleSuccessAfterStuff} {
		if !rules[r] {
			t.Fatalf("live run missed %s (got %v)", r, rules)
		}
	}

	// The same events through an NDJSON file.
	var file bytes.Buffer
	enc := json.NewEncoder(&file)
	for _, ev := range evs {
		var v any = ev.Access
		if ev.Login != nil {
			v = ev.Login
		}
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	replay := detect.New(cfg)
	var replayAlerts []detect.Alert
	if err := detect.ReadNDJSON(&file, func(ev detect.Event) error {
		replayAlerts = append(replayAlerts, replay.Process(ctx, ev)...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := final(replayAlerts); !reflect.DeepEqual(got, want) {
		t.Fatalf("replay gave %d alerts, live %d (or they differ)", len(got), len(want))
	}

	// Stop half-way, snapshot, restore into a new engine and go on.
	first := detect.New(cfg)
	var resumed []detect.Alert
	half := len(evs) / 2
	for _, ev := range evs[:half] {
		resumed = append(resumed, first.Process(ctx, ev)...)
	}
	var snap bytes.Buffer
	if err := first.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	second := detect.New(cfg)
	if err := second.Restore(&snap); err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs[half:] {
		resumed = append(resumed, second.Process(ctx, ev)...)
	}
	if got := final(resumed); !reflect.DeepEqual(got, want) {
		t.Fatalf("snapshot and resume gave %d alerts, live %d (or they differ)", len(got), len(want))
	}
}

func TestSaveLoadSnapshotFile(t *testing.T) {
	path := t.TempDir() + "/detect.snap"
	e := detect.New(detect.DefaultConfig())
	if ok, err := e.LoadSnapshot(path); ok || err != nil {
		t.Fatalf("missing snapshot: ok=%v err=%v", ok, err)
	}
	if err := e.SaveSnapshot(path); err != nil {
		t.Fatal(err)
	}
	if ok, err := detect.New(detect.DefaultConfig()).LoadSnapshot(path); !ok || err != nil {
		t.Fatalf("saved snapshot: ok=%v err=%v", ok, err)
	}
	if err := detect.New(detect.DefaultConfig()).Restore(bytes.NewReader([]byte("not gob"))); err == nil {
		t.Fatal("garbage restored without error")
	}
}

func TestSnapshotEvery(t *testing.T) {
	path := t.TempDir() + "/detect.snap"
	evs, cfg := sealedStream(t, 20, 12)
	e := detect.New(cfg)
	for _, ev := range evs[:len(evs)/3] {
		e.Process(context.Background(), ev)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		e.SnapshotEvery(ctx, path, 5*time.Millisecond, func(err error) { t.Error(err) })
		close(done)
	}()
	time.Sleep(30 * time.Millisecond)
	cancel()
	<-done
	r := detect.New(cfg)
	if ok, err := r.LoadSnapshot(path); !ok || err != nil {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	if r.Now() != e.Now() || r.Stats() != e.Stats() {
		t.Fatalf("restored %v %+v, want %v %+v", r.Now(), r.Stats(), e.Now(), e.Stats())
	}
}
