package sim

import (
	"context"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/pii"
)

func collect(t *testing.T, o *Org, days int, sc ...*Scenario) []Event {
	t.Helper()
	var out []Event
	if err := Generate(o, SuiteStart, days, sc, func(ev Event) error { out = append(out, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGenerateDeterministicOrderedValid(t *testing.T) {
	for _, k := range Kinds {
		t.Run(string(k), func(t *testing.T) {
			a := collect(t, NewOrg(Config{Kind: k, Seed: 7, Employees: 20}), 3)
			b := collect(t, NewOrg(Config{Kind: k, Seed: 7, Employees: 20}), 3)
			if !reflect.DeepEqual(a, b) {
				t.Fatal("same seed gave different events")
			}
			if len(a) < 200 {
				t.Fatalf("only %d events for 20 employees over 3 days", len(a))
			}
			now := SuiteStart.AddDate(0, 0, 10)
			ids := map[string]bool{}
			var accesses, logins, rels int
			for i, ev := range a {
				if i > 0 && ev.Time.Before(a[i-1].Time) {
					t.Fatalf("event %d out of time order", i)
				}
				switch {
				case ev.Access != nil:
					accesses++
					if errs := ev.Access.Validate(i, now); len(errs) > 0 {
						t.Fatalf("access %d invalid: %v", i, errs)
					}
					if ids[ev.Access.ID] {
						t.Fatalf("duplicate id %s", ev.Access.ID)
					}
					ids[ev.Access.ID] = true
				case ev.Login != nil:
					logins++
					if errs := ev.Login.Validate(i, now); len(errs) > 0 {
						t.Fatalf("login %d invalid: %v", i, errs)
					}
				case ev.Relationship != nil:
					rels++
				}
			}
			if accesses == 0 || logins == 0 || rels == 0 {
				t.Fatalf("accesses %d logins %d relationships %d", accesses, logins, rels)
			}
		})
	}
}

func TestSyntheticIdentifiersAreValid(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1000; i++ {
		id := RandomCNID(r)
		if !pii.Valid(custos.TypeCNID, id) {
			t.Fatalf("cn_id %d does not validate", i)
		}
		m := RandomMobile(r)
		if !pii.Valid(custos.TypeCNMobile, m) {
			t.Fatalf("cn_mobile %d does not validate", i)
		}
	}
	// Known vector: GB 11643 example 11010519491231002X.
	if c := CNIDCheck("11010519491231002"); c != 'X' {
		t.Fatalf("check of example = %c, want X", c)
	}
}

func TestSuiteScenariosInjectWithTruth(t *testing.T) {
	for _, sc := range Suite(20, 12) {
		t.Run(sc.Name, func(t *testing.T) {
			evs := collect(t, sc.Org(), sc.Days, sc)
			n := 0
			for _, ev := range evs {
				if ev.Scenario == sc.Name {
					n++
				}
			}
			if sc.Malicious {
				if n == 0 || sc.Truth.Start.IsZero() || (sc.Truth.Actor == "" && sc.Truth.SourceIP == "") {
					t.Fatalf("injected %d events, truth %+v", n, sc.Truth)
				}
			} else if n != 0 {
				t.Fatalf("benign scenario injected %d events", n)
			}
		})
	}
}

func TestLivePacesSimulatedTime(t *testing.T) {
	var mu sync.Mutex
	begin := time.Date(2026, 3, 2, 8, 0, 0, 0, Zone)
	wall := begin
	// Every look at the clock advances it a second: an hour of simulated
	// time at this speedup.
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); wall = wall.Add(time.Second); return wall }
	o := NewOrg(Config{Kind: Airline, Seed: 3, Employees: 30})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []custos.AccessEvent
	var last time.Time
	err := Live(ctx, o, LiveOptions{Speedup: 3600, Tick: time.Millisecond, Now: now, MaxAhead: -1}, func(ctx context.Context, b Batch) error {
		for _, a := range b.Access {
			if a.Time.Before(last) {
				t.Errorf("access out of order")
			}
			if a.Time.Before(begin) {
				t.Errorf("access before the simulated start")
			}
			last = a.Time
		}
		got = append(got, b.Access...)
		if last.After(begin.Add(36 * time.Hour)) {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 500 {
		t.Fatalf("only %d accesses over a day and a half of live simulation", len(got))
	}
}

func TestLiveStaysWithinMaxAhead(t *testing.T) {
	var mu sync.Mutex
	wall := time.Date(2026, 3, 2, 8, 0, 0, 0, Zone)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); wall = wall.Add(time.Second); return wall }
	o := NewOrg(Config{Kind: Airline, Seed: 4, Employees: 30})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batches := 0
	err := Live(ctx, o, LiveOptions{Speedup: 3600, Tick: time.Millisecond, Now: now, MaxAhead: time.Hour}, func(ctx context.Context, b Batch) error {
		mu.Lock()
		limit := wall.Add(time.Hour + time.Second)
		mu.Unlock()
		for _, a := range b.Access {
			if a.Time.After(limit) {
				t.Fatalf("event %v beyond wall clock + MaxAhead %v", a.Time, limit)
			}
		}
		if batches++; batches > 200 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestIDsDifferAcrossPeriods(t *testing.T) {
	o := NewOrg(Config{Kind: Airline, Seed: 5, Employees: 10})
	ids := map[string]bool{}
	for _, start := range []time.Time{SuiteStart, SuiteStart.AddDate(0, 0, 3)} {
		g := NewGenerator(o, start)
		for _, ev := range g.Day(0) {
			if ev.Access == nil {
				continue
			}
			if ids[ev.Access.ID] {
				t.Fatalf("id %s reused by a generator over another period", ev.Access.ID)
			}
			ids[ev.Access.ID] = true
		}
	}
}

func TestSuiteOnTinyOrganizations(t *testing.T) {
	for _, n := range []int{1, 3, 8} {
		for _, sc := range Suite(n, 4) {
			collect(t, sc.Org(), sc.Days, sc) // must not panic
		}
	}
}
