package cluster

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/custos-dev/custos/detect"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/store/postgres"
)

// stateRefresh is how often a detector reloads relationships and the
// watchlist from PostgreSQL: a relationship posted to a gateway counts
// for events analysed after the next reload.
const stateRefresh = 5 * time.Second

// sharedState is the need-to-know table and the watchlist every engine of
// a detector consults, loaded from PostgreSQL (written there by the
// gateways' /api/v1/relationships and /watchlist) and reloaded every
// stateRefresh. It implements detect.Relations.
type sharedState struct {
	rel atomic.Pointer[detect.RelationTable]

	mu      sync.Mutex
	watch   map[string]bool // alert and approval entries: the watchlist rule
	honey   map[string]bool
	entries int
	engines map[*detect.Engine]struct{}
}

var _ detect.Relations = (*sharedState)(nil)

func newSharedState() *sharedState {
	s := &sharedState{engines: map[*detect.Engine]struct{}{}}
	s.rel.Store(detect.NewRelationTable())
	return s
}

// Related answers from the latest table loaded.
func (s *sharedState) Related(actor, typ, hash string, at time.Time) bool {
	return s.rel.Load().Related(actor, typ, hash, at)
}

// newEngine returns an engine of cfg with the shared relationships and the
// current watchlist, kept up to date until release.
func (s *sharedState) newEngine(cfg detect.Config) *detect.Engine {
	cfg.Relations = s
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg.Watchlist, cfg.Honeytokens = s.watch, s.honey
	e := detect.New(cfg)
	s.engines[e] = struct{}{}
	return e
}

func (s *sharedState) release(e *detect.Engine) {
	s.mu.Lock()
	delete(s.engines, e)
	s.mu.Unlock()
}

// load reads both from the store and hands a changed watchlist to every
// engine.
func (s *sharedState) load(ctx context.Context, st *postgres.Store) error {
	rel := detect.NewRelationTable()
	if err := st.Relationships(ctx, time.Now(), func(r policy.Relationship) { rel.Add(r.Actor, r.Subject, r.Expires) }); err != nil {
		return err
	}
	entries, err := st.Watchlist(ctx)
	if err != nil {
		return err
	}
	list := policy.NewWatchlist()
	if err := list.Set(entries...); err != nil {
		return err
	}
	// As the embedded server: subjects that need approval are watched too.
	watch := list.Hashes(policy.WatchAlert)
	maps.Copy(watch, list.Hashes(policy.WatchApproval))
	honey := list.Hashes(policy.WatchHoneytoken)
	s.rel.Store(rel)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = len(entries)
	if maps.Equal(watch, s.watch) && maps.Equal(honey, s.honey) {
		return nil
	}
	s.watch, s.honey = watch, honey
	for e := range s.engines {
		e.SetWatchlist(watch, honey)
	}
	return nil
}

// counts returns the relationships and watchlist entries loaded.
func (s *sharedState) counts() (relationships, watchlist int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rel.Load().Len(), s.entries
}
