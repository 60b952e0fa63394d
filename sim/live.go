package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/custos-dev/custos"
)

// Batch is what Live hands to emit at each tick: the events whose
// simulated time has come, in time order within each slice.
// Relationships should be delivered before the accesses they justify.
type Batch struct {
	Relationships []Relationship
	Logins        []custos.LoginEvent
	Access        []custos.AccessEvent
}

// LiveOptions control pacing.
type LiveOptions struct {
	// Speedup is simulated seconds per wall-clock second (default 60).
	Speedup float64
	// Start is the simulated start time (default: the wall clock's now).
	Start time.Time
	// Tick is the wall-clock interval between batches (default 250 ms).
	Tick time.Duration
	// Scenarios are injected into the activity (they are not reset:
	// pass fresh ones from Suite).
	Scenarios []*Scenario
	// MaxAhead caps how far simulated time may run ahead of the wall
	// clock (default 12 h, inside the ingest API's 24 h future-skew
	// limit); once reached, the simulation continues in real time.
	// Negative means no cap.
	MaxAhead time.Duration
	// Now is the wall clock (default time.Now); tests replace it.
	Now func() time.Time
}

// Live generates o's activity and calls emit with batches as simulated
// time passes, Speedup times faster than the wall clock (but never more
// than MaxAhead ahead of it), until ctx ends
// (returning nil) or emit fails (returning its error). Days are generated
// one at a time, so memory stays flat however long it runs.
func Live(ctx context.Context, o *Org, opt LiveOptions, emit func(context.Context, Batch) error) error {
	if opt.Speedup <= 0 {
		opt.Speedup = 60
	}
	if opt.Tick <= 0 {
		opt.Tick = 250 * time.Millisecond
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.MaxAhead == 0 {
		opt.MaxAhead = 12 * time.Hour
	}
	wallStart := opt.Now()
	simStart := opt.Start
	if simStart.IsZero() {
		simStart = wallStart
	}
	g := NewGenerator(o, simStart, opt.Scenarios...)
	day := 0
	var pending []Event
	// Skip what happened before simStart on the first day.
	for _, ev := range g.Day(day) {
		if !ev.Time.Before(simStart) {
			pending = append(pending, ev)
		}
	}
	ticker := time.NewTicker(opt.Tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		wallNow := opt.Now()
		simNow := simStart.Add(time.Duration(float64(wallNow.Sub(wallStart)) * opt.Speedup))
		if opt.MaxAhead > 0 && simNow.After(wallNow.Add(opt.MaxAhead)) {
			simNow = wallNow.Add(opt.MaxAhead)
		}
		var b Batch
		for {
			for len(pending) > 0 && !pending[0].Time.After(simNow) {
				ev := pending[0]
				pending = pending[1:]
				switch {
				case ev.Relationship != nil:
					b.Relationships = append(b.Relationships, *ev.Relationship)
				case ev.Login != nil:
					b.Logins = append(b.Logins, *ev.Login)
				case ev.Access != nil:
					b.Access = append(b.Access, *ev.Access)
				}
			}
			if len(pending) > 0 || g.Start.AddDate(0, 0, day+1).After(simNow) {
				break
			}
			day++
			pending = g.Day(day)
		}
		if len(b.Relationships)+len(b.Logins)+len(b.Access) == 0 {
			continue
		}
		if err := emit(ctx, b); err != nil {
			return fmt.Errorf("sim: live emit: %w", err)
		}
	}
}
