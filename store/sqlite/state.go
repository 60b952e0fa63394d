package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/approval"
	"github.com/custos-dev/custos/policy"
)

// AppendAudit stores audit events durably, skipping IDs already stored.
func (s *Store) AppendAudit(ctx context.Context, events []custos.AuditEvent) error {
	docs, err := custos.EncodeAudit(events)
	if err != nil {
		return fmt.Errorf("sqlite: append audit: %w", err)
	}
	_, err = s.submit(ctx, len(events), func(w *writer) (custos.AppendResult, error) {
		for i, e := range events {
			if _, err := w.conn.ExecContext(context.Background(),
				`INSERT INTO audit (id, time, actor, action, doc) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
				e.ID, e.Time.UnixNano(), e.Actor, e.Action, docs[i]); err != nil {
				return custos.AppendResult{}, fmt.Errorf("audit %s: %w", e.ID, err)
			}
		}
		return custos.AppendResult{Stored: len(events)}, nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: append %d audit events: %w", len(events), err)
	}
	return nil
}

// AuditSince returns up to limit audit events with seq > seq, in seq order.
func (s *Store) AuditSince(ctx context.Context, seq int64, limit int) ([]custos.StoredAudit, error) {
	limit = clampLimit(limit)
	return s.queryAudit(ctx, `SELECT seq, doc FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, seq, limit)
}

// Audit returns audit events, newest first, of one actor ("" for all).
func (s *Store) Audit(ctx context.Context, actor string, q custos.Query) ([]custos.StoredAudit, error) {
	before, from, to, limit := bounds(q)
	query := `SELECT seq, doc FROM audit WHERE seq < ? AND time >= ? AND time < ?`
	args := []any{before, from, to}
	if actor != "" {
		query += ` AND actor = ?`
		args = append(args, actor)
	}
	return s.queryAudit(ctx, query+` ORDER BY seq DESC LIMIT ?`, append(args, limit)...)
}

func (s *Store) queryAudit(ctx context.Context, query string, args ...any) ([]custos.StoredAudit, error) {
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit: %w", err)
	}
	defer rows.Close()
	var out []custos.StoredAudit
	for rows.Next() {
		var a custos.StoredAudit
		var doc []byte
		if err := rows.Scan(&a.Seq, &doc); err != nil {
			return nil, fmt.Errorf("sqlite: audit: %w", err)
		}
		if err := json.Unmarshal(doc, &a.AuditEvent); err != nil {
			return nil, fmt.Errorf("sqlite: audit seq %d: %w", a.Seq, err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AppendRelationships persists accepted relationship changes
// (policy.RelationshipLog), so that need-to-know survives a restart.
func (s *Store) AppendRelationships(ctx context.Context, added, removed []policy.Relationship) error {
	_, err := s.submit(ctx, len(added)+len(removed), func(w *writer) (custos.AppendResult, error) {
		for _, r := range added {
			var exp int64
			if !r.Expires.IsZero() {
				exp = r.Expires.UnixNano()
			}
			if _, err := w.conn.ExecContext(context.Background(),
				`INSERT INTO relationships (actor, subject, kind, expires) VALUES (?, ?, ?, ?)
				 ON CONFLICT (actor, subject, kind) DO UPDATE SET expires = excluded.expires`,
				r.Actor, r.Subject, r.Kind, exp); err != nil {
				return custos.AppendResult{}, err
			}
		}
		for _, r := range removed {
			if _, err := w.conn.ExecContext(context.Background(),
				`DELETE FROM relationships WHERE actor = ? AND subject = ? AND kind = ?`, r.Actor, r.Subject, r.Kind); err != nil {
				return custos.AppendResult{}, err
			}
		}
		return custos.AppendResult{Stored: len(added)}, nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: persist relationships: %w", err)
	}
	return nil
}

// Relationships calls fn for every stored relationship that has not
// expired at now.
func (s *Store) Relationships(ctx context.Context, now time.Time, fn func(policy.Relationship)) error {
	rows, err := s.rdb.QueryContext(ctx, `SELECT actor, subject, kind, expires FROM relationships WHERE expires = 0 OR expires > ?`, now.UnixNano())
	if err != nil {
		return fmt.Errorf("sqlite: relationships: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r policy.Relationship
		var exp int64
		if err := rows.Scan(&r.Actor, &r.Subject, &r.Kind, &exp); err != nil {
			return fmt.Errorf("sqlite: relationships: %w", err)
		}
		if exp != 0 {
			r.Expires = time.Unix(0, exp).UTC()
		}
		fn(r)
	}
	return rows.Err()
}

// watchRank orders watchlist kinds as policy.Watchlist does: a subject
// listed twice keeps the stronger kind.
const watchRank = `(CASE %s WHEN 'honeytoken' THEN 3 WHEN 'approval' THEN 2 WHEN 'alert' THEN 1 ELSE 0 END)`

// SaveWatchlist persists a watchlist change (policy.WatchLog).
func (s *Store) SaveWatchlist(ctx context.Context, set []policy.WatchEntry, unset []string) error {
	upsert := fmt.Sprintf(`INSERT INTO watchlist (subject, kind, note) VALUES (?, ?, ?)
		ON CONFLICT (subject) DO UPDATE SET kind = excluded.kind, note = excluded.note
		WHERE %s > %s`, fmt.Sprintf(watchRank, "excluded.kind"), fmt.Sprintf(watchRank, "watchlist.kind"))
	_, err := s.submit(ctx, len(set)+len(unset), func(w *writer) (custos.AppendResult, error) {
		for _, e := range set {
			if _, err := w.conn.ExecContext(context.Background(), upsert, e.Subject, string(e.Kind), e.Note); err != nil {
				return custos.AppendResult{}, err
			}
		}
		for _, subject := range unset {
			if _, err := w.conn.ExecContext(context.Background(), `DELETE FROM watchlist WHERE subject = ?`, subject); err != nil {
				return custos.AppendResult{}, err
			}
		}
		return custos.AppendResult{Stored: len(set)}, nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: persist watchlist: %w", err)
	}
	return nil
}

// Watchlist returns every stored watchlist entry.
func (s *Store) Watchlist(ctx context.Context) ([]policy.WatchEntry, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT subject, kind, note FROM watchlist ORDER BY subject`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: watchlist: %w", err)
	}
	defer rows.Close()
	var out []policy.WatchEntry
	for rows.Next() {
		var e policy.WatchEntry
		var kind string
		if err := rows.Scan(&e.Subject, &kind, &e.Note); err != nil {
			return nil, fmt.Errorf("sqlite: watchlist: %w", err)
		}
		e.Kind = policy.WatchKind(kind)
		out = append(out, e)
	}
	return out, rows.Err()
}

// SaveApproval persists an approval request after each step
// (approval.Store).
func (s *Store) SaveApproval(ctx context.Context, r approval.Request) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("sqlite: save approval %s: %w", r.ID, err)
	}
	_, err = s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		_, err := w.conn.ExecContext(context.Background(),
			`INSERT INTO approvals (id, status, created, doc) VALUES (?, ?, ?, ?)
			 ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc`,
			r.ID, string(r.Status), r.Created.UnixNano(), doc)
		return custos.AppendResult{Stored: 1}, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: save approval %s: %w", r.ID, err)
	}
	return nil
}

// Approvals returns every stored approval request, oldest first.
func (s *Store) Approvals(ctx context.Context) ([]approval.Request, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT doc FROM approvals ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: approvals: %w", err)
	}
	defer rows.Close()
	var out []approval.Request
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("sqlite: approvals: %w", err)
		}
		var r approval.Request
		if err := json.Unmarshal(doc, &r); err != nil {
			return nil, fmt.Errorf("sqlite: approval: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SuspendedActors lists the actors currently suspended (from the console
// or by an automatic response to an alert).
func (s *Store) SuspendedActors(ctx context.Context) ([]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT actor FROM console_suspensions ORDER BY actor`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: suspended actors: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("sqlite: suspended actors: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// EraseSubject removes a data subject from the index: in every stored
// access event that named them, the subject keeps its type but its hash
// becomes custos.ErasedHash and its masked form is dropped; the subject's
// history rows, export rows, relationships and watchlist entry go. The
// events themselves stay (who accessed what, when, is the organization's
// record) and so does their count. It returns how many events changed.
func (s *Store) EraseSubject(ctx context.Context, subjectType, hash string) (int, error) {
	key := subjectKey(subjectType, hash)
	changed := 0
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		ctx := context.Background()
		rows, err := w.conn.QueryContext(ctx, `SELECT e.seq, e.doc FROM event_subjects s JOIN events e ON e.seq = s.seq WHERE s.subject = ?`, key)
		if err != nil {
			return custos.AppendResult{}, err
		}
		type update struct {
			seq int64
			doc []byte
		}
		var updates []update
		for rows.Next() {
			var u update
			var doc []byte
			if err := rows.Scan(&u.seq, &doc); err != nil {
				rows.Close()
				return custos.AppendResult{}, err
			}
			var e custos.AccessEvent
			if err := json.Unmarshal(doc, &e); err != nil {
				rows.Close()
				return custos.AppendResult{}, fmt.Errorf("event seq %d: %w", u.seq, err)
			}
			for i, sub := range e.Subjects {
				if sub.Type == subjectType && sub.Hash == hash {
					e.Subjects[i] = custos.Subject{Type: sub.Type, Hash: custos.ErasedHash}
				}
			}
			if u.doc, err = json.Marshal(e); err != nil {
				rows.Close()
				return custos.AppendResult{}, err
			}
			updates = append(updates, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return custos.AppendResult{}, err
		}
		if w.accessTail != nil && len(updates) > 0 {
			// The documents change: followers read them from the
			// database from now on, not as they were held in memory
			// (emptied now, so that no reader gets an old document
			// between the commit and the writer's next step, and again
			// after the commit with this group's rows; see commitGroup).
			w.accessTail.reset(0)
			w.accessChanged = true
		}
		for _, u := range updates {
			if _, err := w.conn.ExecContext(ctx, `UPDATE events SET doc = ? WHERE seq = ?`, u.doc, u.seq); err != nil {
				return custos.AppendResult{}, err
			}
		}
		for _, q := range []string{
			`DELETE FROM event_subjects WHERE subject = ?`,
			`DELETE FROM export_subjects WHERE subject = ?`,
		} {
			if _, err := w.conn.ExecContext(ctx, q, key); err != nil {
				return custos.AppendResult{}, err
			}
		}
		for _, q := range []string{`DELETE FROM relationships WHERE subject = ?`, `DELETE FROM watchlist WHERE subject = ?`} {
			if _, err := w.conn.ExecContext(ctx, q, hash); err != nil {
				return custos.AppendResult{}, err
			}
		}
		changed = len(updates)
		return custos.AppendResult{}, nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: erase subject: %w", err)
	}
	return changed, nil
}
