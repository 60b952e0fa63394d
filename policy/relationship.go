package policy

import (
	"sync"
	"time"
)

// Relationship says that an actor has a business reason to see a data
// subject's data: a booking assigned to an agent, a support ticket, a
// consented credit application. Subject is the subject's blind-index hash.
type Relationship struct {
	Actor   string    `json:"actor" yaml:"actor"`
	Subject string    `json:"subject" yaml:"subject"`
	Kind    string    `json:"kind" yaml:"kind"`
	Expires time.Time `json:"expires,omitzero" yaml:"expires,omitempty"`
}

type relKey struct{ actor, subject, kind string }

// Relationships is the in-memory need-to-know table that has_relationship
// consults. It is filled from business events (the HTTP handler, a SQL
// source, or Add) and answers from memory, so a policy check costs one map
// lookup. Safe for concurrent use.
type Relationships struct {
	// Now is the clock for expiry; time.Now when nil.
	Now func() time.Time
	// Sources are asked, in order, when the table has no answer (a
	// SQLRelationships per kind). Set before use.
	Sources []RelationshipChecker

	mu sync.RWMutex
	m  map[relKey]int64 // expiry in Unix nanoseconds, 0 for none
}

// NewRelationships returns an empty table.
func NewRelationships() *Relationships {
	return &Relationships{m: make(map[relKey]int64)}
}

var _ RelationshipChecker = (*Relationships)(nil)

func (s *Relationships) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Add records a relationship, replacing the expiry of an existing one.
func (s *Relationships) Add(rs ...Relationship) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		var exp int64
		// Beyond 2262 Unix nanoseconds overflow; such an expiry is never.
		if !r.Expires.IsZero() && r.Expires.Year() < 2262 {
			exp = r.Expires.UnixNano()
		}
		s.m[relKey{r.Actor, r.Subject, r.Kind}] = exp
	}
}

// Remove ends a relationship (the booking was reassigned, the ticket closed).
func (s *Relationships) Remove(actor, subject, kind string) {
	s.mu.Lock()
	delete(s.m, relKey{actor, subject, kind})
	s.mu.Unlock()
}

// HasRelationship reports whether actor has an unexpired relationship of
// kind with subject.
func (s *Relationships) HasRelationship(actor, subject, kind string) bool {
	s.mu.RLock()
	exp, ok := s.m[relKey{actor, subject, kind}]
	s.mu.RUnlock()
	if ok && (exp == 0 || s.now().UnixNano() < exp) {
		return true
	}
	for _, src := range s.Sources {
		if src.HasRelationship(actor, subject, kind) {
			return true
		}
	}
	return false
}

// Len returns the number of relationships held, expired ones included
// until Prune.
func (s *Relationships) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

// Prune drops expired relationships and returns how many.
func (s *Relationships) Prune() int {
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, exp := range s.m {
		if exp != 0 && exp <= now {
			delete(s.m, k)
			n++
		}
	}
	return n
}
