package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/custos-dev/custos"
)

// AppendAccess stores events durably, skipping IDs already stored. It
// returns custos.ErrUnsealed, storing nothing, if any subject still carries
// a raw value or lacks its blind-index hash.
func (s *Store) AppendAccess(ctx context.Context, events []custos.AccessEvent) (custos.AppendResult, error) {
	for i := range events {
		e := &events[i]
		if e.ID == "" {
			return custos.AppendResult{}, fmt.Errorf("postgres: append access: event %d has no id", i)
		}
		for j, sub := range e.Subjects {
			if sub.Value != "" || sub.Hash == "" || sub.Type == "" {
				// The index, not the value, goes into the error.
				return custos.AppendResult{}, fmt.Errorf("postgres: append access: event %d subjects[%d]: %w", i, j, custos.ErrUnsealed)
			}
		}
	}
	if len(events) == 0 {
		return custos.AppendResult{}, nil
	}
	if err := ctx.Err(); err != nil {
		return custos.AppendResult{}, fmt.Errorf("postgres: append access: %w", err)
	}
	var res custos.AppendResult
	var times []int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		res, times = custos.AppendResult{}, nil
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockAccess); err != nil {
			return err
		}
		fresh, dups, err := newIDs(ctx, tx, "access_ids", len(events), func(i int) string { return events[i].ID })
		if err != nil {
			return err
		}
		res.Duplicates = dups
		if len(fresh) == 0 {
			return nil
		}
		seqs, err := nextSeqs(ctx, tx, "access_seq", len(fresh))
		if err != nil {
			return err
		}
		var ids, evRows, subRows [][]any
		for k, i := range fresh {
			e := &events[i]
			doc, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode %s: %w", e.ID, err)
			}
			ns := e.Time.UnixNano()
			times = append(times, ns)
			ids = append(ids, []any{e.ID, seqs[k], ns})
			evRows = append(evRows, []any{seqs[k], e.ID, ns, e.Actor.ID, string(e.Channel), string(e.Action),
				e.Resource.System, e.Resource.Object, e.Purpose.Name, e.Purpose.Ticket, e.Records,
				string(e.Decision), string(e.Outcome), doc})
			seen := map[string]bool{}
			for _, sub := range e.Subjects {
				key := subjectKey(sub.Type, sub.Hash)
				if seen[string(key)] {
					continue
				}
				seen[string(key)] = true
				subRows = append(subRows, []any{key, seqs[k], ns, e.Actor.ID})
			}
		}
		if err := s.ensurePartitions(ctx, tx, times, "events", "event_subjects"); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"access_ids"}, []string{"id", "seq", "time"}, pgx.CopyFromRows(ids)); err != nil {
			return fmt.Errorf("insert ids: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"seq", "id", "time", "actor", "channel", "action",
			"system", "object", "purpose", "ticket", "records", "decision", "outcome", "doc"}, pgx.CopyFromRows(evRows)); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		if len(subRows) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"event_subjects"}, []string{"subject", "seq", "time", "actor"}, pgx.CopyFromRows(subRows)); err != nil {
				return fmt.Errorf("insert subjects: %w", err)
			}
		}
		res.Stored = len(fresh)
		return nil
	})
	if err != nil {
		return custos.AppendResult{}, fmt.Errorf("postgres: append %d access events: %w", len(events), err)
	}
	s.partitionsCreated(times, "events", "event_subjects")
	return res, nil
}

// AppendLogins stores login events durably, skipping IDs already stored.
func (s *Store) AppendLogins(ctx context.Context, events []custos.LoginEvent) (custos.AppendResult, error) {
	for i := range events {
		if events[i].ID == "" {
			return custos.AppendResult{}, fmt.Errorf("postgres: append logins: event %d has no id", i)
		}
	}
	if len(events) == 0 {
		return custos.AppendResult{}, nil
	}
	if err := ctx.Err(); err != nil {
		return custos.AppendResult{}, fmt.Errorf("postgres: append logins: %w", err)
	}
	var res custos.AppendResult
	var times []int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		res, times = custos.AppendResult{}, nil
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockLogins); err != nil {
			return err
		}
		fresh, dups, err := newIDs(ctx, tx, "login_ids", len(events), func(i int) string { return events[i].ID })
		if err != nil {
			return err
		}
		res.Duplicates = dups
		if len(fresh) == 0 {
			return nil
		}
		seqs, err := nextSeqs(ctx, tx, "login_seq", len(fresh))
		if err != nil {
			return err
		}
		var ids, rows [][]any
		for k, i := range fresh {
			e := &events[i]
			doc, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode %s: %w", e.ID, err)
			}
			ns := e.Time.UnixNano()
			times = append(times, ns)
			ids = append(ids, []any{e.ID, seqs[k], ns})
			rows = append(rows, []any{seqs[k], e.ID, ns, e.Account, e.Source.IP, e.System, string(e.Outcome), doc})
		}
		if err := s.ensurePartitions(ctx, tx, times, "logins"); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"login_ids"}, []string{"id", "seq", "time"}, pgx.CopyFromRows(ids)); err != nil {
			return fmt.Errorf("insert ids: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"logins"}, []string{"seq", "id", "time", "account", "source_ip", "system", "outcome", "doc"}, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("insert logins: %w", err)
		}
		res.Stored = len(fresh)
		return nil
	})
	if err != nil {
		return custos.AppendResult{}, fmt.Errorf("postgres: append %d login events: %w", len(events), err)
	}
	s.partitionsCreated(times, "logins")
	return res, nil
}

// newIDs returns the indexes of the batch's events whose ids are neither
// stored nor repeated earlier in the batch, in batch order, and the count
// of the others. The caller holds the kind's advisory lock, so the answer
// stays true until its transaction commits.
func newIDs(ctx context.Context, tx pgx.Tx, table string, n int, id func(int) string) (fresh []int, dups int, err error) {
	all := make([]string, n)
	for i := range n {
		all[i] = id(i)
	}
	rows, err := tx.Query(ctx, `SELECT id FROM `+table+` WHERE id = ANY($1)`, all)
	if err != nil {
		return nil, 0, fmt.Errorf("look up ids: %w", err)
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, 0, fmt.Errorf("look up ids: %w", err)
	}
	seen := make(map[string]bool, n+len(stored))
	for _, s := range stored {
		seen[s] = true
	}
	for i, s := range all {
		if seen[s] {
			dups++
			continue
		}
		seen[s] = true
		fresh = append(fresh, i)
	}
	return fresh, dups, nil
}

// nextSeqs draws n increasing sequence numbers.
func nextSeqs(ctx context.Context, tx pgx.Tx, seq string, n int) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT nextval('`+seq+`') FROM generate_series(1, $1)`, n)
	if err != nil {
		return nil, fmt.Errorf("draw sequence numbers: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("draw sequence numbers: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

// subjectKey is the 16-byte key of a subject in the blind index, the same
// derivation as store/sqlite's: SHA-256 of type, a zero byte and hash.
func subjectKey(typ, hash string) []byte {
	h := sha256.New()
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write([]byte(hash))
	return h.Sum(nil)[:16]
}

// SetOffset records a consumer's position durably.
func (s *Store) SetOffset(ctx context.Context, consumer string, seq int64) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO consumer_offsets (consumer, seq, updated) VALUES ($1, $2, extract(epoch from now())::bigint * 1000000000)
		ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq, updated = excluded.updated`, consumer, seq)
	if err != nil {
		return fmt.Errorf("postgres: set offset of %s: %w", consumer, err)
	}
	return nil
}
