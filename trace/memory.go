package trace

import (
	"context"
	"sync"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/export"
)

// Memory is an in-memory Source and export.Registry, for tests, examples
// and small evaluations. It is safe for concurrent use.
type Memory struct {
	mu        sync.RWMutex
	exports   map[string]export.Export
	order     []string
	holders   map[export.Key][]memHolder
	sightings map[export.Key][]export.Sighting
	events    map[int64]string
	nextSeq   int64
}

type memHolder struct {
	export string
	canary bool
}

var (
	_ Source          = (*Memory)(nil)
	_ export.Registry = (*Memory)(nil)
)

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{
		exports:   map[string]export.Export{},
		holders:   map[export.Key][]memHolder{},
		sightings: map[export.Key][]export.Sighting{},
		events:    map[int64]string{},
	}
}

// RegisterExport implements export.Registry.
func (m *Memory) RegisterExport(ctx context.Context, e export.Export) error {
	if err := e.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.exports[e.ID]; dup {
		return nil
	}
	for canary, list := range [][]custos.Subject{e.Subjects, e.Canaries} {
		for _, s := range list {
			k := export.KeyOf(string(s.Type), s.Hash)
			m.holders[k] = append(m.holders[k], memHolder{e.ID, canary == 1})
		}
	}
	e.Subjects = nil // like the store: canaries are kept, subjects only as keys
	m.exports[e.ID] = e
	m.order = append(m.order, e.ID)
	return nil
}

// Export implements export.Registry.
func (m *Memory) Export(ctx context.Context, id string) (export.Export, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.exports[id]
	if !ok {
		return export.Export{}, custos.ErrNotFound
	}
	return e, nil
}

// ListExports implements export.Registry (newest registered first).
func (m *Memory) ListExports(ctx context.Context, q export.Query) ([]export.Export, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []export.Export
	for i := len(m.order) - 1; i >= 0; i-- {
		e := m.exports[m.order[i]]
		if (q.Actor == "" || e.Actor == q.Actor) && (q.From.IsZero() || !e.Time.Before(q.From)) && (q.To.IsZero() || e.Time.Before(q.To)) {
			out = append(out, e)
		}
	}
	return out, nil
}

// ExportsBySubject implements export.Registry.
func (m *Memory) ExportsBySubject(ctx context.Context, subjectType, hash string) ([]export.Export, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []export.Export
	for _, h := range m.holders[export.KeyOf(subjectType, hash)] {
		out = append(out, m.exports[h.export])
	}
	return out, nil
}

// Access records a sealed access event in the access index.
func (m *Memory) Access(e custos.AccessEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextSeq++
	m.events[m.nextSeq] = e.ID
	for _, s := range e.Subjects {
		k := export.KeyOf(string(s.Type), s.Hash)
		m.sightings[k] = append(m.sightings[k], export.Sighting{Seq: m.nextSeq, Time: e.Time, Actor: e.Actor.ID})
	}
}

// ExportHolders implements Source.
func (m *Memory) ExportHolders(ctx context.Context, keys []export.Key, fn func(int, string, bool)) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for i, k := range keys {
		for _, h := range m.holders[k] {
			fn(i, h.export, h.canary)
		}
	}
	return nil
}

// SubjectSightings implements Source.
func (m *Memory) SubjectSightings(ctx context.Context, keys []export.Key, fn func(int, export.Sighting)) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for i, k := range keys {
		for _, s := range m.sightings[k] {
			fn(i, s)
		}
	}
	return nil
}

// ExportsByID implements Source.
func (m *Memory) ExportsByID(ctx context.Context, ids []string) ([]export.Export, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []export.Export
	for _, id := range ids {
		if e, ok := m.exports[id]; ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// EventIDs implements Source.
func (m *Memory) EventIDs(ctx context.Context, seqs []int64) (map[int64]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := map[int64]string{}
	for _, q := range seqs {
		if id, ok := m.events[q]; ok {
			out[q] = id
		}
	}
	return out, nil
}
