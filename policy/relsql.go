package policy

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// SQLRelationships answers has_relationship for one kind from a business
// database: Query takes the actor id as its only parameter and returns one
// column, the identifiers of the subjects the actor currently has that
// relationship with (SELECT p.id_number FROM bookings b JOIN passengers p …
// WHERE b.agent_id = $1 AND b.status = 'open'). Values are hashed with the
// blind index as they are read and only hashes are kept, per actor, for TTL.
//
// A lookup that fails (database down, timeout) answers false: need-to-know
// fails closed. Concurrent lookups of the same actor share one query.
type SQLRelationships struct {
	DB          *sql.DB
	Kind        string
	SubjectType string
	Query       string
	Hash        func(typ, value string) (string, error)
	TTL         time.Duration // default 1 minute
	Timeout     time.Duration // per query; default 2 seconds
	Logger      *slog.Logger
	Now         func() time.Time

	mu    sync.Mutex
	cache map[string]*actorSubjects
}

type actorSubjects struct {
	ready   chan struct{} // closed when the load finished
	fetched time.Time
	ok      bool
	hashes  map[string]struct{}
}

var _ RelationshipChecker = (*SQLRelationships)(nil)

func (s *SQLRelationships) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// HasRelationship reports whether the query lists subject for actor.
func (s *SQLRelationships) HasRelationship(actor, subject, kind string) bool {
	if kind != s.Kind {
		return false
	}
	e := s.entry(actor)
	<-e.ready
	if !e.ok {
		return false
	}
	_, ok := e.hashes[subject]
	return ok
}

// entry returns the actor's cached subjects, starting a load if they are
// missing or stale.
func (s *SQLRelationships) entry(actor string) *actorSubjects {
	ttl := s.TTL
	if ttl <= 0 {
		ttl = time.Minute
	}
	s.mu.Lock()
	if s.cache == nil {
		s.cache = map[string]*actorSubjects{}
	}
	e := s.cache[actor]
	if e != nil {
		select {
		case <-e.ready:
			// A failed load is retried after a few seconds, not on every
			// request, so a down database is not hammered.
			age := s.now().Sub(e.fetched)
			if e.ok && age < ttl || !e.ok && age < min(ttl, 5*time.Second) {
				s.mu.Unlock()
				return e
			}
		default:
			s.mu.Unlock()
			return e // a load is under way: share it
		}
	}
	e = &actorSubjects{ready: make(chan struct{})}
	s.cache[actor] = e
	s.mu.Unlock()
	s.load(actor, e)
	return e
}

func (s *SQLRelationships) load(actor string, e *actorSubjects) {
	defer close(e.ready)
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	hashes, err := s.fetch(ctx, actor)
	e.fetched = s.now()
	if err != nil {
		log := s.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Error("relationships: lookup failed; answering no relationship", "kind", s.Kind, "actor", actor, "err", err)
		return
	}
	e.hashes, e.ok = hashes, true
}

func (s *SQLRelationships) fetch(ctx context.Context, actor string) (map[string]struct{}, error) {
	rows, err := s.DB.QueryContext(ctx, s.Query, actor)
	if err != nil {
		return nil, fmt.Errorf("relationships %s: query: %w", s.Kind, err)
	}
	defer rows.Close()
	hashes := map[string]struct{}{}
	var v sql.NullString
	for rows.Next() {
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("relationships %s: scan: %w", s.Kind, err)
		}
		if !v.Valid || v.String == "" {
			continue
		}
		h, err := s.Hash(s.SubjectType, v.String)
		if err != nil {
			continue // not a valid identifier of the type: cannot match a subject
		}
		hashes[h] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("relationships %s: rows: %w", s.Kind, err)
	}
	return hashes, nil
}

// Invalidate drops an actor's cached subjects (after a reassignment).
func (s *SQLRelationships) Invalidate(actor string) {
	s.mu.Lock()
	delete(s.cache, actor)
	s.mu.Unlock()
}
