package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/custos-dev/custos/policy"
)

// AppendRelationships persists accepted relationship changes
// (policy.RelationshipLog), in one transaction.
func (s *Store) AppendRelationships(ctx context.Context, added, removed []policy.Relationship) error {
	if len(added)+len(removed) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, r := range added {
		var exp int64
		if !r.Expires.IsZero() {
			exp = r.Expires.UnixNano()
		}
		b.Queue(`INSERT INTO relationships (actor, subject, kind, expires) VALUES ($1, $2, $3, $4)
			ON CONFLICT (actor, subject, kind) DO UPDATE SET expires = excluded.expires`, r.Actor, r.Subject, r.Kind, exp)
	}
	for _, r := range removed {
		b.Queue(`DELETE FROM relationships WHERE actor = $1 AND subject = $2 AND kind = $3`, r.Actor, r.Subject, r.Kind)
	}
	if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() }); err != nil {
		return fmt.Errorf("postgres: persist relationships: %w", err)
	}
	return nil
}

// Relationships calls fn for every stored relationship that has not
// expired at now.
func (s *Store) Relationships(ctx context.Context, now time.Time, fn func(policy.Relationship)) error {
	rows, err := s.pool.Query(ctx, `SELECT actor, subject, kind, expires FROM relationships WHERE expires = 0 OR expires > $1`, now.UnixNano())
	if err != nil {
		return fmt.Errorf("postgres: relationships: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r policy.Relationship
		var exp int64
		if err := rows.Scan(&r.Actor, &r.Subject, &r.Kind, &exp); err != nil {
			return fmt.Errorf("postgres: relationships: %w", err)
		}
		if exp != 0 {
			r.Expires = time.Unix(0, exp).UTC()
		}
		fn(r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: relationships: %w", err)
	}
	return nil
}

// watchRank orders watchlist kinds as policy.Watchlist does: a subject
// listed twice keeps the stronger kind.
const watchRank = `(CASE %s WHEN 'honeytoken' THEN 3 WHEN 'approval' THEN 2 WHEN 'alert' THEN 1 ELSE 0 END)`

// SaveWatchlist persists a watchlist change (policy.WatchLog).
func (s *Store) SaveWatchlist(ctx context.Context, set []policy.WatchEntry, unset []string) error {
	if len(set)+len(unset) == 0 {
		return nil
	}
	upsert := fmt.Sprintf(`INSERT INTO watchlist (subject, kind, note) VALUES ($1, $2, $3)
		ON CONFLICT (subject) DO UPDATE SET kind = excluded.kind, note = excluded.note
		WHERE %s > %s`, fmt.Sprintf(watchRank, "excluded.kind"), fmt.Sprintf(watchRank, "watchlist.kind"))
	b := &pgx.Batch{}
	for _, e := range set {
		b.Queue(upsert, e.Subject, string(e.Kind), e.Note)
	}
	for _, subject := range unset {
		b.Queue(`DELETE FROM watchlist WHERE subject = $1`, subject)
	}
	if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() }); err != nil {
		return fmt.Errorf("postgres: persist watchlist: %w", err)
	}
	return nil
}

// Watchlist returns every stored watchlist entry.
func (s *Store) Watchlist(ctx context.Context) ([]policy.WatchEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT subject, kind, note FROM watchlist ORDER BY subject`)
	if err != nil {
		return nil, fmt.Errorf("postgres: watchlist: %w", err)
	}
	defer rows.Close()
	var out []policy.WatchEntry
	for rows.Next() {
		var e policy.WatchEntry
		var kind string
		if err := rows.Scan(&e.Subject, &kind, &e.Note); err != nil {
			return nil, fmt.Errorf("postgres: watchlist: %w", err)
		}
		e.Kind = policy.WatchKind(kind)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: watchlist: %w", err)
	}
	return out, nil
}
