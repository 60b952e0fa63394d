package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/custos-dev/custos/approval"
)

// SaveApproval persists an approval request after each step
// (approval.Store).
func (s *Store) SaveApproval(ctx context.Context, r approval.Request) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("postgres: save approval %s: %w", r.ID, err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO approvals (id, status, created, doc) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc`,
		r.ID, string(r.Status), r.Created.UnixNano(), doc)
	if err != nil {
		return fmt.Errorf("postgres: save approval %s: %w", r.ID, err)
	}
	return nil
}

// Approvals returns every stored approval request, oldest first.
func (s *Store) Approvals(ctx context.Context) ([]approval.Request, error) {
	return s.approvals(ctx, `SELECT doc FROM approvals ORDER BY created, id`)
}

// Grants returns the requests that were granted (their time windows are
// checked by the approval service), for the gateway nodes.
func (s *Store) Grants(ctx context.Context) ([]approval.Request, error) {
	return s.approvals(ctx, `SELECT doc FROM approvals WHERE status = $1 ORDER BY created, id`, string(approval.StatusGranted))
}

func (s *Store) approvals(ctx context.Context, query string, args ...any) ([]approval.Request, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: approvals: %w", err)
	}
	defer rows.Close()
	var out []approval.Request
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("postgres: approvals: %w", err)
		}
		var r approval.Request
		if err := json.Unmarshal(doc, &r); err != nil {
			return nil, fmt.Errorf("postgres: approval: decode: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: approvals: %w", err)
	}
	return out, nil
}
