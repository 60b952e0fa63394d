package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/custos-dev/custos"
)

// UpsertAlerts stores alerts durably. An alert already stored (same id) is
// updated with the detector's latest view, but keeps the status an analyst
// gave it.
func (s *Store) UpsertAlerts(ctx context.Context, alerts []custos.AlertRecord) error {
	if len(alerts) == 0 {
		return nil
	}
	_, err := s.submit(ctx, len(alerts), func(w *writer) (custos.AppendResult, error) {
		for _, a := range alerts {
			status := a.Status
			if status == "" {
				status = custos.AlertOpen
			}
			// A new alert like a recent false positive is suppressed;
			// an existing alert keeps whatever status it has.
			_, err := w.conn.ExecContext(context.Background(), `
				INSERT INTO alerts (id, rule, severity, actor, source_ip, first_seen, last_seen, status, summary, evidence)
				VALUES (?, ?, ?, ?, ?, ?, ?,
					CASE WHEN EXISTS (SELECT 1 FROM alerts f WHERE f.rule = ?
						AND (CASE WHEN ? != '' THEN f.actor = ? ELSE f.actor = '' AND f.source_ip = ? END)
						AND f.status = 'false_positive' AND f.last_seen >= ?) THEN 'suppressed' ELSE ? END,
					?, ?)
				ON CONFLICT (id) DO UPDATE SET
					severity = excluded.severity, last_seen = excluded.last_seen,
					summary = excluded.summary, evidence = excluded.evidence`,
				a.ID, a.Rule, a.Severity, a.Actor, a.SourceIP, a.FirstSeen.UnixNano(), a.LastSeen.UnixNano(),
				a.Rule, a.Actor, a.Actor, a.SourceIP, a.FirstSeen.Add(-custos.SuppressFor).UnixNano(),
				string(status), a.Summary, []byte(a.Doc))
			if err != nil {
				return custos.AppendResult{}, fmt.Errorf("upsert alert %s: %w", a.ID, err)
			}
		}
		return custos.AppendResult{Stored: len(alerts)}, nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: upsert %d alerts: %w", len(alerts), err)
	}
	return nil
}

// SetAlertStatus moves an alert in the workflow. It returns ErrNotFound
// for an unknown id.
func (s *Store) SetAlertStatus(ctx context.Context, id string, status custos.AlertStatus) error {
	var found bool
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		r, err := w.conn.ExecContext(context.Background(), `UPDATE alerts SET status = ? WHERE id = ?`, string(status), id)
		if err != nil {
			return custos.AppendResult{}, err
		}
		n, err := r.RowsAffected()
		found = n > 0
		return custos.AppendResult{}, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: set status of alert %s: %w", id, err)
	}
	if !found {
		return fmt.Errorf("sqlite: alert %s: %w", id, custos.ErrNotFound)
	}
	return nil
}

// Alerts returns alerts matching q, most recently active first.
func (s *Store) Alerts(ctx context.Context, q custos.AlertQuery) ([]custos.AlertRecord, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if !q.From.IsZero() {
		add("last_seen >= ?", q.From.UnixNano())
	}
	if !q.To.IsZero() {
		add("last_seen < ?", q.To.UnixNano())
	}
	if q.Severity != "" {
		add("severity = ?", q.Severity)
	}
	if q.Status != "" {
		add("status = ?", string(q.Status))
	}
	if q.Actor != "" {
		add("actor = ?", q.Actor)
	}
	limit := q.Limit
	if limit <= 0 || limit > custos.MaxLimit {
		limit = custos.DefaultLimit
	}
	query := `SELECT ` + alertColumns + ` FROM alerts`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY last_seen DESC, id LIMIT ?"
	args = append(args, limit)
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query alerts: %w", err)
	}
	return scanAlerts(rows)
}

// AlertsDue returns up to limit alerts whose current severity has not been
// delivered yet, oldest first. Suppressed, resolved and false-positive
// alerts are never due (MarkNotified still clears them).
func (s *Store) AlertsDue(ctx context.Context, limit int) ([]custos.AlertRecord, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+alertColumns+`
		FROM alerts WHERE notified != severity ORDER BY first_seen, id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: alerts due: %w", err)
	}
	return scanAlerts(rows)
}

// MarkNotified records that an alert was delivered at severity.
func (s *Store) MarkNotified(ctx context.Context, id, severity string) error {
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		_, err := w.conn.ExecContext(context.Background(), `UPDATE alerts SET notified = ? WHERE id = ?`, severity, id)
		return custos.AppendResult{}, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: mark alert %s notified: %w", id, err)
	}
	return nil
}

// alertColumns are the columns scanAlerts reads, in order.
const alertColumns = `id, rule, severity, actor, source_ip, first_seen, last_seen, status, summary, evidence`

func scanAlerts(rows *sql.Rows) ([]custos.AlertRecord, error) {
	defer rows.Close()
	var out []custos.AlertRecord
	for rows.Next() {
		var a custos.AlertRecord
		var first, last int64
		var status string
		var doc []byte
		if err := rows.Scan(&a.ID, &a.Rule, &a.Severity, &a.Actor, &a.SourceIP, &first, &last, &status, &a.Summary, &doc); err != nil {
			return nil, fmt.Errorf("sqlite: read alert: %w", err)
		}
		a.FirstSeen, a.LastSeen = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		a.Status = custos.AlertStatus(status)
		a.Doc = doc
		out = append(out, a)
	}
	return out, rows.Err()
}
