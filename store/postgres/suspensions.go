package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/custos-dev/custos"
)

// SuspendActor records that actor is suspended, by whom and why, and
// reports whether this suspended it. An actor already suspended keeps its
// first suspension: an incident's alert is reported again as it grows.
func (s *Store) SuspendActor(ctx context.Context, actor, by, reason string, at time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO suspensions (actor, by, reason, time) VALUES ($1, $2, $3, $4)
		ON CONFLICT (actor) DO NOTHING`, actor, by, reason, at.UnixNano())
	if err != nil {
		return false, fmt.Errorf("postgres: suspend actor: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// LiftSuspension ends actor's suspension; custos.ErrNotFound if there was
// none.
func (s *Store) LiftSuspension(ctx context.Context, actor string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM suspensions WHERE actor = $1`, actor)
	if err != nil {
		return fmt.Errorf("postgres: lift suspension: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: lift suspension: %w", custos.ErrNotFound)
	}
	return nil
}

// SuspendedActors lists the suspended actors.
func (s *Store) SuspendedActors(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT actor FROM suspensions ORDER BY actor`)
	if err != nil {
		return nil, fmt.Errorf("postgres: suspended actors: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("postgres: suspended actors: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: suspended actors: %w", err)
	}
	return out, nil
}

// ReviewActor puts actor under review until the given time because of an
// alert, and reports whether this started a review (one already running
// until later is left as it is).
func (s *Store) ReviewActor(ctx context.Context, actor string, until time.Time, alert, rule string, now time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO reviews (actor, until, alert, rule) VALUES ($1, $2, $3, $4)
		ON CONFLICT (actor) DO UPDATE SET until = excluded.until, alert = excluded.alert, rule = excluded.rule
		WHERE reviews.until <= $5`, actor, until.UnixNano(), alert, rule, now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("postgres: review actor: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// ActorsUnderReview returns the actors whose review runs past now, with
// its end.
func (s *Store) ActorsUnderReview(ctx context.Context, now time.Time) (map[string]time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT actor, until FROM reviews WHERE until > $1`, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("postgres: actors under review: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var a string
		var until int64
		if err := rows.Scan(&a, &until); err != nil {
			return nil, fmt.Errorf("postgres: actors under review: %w", err)
		}
		out[a] = time.Unix(0, until)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: actors under review: %w", err)
	}
	return out, nil
}

// SetActorRisk records an actor's risk from its latest alert.
func (s *Store) SetActorRisk(ctx context.Context, actor string, risk float64, at time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO actor_risk (actor, risk, at) VALUES ($1, $2, $3)
		ON CONFLICT (actor) DO UPDATE SET risk = excluded.risk, at = excluded.at`, actor, risk, at.UnixNano())
	if err != nil {
		return fmt.Errorf("postgres: actor risk: %w", err)
	}
	return nil
}

// ActorRisks returns the risks recorded since the given time.
func (s *Store) ActorRisks(ctx context.Context, since time.Time) (map[string]ActorRisk, error) {
	rows, err := s.pool.Query(ctx, `SELECT actor, risk, at FROM actor_risk WHERE at >= $1`, since.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("postgres: actor risks: %w", err)
	}
	defer rows.Close()
	out := map[string]ActorRisk{}
	for rows.Next() {
		var a string
		var r ActorRisk
		var at int64
		if err := rows.Scan(&a, &r.Risk, &at); err != nil {
			return nil, fmt.Errorf("postgres: actor risks: %w", err)
		}
		r.At = time.Unix(0, at)
		out[a] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: actor risks: %w", err)
	}
	return out, nil
}

// ActorRisk is an actor's risk from its latest alert and when it was
// recorded.
type ActorRisk struct {
	Risk float64
	At   time.Time
}
