package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/export"
)

// RegisterExport records an export durably with its subjects and canaries
// (export.Registry); an id registered before is left as it was.
func (s *Store) RegisterExport(ctx context.Context, e export.Export) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("postgres: register export: %w", err)
	}
	// The document keeps the canaries' hashes (synthetic people, listed
	// as honeytokens) but not the real subjects, which are only in
	// export_subjects, as subject keys.
	subjects, canaries := e.Subjects, e.Canaries
	e.Subjects = nil
	doc, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("postgres: register export %s: encode: %w", e.ID, err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var rid int64
		err := tx.QueryRow(ctx, `INSERT INTO exports (id, time, actor, channel, system, format, rows, canaries, doc)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING RETURNING rid`,
			e.ID, e.Time.UnixNano(), e.Actor, string(e.Channel), e.System, e.Format, e.Rows, len(canaries) > 0, doc).Scan(&rid)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // registered before
		}
		if err != nil {
			return err
		}
		// One row per subject: a canary that is also a real subject (it
		// cannot be, but the registry does not rely on it) stays a canary.
		rows := map[string]bool{}
		var order []string
		for canary, list := range [][]custos.Subject{subjects, canaries} {
			for _, sub := range list {
				k := string(subjectKey(sub.Type, sub.Hash))
				if _, seen := rows[k]; !seen {
					order = append(order, k)
				}
				rows[k] = rows[k] || canary == 1
			}
		}
		copyRows := make([][]any, 0, len(order))
		for _, k := range order {
			copyRows = append(copyRows, []any{[]byte(k), rid, rows[k]})
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"export_subjects"}, []string{"subject", "rid", "canary"}, pgx.CopyFromRows(copyRows))
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: register export %s: %w", e.ID, err)
	}
	return nil
}

// Export returns a registered export without its subject list.
func (s *Store) Export(ctx context.Context, id string) (export.Export, error) {
	out, err := s.queryExports(ctx, "export "+id, `SELECT doc FROM exports WHERE id = $1`, id)
	if err != nil {
		return export.Export{}, err
	}
	if len(out) == 0 {
		return export.Export{}, fmt.Errorf("postgres: export %s: %w", id, custos.ErrNotFound)
	}
	return out[0], nil
}

// ListExports returns exports matching q, newest first, without their
// subject lists.
func (s *Store) ListExports(ctx context.Context, q export.Query) ([]export.Export, error) {
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if !q.From.IsZero() {
		from = q.From.UnixNano()
	}
	if !q.To.IsZero() {
		to = q.To.UnixNano()
	}
	return s.queryExports(ctx, "list exports", `SELECT doc FROM exports
		WHERE time >= $1 AND time < $2 AND ($3 = '' OR actor = $3)
		ORDER BY time DESC, rid DESC LIMIT $4`, from, to, q.Actor, clampLimit(q.Limit))
}

// ExportsBySubject returns the exports that hold the subject, as a real
// subject or a canary, newest first.
func (s *Store) ExportsBySubject(ctx context.Context, subjectType, hash string) ([]export.Export, error) {
	return s.queryExports(ctx, "exports of a subject", `SELECT x.doc FROM export_subjects es JOIN exports x ON x.rid = es.rid
		WHERE es.subject = $1 ORDER BY x.time DESC, x.rid DESC LIMIT $2`, subjectKey(subjectType, hash), custos.MaxLimit)
}

// ExportsByID returns the named exports that exist, in no particular order.
func (s *Store) ExportsByID(ctx context.Context, ids []string) ([]export.Export, error) {
	return s.queryExports(ctx, "exports by id", `SELECT doc FROM exports WHERE id = ANY($1)`, ids)
}

// ExportCanaries returns the canary identifiers (type and hash) of every
// registered export, for the honeytoken watchlist.
func (s *Store) ExportCanaries(ctx context.Context) ([]custos.Subject, error) {
	exs, err := s.queryExports(ctx, "export canaries", `SELECT doc FROM exports WHERE canaries`)
	if err != nil {
		return nil, err
	}
	var out []custos.Subject
	for _, e := range exs {
		out = append(out, e.Canaries...)
	}
	return out, nil
}

// ExportSubjectCount returns how many real and canary subjects an export
// holds.
func (s *Store) ExportSubjectCount(ctx context.Context, id string) (subjects, canaries int, err error) {
	err = s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE NOT canary), count(*) FILTER (WHERE canary)
		FROM export_subjects WHERE rid = (SELECT rid FROM exports WHERE id = $1)`, id).Scan(&subjects, &canaries)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: count subjects of export %s: %w", id, err)
	}
	return subjects, canaries, nil
}

func (s *Store) queryExports(ctx context.Context, what, query string, args ...any) ([]export.Export, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	defer rows.Close()
	var out []export.Export
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("postgres: %s: %w", what, err)
		}
		var e export.Export
		if err := json.Unmarshal(doc, &e); err != nil {
			return nil, fmt.Errorf("postgres: %s: decode: %w", what, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return out, nil
}

// lookupBatch is how many keys one trace look-up sends.
const lookupBatch = 10000

// ExportHolders calls fn once for every (subject, export) pair among keys
// (trace.Source): i is the key's index, canary whether the subject is one
// of the export's canaries.
func (s *Store) ExportHolders(ctx context.Context, keys []export.Key, fn func(i int, exportID string, canary bool)) error {
	return s.byKeys(ctx, keys, "export holders",
		`SELECT es.subject, x.id, es.canary FROM export_subjects es JOIN exports x ON x.rid = es.rid WHERE es.subject = ANY($1)`,
		func(rows pgx.Rows, i map[export.Key]int) error {
			var k []byte
			var id string
			var canary bool
			if err := rows.Scan(&k, &id, &canary); err != nil {
				return err
			}
			fn(i[export.Key(k)], id, canary)
			return nil
		})
}

// SubjectSightings calls fn for every access-index entry of the keys
// (trace.Source): who accessed each subject, when, in which event.
func (s *Store) SubjectSightings(ctx context.Context, keys []export.Key, fn func(i int, s export.Sighting)) error {
	return s.byKeys(ctx, keys, "subject sightings",
		`SELECT subject, seq, time, actor FROM event_subjects WHERE subject = ANY($1)`,
		func(rows pgx.Rows, i map[export.Key]int) error {
			var k []byte
			var sg export.Sighting
			var t int64
			if err := rows.Scan(&k, &sg.Seq, &t, &sg.Actor); err != nil {
				return err
			}
			sg.Time = time.Unix(0, t).UTC()
			fn(i[export.Key(k)], sg)
			return nil
		})
}

// EventIDs maps access sequence numbers to event IDs (trace.Source).
func (s *Store) EventIDs(ctx context.Context, seqs []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(seqs))
	for start := 0; start < len(seqs); start += lookupBatch {
		part := seqs[start:min(start+lookupBatch, len(seqs))]
		rows, err := s.pool.Query(ctx, `SELECT seq, id FROM access_ids WHERE seq = ANY($1)`, part)
		if err != nil {
			return nil, fmt.Errorf("postgres: event ids: %w", err)
		}
		for rows.Next() {
			var q int64
			var id string
			if err := rows.Scan(&q, &id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("postgres: event ids: %w", err)
			}
			out[q] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("postgres: event ids: %w", err)
		}
	}
	return out, nil
}

func (s *Store) byKeys(ctx context.Context, keys []export.Key, what, query string, scan func(pgx.Rows, map[export.Key]int) error) error {
	index := make(map[export.Key]int, min(len(keys), lookupBatch))
	for start := 0; start < len(keys); start += lookupBatch {
		part := keys[start:min(start+lookupBatch, len(keys))]
		clear(index)
		args := make([][]byte, 0, len(part))
		for i, k := range part {
			if _, dup := index[k]; dup {
				continue
			}
			index[k] = start + i
			args = append(args, k[:])
		}
		rows, err := s.pool.Query(ctx, query, args)
		if err != nil {
			return fmt.Errorf("postgres: %s: %w", what, err)
		}
		for rows.Next() {
			if err := scan(rows, index); err != nil {
				rows.Close()
				return fmt.Errorf("postgres: %s: %w", what, err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("postgres: %s: %w", what, err)
		}
	}
	return nil
}
