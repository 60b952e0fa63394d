package pgwire

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/custos-dev/custos/pgsql"
)

// A read the gateway refuses after it ran has, outside a transaction
// block, committed by then: a SELECT that calls nextval or a function
// that inserts keeps those effects. When such a read goes as one simple
// query, the gateway sends it as an extended-protocol segment whose Sync
// it holds until the result is decided (splitQuery), so that a refusal
// rolls it back. That costs a round trip, so only reads that call a
// volatile function (pg_proc.provolatile = 'v', the only kind that may
// write) go that way.

// callsVolatile reports whether a statement calls a function the upstream
// marks volatile; true when the catalogue cannot say (an unknown function,
// a failed look-up), as the cost of being wrong the other way is a write
// that a refusal does not undo.
func (ss *session) callsVolatile(ctx context.Context, s *pgsql.Statement) bool {
	for _, f := range s.Functions {
		v, err := ss.s.meta.volatile(ctx, ss.db, f)
		if err != nil {
			ss.s.Log.Warn("pgwire: function look-up failed; holding the read back", "err", err)
			return true
		}
		if v {
			return true
		}
	}
	return false
}

// volatileEntry is a cached answer of volatile.
type volatileEntry struct {
	volatile bool
	loaded   time.Time
}

// volatile reports whether any function of that name (schema-qualified
// as written, or not) is volatile or unknown in db. Answers are cached for
// metaTTL.
func (m *metaCache) volatile(ctx context.Context, db, fn string) (bool, error) {
	key := metaName{db, fn}
	now := time.Now()
	m.mu.Lock()
	e, ok := m.funcs[key]
	m.mu.Unlock()
	if ok && now.Sub(e.loaded) < metaTTL {
		return e.volatile, nil
	}
	p, err := m.pool(ctx, db)
	if err != nil {
		return false, err
	}
	schema, name, qualified := strings.Cut(fn, ".")
	if !qualified {
		schema, name = "", fn
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// No overload found counts as volatile: the function may be one the
	// gateway's login cannot see.
	var v bool
	err = p.QueryRow(ctx, `SELECT coalesce(bool_or(p.provolatile = 'v'), true)
		FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
		WHERE p.proname = $1 AND ($2 = '' OR n.nspname = $2)`, name, schema).Scan(&v)
	if err != nil {
		return false, fmt.Errorf("function look-up: %w", err)
	}
	m.mu.Lock()
	if m.funcs == nil || len(m.funcs) >= 4096 {
		m.funcs = map[metaName]volatileEntry{}
	}
	m.funcs[key] = volatileEntry{volatile: v, loaded: now}
	m.mu.Unlock()
	return v, nil
}
