// Package sim generates synthetic organizations and their staff's
// activity — access events, login events and the business relationships
// (bookings, tickets, consented applications) that justify accesses — for
// the demo, the detection tests and `custos eval`.
//
// Everything is deterministic for a seed. Data subjects are synthetic:
// resident ID numbers carry a valid region code and check digit, mobile
// numbers a valid prefix, but they are drawn at random and belong to
// nobody. Events carry raw subject values (Subject.Value); the pipeline
// blind-indexes them like any sensor's events.
//
// API for the demo (small on purpose):
//
//	org := sim.NewOrg(sim.Config{Kind: sim.Airline, Seed: 1, Employees: 50})
//	err := sim.Live(ctx, org, sim.LiveOptions{Speedup: 60}, func(ctx context.Context, b sim.Batch) error {
//		// b.Relationships first (POST /api/v1/relationships), then
//		// b.Logins (POST /logins) and b.Access (POST /events)
//		return nil
//	})
//
// Live paces simulated time against the wall clock (Speedup simulated
// seconds per wall second, starting at the wall clock's now unless
// LiveOptions.Start is set), never more than LiveOptions.MaxAhead (12 h)
// ahead of the wall clock so the ingest API accepts the events, and returns
// when ctx ends or emit fails. With LiveOptions.Scenarios (e.g.
// sim.Suite(50, 3): attacks within the first five simulated days) it also
// injects insiders and attackers.
//
// For offline use, Generate calls a function with every event of a period
// in time order, and Suite lists the scenario suite (seeds included) that
// `custos eval` runs, each scenario with its ground truth.
package sim
