package detect

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/custos-dev/custos"
)

// reads returns n reads by actor of distinct subjects (keyed by prefix)
// from start, at irregular human gaps between minGap and maxGap.
func reads(actor, role, prefix string, start time.Time, n int, minGap, maxGap time.Duration, cats ...string) []Event {
	if len(cats) == 0 {
		cats = []string{custos.CategoryIdentity}
	}
	var evs []Event
	at := start
	for k := 0; k < n; k++ {
		ev := access(fmt.Sprintf("%s-%s-%d", actor, prefix, k), actor, at, custos.ActionRead, subj(fmt.Sprintf("%s%012d", prefix, k)))
		ev.Actor.Roles = []string{role}
		ev.Categories = cats
		evs = append(evs, Event{Access: ev})
		// A fixed pseudo-random walk over the gap range: irregular, so
		// that no cadence rule fires.
		steps := int64((maxGap - minGap) / time.Second)
		at = at.Add(minGap + time.Duration((int64(k)*7919+int64(len(prefix))*104729)%(steps+1))*time.Second)
	}
	return evs
}

func byTime(evs []Event) []Event {
	slices.SortStableFunc(evs, func(a, b Event) int { return a.Time().Compare(b.Time()) })
	return evs
}

// TestBulkThresholds checks each of the bulk rule's thresholds: the
// absolute floors, the actor's own baseline and the peer group's median,
// each firing one subject above the threshold and not at it.
func TestBulkThresholds(t *testing.T) {
	day := t0.Add(-2 * time.Hour) // 07:00
	tests := []struct {
		name    string
		cfg     func(*Config)
		history func() []Event // before the measured day
		actor   string
		n       int // distinct subjects that day: threshold+1
		cats    []string
		wantThr float64
		wantSev Severity
	}{
		{name: "absolute floor", actor: "b1", n: 201, wantThr: 200, wantSev: SeverityHigh},
		{name: "credit floor", actor: "b1", n: 51, cats: []string{custos.CategoryCredit}, wantThr: 50, wantSev: SeverityHigh},
		{name: "hard stop", actor: "b1", n: 1001, wantThr: 1000, wantSev: SeverityCritical},
		{
			name: "own baseline above the floor",
			cfg:  func(c *Config) { c.BulkFloor = 10 },
			history: func() []Event {
				var evs []Event
				// Twelve days of 30 ending two days before, so that the
				// learning days' own floor alerts are closed incidents.
				for d := 0; d < 12; d++ {
					evs = append(evs, reads("b1", "solo", fmt.Sprintf("h%02d", d), day.AddDate(0, 0, d-14), 30, 7*time.Minute, 20*time.Minute)...)
				}
				return evs
			},
			actor: "b1", n: 31, wantThr: 30, wantSev: SeverityHigh,
		},
		{
			name: "peer group above the floor",
			cfg:  func(c *Config) { c.BulkFloor = 10 },
			history: func() []Event {
				var evs []Event
				for _, p := range []string{"p1", "p2", "p3"} {
					for d := -2; d <= 0; d++ {
						evs = append(evs, reads(p, "agent", fmt.Sprintf("%s%d", p, d+2), day.AddDate(0, 0, d), 20, 7*time.Minute, 20*time.Minute)...)
					}
				}
				return evs
			},
			// A fresh agent (no own history): 3 × the peers' median
			// of 20.
			actor: "q1", n: 61, wantThr: 60, wantSev: SeverityHigh,
		},
	}
	for _, tc := range tests {
		for _, n := range []int{tc.n - 1, tc.n} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, n), func(t *testing.T) {
				cfg := DefaultConfig()
				if tc.cfg != nil {
					tc.cfg(&cfg)
				}
				e := New(cfg)
				var evs []Event
				if tc.history != nil {
					evs = tc.history()
				}
				gapMin, gapMax := 7*time.Minute, 20*time.Minute
				if n > 100 {
					gapMin, gapMax = 31*time.Second, 60*time.Second
				}
				role := "agent"
				if tc.actor == "b1" && tc.history != nil {
					role = "solo"
				}
				// The measured day keeps the history's hours (same start,
				// same gaps), so that no off-hours alert mixes in; at
				// equal times the peers' events come first.
				from := day
				evs = append(evs, reads(tc.actor, role, "m00", from, n, gapMin, gapMax, tc.cats...)...)
				// Only the measured actor's day counts: peers and the
				// learning days cross the lowered floor themselves.
				var bulk []Alert
				for _, a := range run(e, byTime(evs)) {
					if a.Actor == nil || *a.Actor != tc.actor || a.DetectedAt.Before(from) {
						continue
					}
					if a.Rule != RuleBulk {
						t.Errorf("unexpected %s alert: %s", a.Rule, a.Summary)
						continue
					}
					bulk = append(bulk, a)
				}
				if n < tc.n {
					for _, a := range bulk {
						if a.Severity == tc.wantSev {
							t.Fatalf("%d distinct subjects raised bulk: threshold %v observed %v", n, a.Threshold, a.Observed)
						}
					}
					return
				}
				if len(bulk) == 0 {
					t.Fatalf("%d distinct subjects raised no bulk alert", n)
				}
				last := bulk[len(bulk)-1]
				if *last.Actor != tc.actor || last.Threshold != tc.wantThr || last.Severity != tc.wantSev {
					t.Fatalf("bulk alert: actor %s threshold %v severity %s, want %s %v %s", *last.Actor, last.Threshold, last.Severity, tc.actor, tc.wantThr, tc.wantSev)
				}
			})
		}
	}
}

// TestReturnedIncidentKeepsUp: updates of an incident are returned at
// powers of two of its event count and whenever ReportEvery (10 min) of
// event time has passed since the last one, so the latest returned state
// — what the server stores — lags the incident by less than that.
func TestReturnedIncidentKeepsUp(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Relations = relSet{}
	e := New(cfg)
	// 50 unrelated look-ups a minute apart: no_relationship from the 5th.
	evs := reads("a1", "agent", "u", t0, 50, time.Minute, time.Minute)
	var last Alert
	returned := 0
	for _, a := range run(e, evs) {
		if a.Rule == RuleNoRelationship {
			last = a
			returned++
		}
	}
	if lag := evs[len(evs)-1].Time().Sub(last.LastSeen); lag >= cfg.ReportEvery || last.Events < 40 {
		t.Fatalf("latest returned state: %d events, last seen %v before the incident's last event", last.Events, lag)
	}
	// Not every event: 46 matches, returned at 1, 2, 4, 8, 16, 32 and
	// every 10 minutes.
	if returned > 12 {
		t.Fatalf("%d updates returned for 46 matching events", returned)
	}
}

// TestStateStaysBounded: the actor table never passes MaxActors (the
// least recently seen tenth goes), and an actor idle for longer than
// IdleEvict is dropped at the next day's sweep, with its sessions — but
// when it was last seen is kept, so its return is a dormant account.
func TestStateStaysBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxActors = 100
	e := New(cfg)
	var evs []Event
	for k := 0; k < 1000; k++ {
		ev := access(fmt.Sprintf("x%d", k), fmt.Sprintf("emp-%d", k), t0.Add(time.Duration(k)*time.Second), custos.ActionRead, subj(fmt.Sprintf("1101011990%08d", k)))
		evs = append(evs, Event{Access: ev})
	}
	run(e, evs)
	if st := e.Stats(); st.Actors > cfg.MaxActors || st.Actors < cfg.MaxActors*8/10 {
		t.Fatalf("%d actors held, MaxActors %d", st.Actors, cfg.MaxActors)
	}

	e = New(DefaultConfig())
	run(e, []Event{{Access: access("old", "emp-old", t0, custos.ActionRead, subj("110101199000000001"))}})
	late := t0.Add(DefaultConfig().IdleEvict + 48*time.Hour)
	run(e, []Event{{Access: access("new", "emp-new", late, custos.ActionRead, subj("110101199000000002"))}})
	if st := e.Stats(); st.Actors != 1 || st.Sessions != 1 {
		t.Fatalf("after %v idle: %+v, want only the new actor and its session", DefaultConfig().IdleEvict, st)
	}
	got := run(e, []Event{{Access: access("back", "emp-old", late.Add(time.Hour), custos.ActionRead, subj("110101199000000003"))}})
	if r := rulesOf(got); !slices.Equal(r, []string{RuleDormant}) || got[0].Observed < 47 {
		t.Fatalf("evicted actor back after %v: %v", late.Sub(t0), got)
	}
	// Much later still, the memory of the actor is gone too.
	e = New(DefaultConfig())
	run(e, []Event{{Access: access("old", "emp-old", t0, custos.ActionRead, subj("110101199000000001"))}})
	later := t0.Add(DefaultConfig().IdleEvict + DefaultConfig().DormantKeep + 48*time.Hour)
	run(e, []Event{{Access: access("mid", "emp-new", t0.Add(DefaultConfig().IdleEvict+24*time.Hour), custos.ActionRead, subj("110101199000000002"))}})
	run(e, []Event{{Access: access("new", "emp-new", later, custos.ActionRead, subj("110101199000000002"))}})
	if got := run(e, []Event{{Access: access("back", "emp-old", later.Add(time.Hour), custos.ActionRead, subj("110101199000000003"))}}); len(got) != 0 {
		t.Fatalf("actor back after %v: %v", later.Sub(t0), rulesOf(got))
	}
}
