package detect

import (
	"sync"
	"time"
)

// RelationTable is an in-memory need-to-know table on event time: which
// actor has a business relationship with which subject hash, until when.
// It implements Relations for the engine (policy's table answers on the
// wall clock and per kind; detection asks "any relationship at the
// event's time"). Safe for concurrent use.
type RelationTable struct {
	mu sync.RWMutex
	m  map[relKey]int64 // until, Unix nanoseconds; 0 for never expiring
}

type relKey struct{ actor, hash string }

var _ Relations = (*RelationTable)(nil)

// NewRelationTable returns an empty table.
func NewRelationTable() *RelationTable {
	return &RelationTable{m: map[relKey]int64{}}
}

// Add records that actor may see the subject with blind-index hash until
// until (zero: no expiry). A later Add replaces the expiry.
func (r *RelationTable) Add(actor, hash string, until time.Time) {
	var u int64
	if !until.IsZero() && until.Year() < 2262 {
		u = until.UnixNano()
	}
	r.mu.Lock()
	r.m[relKey{actor, hash}] = u
	r.mu.Unlock()
}

// Related reports whether actor had a relationship with the subject at
// the event time at.
func (r *RelationTable) Related(actor, _ string, hash string, at time.Time) bool {
	r.mu.RLock()
	u, ok := r.m[relKey{actor, hash}]
	r.mu.RUnlock()
	return ok && (u == 0 || at.UnixNano() <= u)
}

// Prune drops relationships that expired before t and returns how many.
func (r *RelationTable) Prune(t time.Time) int {
	n := 0
	r.mu.Lock()
	for k, u := range r.m {
		if u != 0 && u < t.UnixNano() {
			delete(r.m, k)
			n++
		}
	}
	r.mu.Unlock()
	return n
}

// Len is the number of relationships held.
func (r *RelationTable) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.m)
}
