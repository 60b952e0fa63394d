package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/custos-dev/custos"
)

// UpsertAlerts stores alerts durably. An alert already stored (same id) is
// updated with the detector's latest view but keeps the status an analyst
// gave it. Detectors that replay a partition after a takeover upsert the
// same alerts again, which changes nothing.
func (s *Store) UpsertAlerts(ctx context.Context, alerts []custos.AlertRecord) error {
	if len(alerts) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, a := range alerts {
		status := a.Status
		if status == "" {
			status = custos.AlertOpen
		}
		// A new alert like a recent false positive (same rule and actor,
		// or same source for an alert without actor) is suppressed; an
		// existing alert keeps whatever status it has.
		b.Queue(`INSERT INTO alerts (id, rule, severity, actor, source_ip, first_seen, last_seen, status, summary, evidence)
			VALUES ($1, $2, $3, $4, $5, $6, $7,
				CASE WHEN EXISTS (SELECT 1 FROM alerts f WHERE f.rule = $2
					AND (CASE WHEN $4 <> '' THEN f.actor = $4 ELSE f.actor = '' AND f.source_ip = $5 END)
					AND f.status = 'false_positive' AND f.last_seen >= $11) THEN 'suppressed' ELSE $8 END,
				$9, $10)
			ON CONFLICT (id) DO UPDATE SET
				severity = excluded.severity, last_seen = excluded.last_seen,
				summary = excluded.summary, evidence = excluded.evidence`,
			a.ID, a.Rule, a.Severity, a.Actor, a.SourceIP, a.FirstSeen.UnixNano(), a.LastSeen.UnixNano(),
			string(status), a.Summary, []byte(a.Doc), a.FirstSeen.Add(-custos.SuppressFor).UnixNano())
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: upsert %d alerts: %w", len(alerts), err)
	}
	return nil
}

// SetAlertStatus moves an alert in the workflow; an unknown id wraps
// custos.ErrNotFound.
func (s *Store) SetAlertStatus(ctx context.Context, id string, status custos.AlertStatus) error {
	tag, err := s.pool.Exec(ctx, `UPDATE alerts SET status = $1 WHERE id = $2`, string(status), id)
	if err != nil {
		return fmt.Errorf("postgres: set status of alert %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: alert %s: %w", id, custos.ErrNotFound)
	}
	return nil
}

// Alerts returns alerts matching q, most recently active first.
func (s *Store) Alerts(ctx context.Context, q custos.AlertQuery) ([]custos.AlertRecord, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if !q.From.IsZero() {
		add("last_seen >= $%d", q.From.UnixNano())
	}
	if !q.To.IsZero() {
		add("last_seen < $%d", q.To.UnixNano())
	}
	if q.Severity != "" {
		add("severity = $%d", q.Severity)
	}
	if q.Status != "" {
		add("status = $%d", string(q.Status))
	}
	if q.Actor != "" {
		add("actor = $%d", q.Actor)
	}
	limit := q.Limit
	if limit <= 0 || limit > custos.MaxLimit {
		limit = custos.DefaultLimit
	}
	query := `SELECT ` + alertColumns + ` FROM alerts`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	query += fmt.Sprintf(" ORDER BY last_seen DESC, id LIMIT $%d", len(args))
	return s.queryAlerts(ctx, query, args...)
}

// AlertsDue returns up to limit alerts not delivered at their current
// severity yet, oldest first (notify.Source).
func (s *Store) AlertsDue(ctx context.Context, limit int) ([]custos.AlertRecord, error) {
	return s.queryAlerts(ctx, `SELECT `+alertColumns+` FROM alerts
		WHERE notified <> severity ORDER BY first_seen, id LIMIT $1`, limit)
}

// MarkNotified records that an alert was delivered at severity.
func (s *Store) MarkNotified(ctx context.Context, id, severity string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE alerts SET notified = $1 WHERE id = $2`, severity, id); err != nil {
		return fmt.Errorf("postgres: mark alert %s notified: %w", id, err)
	}
	return nil
}

// alertColumns are the columns queryAlerts reads, in order.
const alertColumns = `id, rule, severity, actor, source_ip, first_seen, last_seen, status, summary, evidence`

func (s *Store) queryAlerts(ctx context.Context, query string, args ...any) ([]custos.AlertRecord, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: query alerts: %w", err)
	}
	defer rows.Close()
	var out []custos.AlertRecord
	for rows.Next() {
		var a custos.AlertRecord
		var first, last int64
		var status string
		var doc []byte
		if err := rows.Scan(&a.ID, &a.Rule, &a.Severity, &a.Actor, &a.SourceIP, &first, &last, &status, &a.Summary, &doc); err != nil {
			return nil, fmt.Errorf("postgres: read alert: %w", err)
		}
		a.FirstSeen, a.LastSeen = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		a.Status = custos.AlertStatus(status)
		a.Doc = doc
		out = append(out, a)
	}
	return out, rows.Err()
}

// CreateToken stores a token (only its hash). It fails if the ID or the
// hash is already stored.
func (s *Store) CreateToken(ctx context.Context, t custos.Token) error {
	if t.ID == "" || t.Hash == "" {
		return errors.New("postgres: create token: id and hash are required")
	}
	scopes := make([]string, len(t.Scopes))
	for i, sc := range t.Scopes {
		scopes[i] = string(sc)
	}
	created := t.Created
	if created.IsZero() {
		created = time.Now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (id, name, scopes, hash, created) VALUES ($1, $2, $3, $4, $5)`,
		t.ID, t.Name, strings.Join(scopes, ","), t.Hash, created.UnixNano())
	if err != nil {
		return fmt.Errorf("postgres: create token %s: %w", t.ID, err)
	}
	return nil
}

// ListTokens returns all tokens, oldest first.
func (s *Store) ListTokens(ctx context.Context) ([]custos.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, scopes, hash, created FROM tokens ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tokens: %w", err)
	}
	defer rows.Close()
	var out []custos.Token
	for rows.Next() {
		var t custos.Token
		var scopes string
		var created int64
		if err := rows.Scan(&t.ID, &t.Name, &scopes, &t.Hash, &created); err != nil {
			return nil, fmt.Errorf("postgres: list tokens: %w", err)
		}
		t.Scopes = parseScopes(scopes)
		t.Created = time.Unix(0, created).UTC()
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken deletes a token by ID; an unknown ID wraps
// custos.ErrNotFound.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: revoke token %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: revoke token %s: %w", id, custos.ErrNotFound)
	}
	return nil
}

func parseScopes(s string) []custos.Scope {
	var out []custos.Scope
	if s != "" {
		for _, sc := range strings.Split(s, ",") {
			out = append(out, custos.Scope(sc))
		}
	}
	return out
}

// TokenByHash returns the token whose secret hashes to hash; an unknown
// hash wraps custos.ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, hash string) (custos.Token, error) {
	var t custos.Token
	var scopes string
	var created int64
	err := s.pool.QueryRow(ctx, `SELECT id, name, scopes, hash, created FROM tokens WHERE hash = $1`, hash).
		Scan(&t.ID, &t.Name, &scopes, &t.Hash, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return custos.Token{}, fmt.Errorf("postgres: token: %w", custos.ErrNotFound)
	}
	if err != nil {
		// Never echo the hash of a presented secret.
		return custos.Token{}, fmt.Errorf("postgres: look up token: %w", err)
	}
	t.Scopes = parseScopes(scopes)
	t.Created = time.Unix(0, created).UTC()
	return t, nil
}

// SaveSnapshot stores a named blob with the position it covers, replacing
// the previous one unless that one covers a later position (a detector
// that lost its partition must not overwrite the new owner's state).
func (s *Store) SaveSnapshot(ctx context.Context, name string, position uint64, data []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO snapshots (name, position, data, updated) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET position = excluded.position, data = excluded.data, updated = excluded.updated
		WHERE snapshots.position <= excluded.position`,
		name, int64(position), data, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("postgres: save snapshot %s: %w", name, err)
	}
	return nil
}

// LoadSnapshot returns a named blob and its position; ok is false when
// there is none.
func (s *Store) LoadSnapshot(ctx context.Context, name string) (position uint64, data []byte, ok bool, err error) {
	var pos int64
	err = s.pool.QueryRow(ctx, `SELECT position, data FROM snapshots WHERE name = $1`, name).Scan(&pos, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, false, nil
	}
	if err != nil {
		return 0, nil, false, fmt.Errorf("postgres: load snapshot %s: %w", name, err)
	}
	return uint64(pos), data, true, nil
}
