package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/custos-dev/custos"
)

// AppendAudit stores audit events durably, in order, skipping ids stored
// before. Sequence numbers are taken under an advisory lock so that they
// commit in order: the ledger follower reads "after seq n" and must not
// skip a number that commits late.
func (s *Store) AppendAudit(ctx context.Context, events []custos.AuditEvent) error {
	docs, err := custos.EncodeAudit(events)
	if err != nil {
		return fmt.Errorf("postgres: append audit: %w", err)
	}
	if len(events) == 0 {
		return nil
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockAudit); err != nil {
			return err
		}
		for i, e := range events {
			if _, err := tx.Exec(ctx, `INSERT INTO audit (seq, id, time, actor, action, doc)
				SELECT nextval('audit_seq'), $1, $2, $3, $4, $5
				WHERE NOT EXISTS (SELECT 1 FROM audit WHERE id = $1)`,
				e.ID, e.Time.UnixNano(), e.Actor, e.Action, docs[i]); err != nil {
				return fmt.Errorf("audit %s: %w", e.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: append %d audit events: %w", len(events), err)
	}
	return nil
}

// AuditSince returns up to limit audit events with seq > seq, in seq order
// (ledger.AuditSource).
func (s *Store) AuditSince(ctx context.Context, seq int64, limit int) ([]custos.StoredAudit, error) {
	return s.queryAudit(ctx, `SELECT seq, doc FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2`, seq, clampLimit(limit))
}

// Audit returns audit events, newest first, of one actor ("" for all).
func (s *Store) Audit(ctx context.Context, actor string, q custos.Query) ([]custos.StoredAudit, error) {
	args := bounds(q) // from, to, before, limit
	return s.queryAudit(ctx, `SELECT seq, doc FROM audit
		WHERE time >= $1 AND time < $2 AND seq < $3 AND ($5 = '' OR actor = $5)
		ORDER BY seq DESC LIMIT $4`, append(args, actor)...)
}

func (s *Store) queryAudit(ctx context.Context, query string, args ...any) ([]custos.StoredAudit, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit: %w", err)
	}
	defer rows.Close()
	var out []custos.StoredAudit
	for rows.Next() {
		var a custos.StoredAudit
		var doc []byte
		if err := rows.Scan(&a.Seq, &doc); err != nil {
			return nil, fmt.Errorf("postgres: audit: %w", err)
		}
		if err := json.Unmarshal(doc, &a.AuditEvent); err != nil {
			return nil, fmt.Errorf("postgres: audit: decode: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: audit: %w", err)
	}
	return out, nil
}
