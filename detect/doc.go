// Package detect is Custos's streaming detection engine: stateful rules
// over sealed access and login events, keyed by actor, subject hash and
// source, running on event time so that a replay of history gives the
// same alerts as the same events seen live.
//
// An Engine is fed events in time order (Process); it returns alerts,
// one per incident (a later match of the same rule on the same actor or
// source within a day updates the open alert: same ID, more evidence).
// State is bounded (idle actors and sources are evicted) and can be
// saved and restored (Snapshot, Restore) so a restart resumes without
// re-reading history.
//
// Alerts never carry raw identifiers: subjects appear as their masked
// form or a hash prefix. The rules, their signals and default thresholds
// are documented in docs/detection.md.
package detect
