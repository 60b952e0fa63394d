package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/custos-dev/custos"
)

// History queries page by sequence number, newest first, with half-open
// time bounds that also prune partitions.
const (
	subjectQuery = `SELECT e.seq, e.doc FROM event_subjects s
		JOIN events e ON e.seq = s.seq AND e.time = s.time
		WHERE s.subject = $1 AND s.time >= $2 AND s.time < $3 AND s.seq < $4
		ORDER BY s.seq DESC LIMIT $5`
	actorQuery = `SELECT seq, doc FROM events
		WHERE actor = $1 AND time >= $2 AND time < $3 AND seq < $4 ORDER BY seq DESC LIMIT $5`
	systemQuery = `SELECT seq, doc FROM events
		WHERE system = $1 AND time >= $2 AND time < $3 AND seq < $4 ORDER BY seq DESC LIMIT $5`
	resourceQuery = `SELECT seq, doc FROM events
		WHERE system = $1 AND object = $6 AND time >= $2 AND time < $3 AND seq < $4 ORDER BY seq DESC LIMIT $5`
	accountQuery = `SELECT seq, doc FROM logins
		WHERE account = $1 AND time >= $2 AND time < $3 AND seq < $4 ORDER BY seq DESC LIMIT $5`
	sourceQuery = `SELECT seq, doc FROM logins
		WHERE source_ip = $1 AND time >= $2 AND time < $3 AND seq < $4 ORDER BY seq DESC LIMIT $5`
	accessSinceQuery = `SELECT seq, doc FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`
	loginsSinceQuery = `SELECT seq, doc FROM logins WHERE seq > $1 ORDER BY seq LIMIT $2`
)

// bounds turns a Query into the arguments from, to, before, limit.
func bounds(q custos.Query) []any {
	before, from, to := int64(math.MaxInt64), int64(math.MinInt64), int64(math.MaxInt64)
	if q.Before > 0 {
		before = q.Before
	}
	if !q.From.IsZero() {
		from = q.From.UnixNano()
	}
	if !q.To.IsZero() {
		to = q.To.UnixNano()
	}
	return []any{from, to, before, clampLimit(q.Limit)}
}

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return custos.DefaultLimit
	case n > custos.MaxLimit:
		return custos.MaxLimit
	}
	return n
}

// SubjectAccesses returns accesses that touched the subject, newest first.
func (s *Store) SubjectAccesses(ctx context.Context, subjectType, hash string, q custos.Query) ([]custos.StoredAccess, error) {
	args := append([]any{subjectKey(subjectType, hash)}, bounds(q)...)
	out, err := queryDocs[custos.StoredAccess](ctx, s, subjectQuery, args...)
	if err != nil {
		// The hash is keyed, safe to name; the value never gets here.
		return nil, fmt.Errorf("postgres: accesses of subject %s/%s: %w", subjectType, hash, err)
	}
	return out, nil
}

// ActorAccesses returns an actor's accesses, newest first.
func (s *Store) ActorAccesses(ctx context.Context, actorID string, q custos.Query) ([]custos.StoredAccess, error) {
	out, err := queryDocs[custos.StoredAccess](ctx, s, actorQuery, append([]any{actorID}, bounds(q)...)...)
	if err != nil {
		return nil, fmt.Errorf("postgres: accesses of actor %s: %w", actorID, err)
	}
	return out, nil
}

// ResourceAccesses returns accesses to a system, or to one object of it
// when object is not empty, newest first.
func (s *Store) ResourceAccesses(ctx context.Context, system, object string, q custos.Query) ([]custos.StoredAccess, error) {
	query, args := systemQuery, append([]any{system}, bounds(q)...)
	if object != "" {
		query, args = resourceQuery, append(args, object)
	}
	out, err := queryDocs[custos.StoredAccess](ctx, s, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: accesses of resource %s/%s: %w", system, object, err)
	}
	return out, nil
}

// AccountLogins returns an account's logins, newest first.
func (s *Store) AccountLogins(ctx context.Context, account string, q custos.Query) ([]custos.StoredLogin, error) {
	out, err := queryDocs[custos.StoredLogin](ctx, s, accountQuery, append([]any{account}, bounds(q)...)...)
	if err != nil {
		return nil, fmt.Errorf("postgres: logins of account %s: %w", account, err)
	}
	return out, nil
}

// SourceLogins returns the logins from one source address, newest first.
func (s *Store) SourceLogins(ctx context.Context, ip string, q custos.Query) ([]custos.StoredLogin, error) {
	out, err := queryDocs[custos.StoredLogin](ctx, s, sourceQuery, append([]any{ip}, bounds(q)...)...)
	if err != nil {
		return nil, fmt.Errorf("postgres: logins from source %s: %w", ip, err)
	}
	return out, nil
}

// AccessSince returns up to limit accesses with a sequence number greater
// than seq, in sequence order.
func (s *Store) AccessSince(ctx context.Context, seq int64, limit int) ([]custos.StoredAccess, error) {
	out, err := queryDocs[custos.StoredAccess](ctx, s, accessSinceQuery, seq, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: accesses since %d: %w", seq, err)
	}
	return out, nil
}

// LoginsSince returns up to limit logins with a sequence number greater
// than seq, in sequence order.
func (s *Store) LoginsSince(ctx context.Context, seq int64, limit int) ([]custos.StoredLogin, error) {
	out, err := queryDocs[custos.StoredLogin](ctx, s, loginsSinceQuery, seq, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: logins since %d: %w", seq, err)
	}
	return out, nil
}

// Offset returns a consumer's recorded position, 0 if it has none.
func (s *Store) Offset(ctx context.Context, consumer string) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT seq FROM consumer_offsets WHERE consumer = $1`, consumer).Scan(&seq)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("postgres: offset of %s: %w", consumer, err)
	}
	return seq, nil
}

// stored is a stored event type: a sequence number and a JSON document.
type stored interface {
	custos.StoredAccess | custos.StoredLogin
}

func queryDocs[E stored](ctx context.Context, s *Store, query string, args ...any) ([]E, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []E{}
	for rows.Next() {
		var seq int64
		var doc []byte
		if err := rows.Scan(&seq, &doc); err != nil {
			return nil, err
		}
		var e E
		switch v := any(&e).(type) {
		case *custos.StoredAccess:
			v.Seq = seq
			err = json.Unmarshal(doc, &v.AccessEvent)
		case *custos.StoredLogin:
			v.Seq = seq
			err = json.Unmarshal(doc, &v.LoginEvent)
		}
		if err != nil {
			return nil, fmt.Errorf("decode event seq %d: %w", seq, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
