package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/export"
)

// The export registry (migration 0003) and the batched look-ups that leak
// tracing makes against it and against the access index.

var _ export.Registry = (*Store)(nil)

// lookupBatch is how many subject keys one batched look-up binds.
const lookupBatch = 500

// RegisterExport stores an export durably; registering an ID that is
// already stored changes nothing.
func (s *Store) RegisterExport(ctx context.Context, e export.Export) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("sqlite: register export: %w", err)
	}
	// The document keeps the canaries' hashes (they are synthetic people,
	// listed as honeytokens at start) but not the real subjects, which
	// are only in export_subjects, as subject keys.
	subjects, canaries := e.Subjects, e.Canaries
	e.Subjects = nil
	doc, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("sqlite: register export %s: encode: %w", e.ID, err)
	}
	_, err = s.submit(ctx, 1+len(subjects)+len(canaries), func(w *writer) (custos.AppendResult, error) {
		ctx := context.Background()
		var rid int64
		err := w.conn.QueryRowContext(ctx, `INSERT INTO exports (id, time, actor, channel, system, format, rows, doc)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING rid`,
			e.ID, e.Time.UnixNano(), e.Actor, string(e.Channel), e.System, e.Format, e.Rows, doc).Scan(&rid)
		if errors.Is(err, sql.ErrNoRows) {
			return custos.AppendResult{Duplicates: 1}, nil
		}
		if err != nil {
			return custos.AppendResult{}, err
		}
		args := make([]any, 0, 3*(len(subjects)+len(canaries)))
		for canary, list := range [][]custos.Subject{subjects, canaries} {
			for _, sub := range list {
				args = append(args, subjectKey(sub.Type, sub.Hash), rid, canary)
			}
		}
		if err := w.insertChunks("export_subjects", args); err != nil {
			return custos.AppendResult{}, err
		}
		return custos.AppendResult{Stored: 1}, nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: register export %s: %w", e.ID, err)
	}
	return nil
}

// Export returns a registered export without its subject list (the
// registry keeps only subject keys for it, not hashes); canaries are
// returned. Use
// ExportSubjectCount to count them and ExportsBySubject or ExportHolders
// to ask about people.
func (s *Store) Export(ctx context.Context, id string) (export.Export, error) {
	var rid int64
	var doc []byte
	err := s.rdb.QueryRowContext(ctx, `SELECT rid, doc FROM exports WHERE id = ?`, id).Scan(&rid, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return export.Export{}, fmt.Errorf("sqlite: export %s: %w", id, custos.ErrNotFound)
	}
	if err != nil {
		return export.Export{}, fmt.Errorf("sqlite: export %s: %w", id, err)
	}
	var e export.Export
	if err := json.Unmarshal(doc, &e); err != nil {
		return export.Export{}, fmt.Errorf("sqlite: export %s: decode: %w", id, err)
	}
	return e, nil
}

// ExportCanaries returns the canary identifiers (type and hash) of every
// registered export, for the honeytoken watchlist.
func (s *Store) ExportCanaries(ctx context.Context) ([]custos.Subject, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT doc FROM exports WHERE instr(CAST(doc AS TEXT), '"canaries"') > 0`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: export canaries: %w", err)
	}
	defer rows.Close()
	var out []custos.Subject
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("sqlite: export canaries: %w", err)
		}
		var e struct {
			Canaries []custos.Subject `json:"canaries"`
		}
		if err := json.Unmarshal(doc, &e); err != nil {
			return nil, fmt.Errorf("sqlite: export canaries: decode: %w", err)
		}
		out = append(out, e.Canaries...)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: export canaries: %w", err)
	}
	return out, nil
}

// ExportSubjectCount returns how many real and canary subjects an export
// holds.
func (s *Store) ExportSubjectCount(ctx context.Context, id string) (subjects, canaries int, err error) {
	err = s.rdb.QueryRowContext(ctx, `SELECT coalesce(sum(canary = 0), 0), coalesce(sum(canary), 0)
		FROM export_subjects WHERE rid = (SELECT rid FROM exports WHERE id = ?)`, id).Scan(&subjects, &canaries)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: count subjects of export %s: %w", id, err)
	}
	return subjects, canaries, nil
}

// ListExports returns exports matching q, newest first, without their
// subject lists (canaries included).
func (s *Store) ListExports(ctx context.Context, q export.Query) ([]export.Export, error) {
	var b strings.Builder
	b.WriteString(`SELECT doc FROM exports WHERE time >= ? AND time < ?`)
	_, from, to, limit := bounds(custos.Query{From: q.From, To: q.To, Limit: q.Limit})
	args := []any{from, to}
	if q.Actor != "" {
		b.WriteString(` AND actor = ?`)
		args = append(args, q.Actor)
	}
	b.WriteString(` ORDER BY time DESC, rid DESC LIMIT ?`)
	args = append(args, limit)
	return queryExports(ctx, s.rdb, "list exports", b.String(), args...)
}

// ExportsBySubject returns the exports that hold the subject, as a real
// subject or a canary, newest first, without their subject lists.
func (s *Store) ExportsBySubject(ctx context.Context, subjectType, hash string) ([]export.Export, error) {
	return queryExports(ctx, s.rdb, "exports of subject "+subjectType+"/"+hash,
		`SELECT x.doc FROM export_subjects es JOIN exports x ON x.rid = es.rid
		 WHERE es.subject = ? ORDER BY x.time DESC, x.rid DESC LIMIT ?`,
		subjectKey(subjectType, hash), custos.MaxLimit)
}

// ExportsByID returns the named exports that exist, in no particular
// order, without their subject lists.
func (s *Store) ExportsByID(ctx context.Context, ids []string) ([]export.Export, error) {
	return exportsByID(ctx, s.rdb, ids)
}

func exportsByID(ctx context.Context, db querier, ids []string) ([]export.Export, error) {
	var out []export.Export
	for start := 0; start < len(ids); start += lookupBatch {
		part := ids[start:min(start+lookupBatch, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		got, err := queryExports(ctx, db, "exports by id",
			`SELECT doc FROM exports WHERE id IN (`+placeholders(len(part))+`)`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// querier is what the look-ups need of a *sql.DB or a *sql.Conn.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryExports(ctx context.Context, db querier, what, query string, args ...any) ([]export.Export, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer rows.Close()
	var out []export.Export
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		var e export.Export
		if err := json.Unmarshal(doc, &e); err != nil {
			return nil, fmt.Errorf("sqlite: %s: decode: %w", what, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return out, nil
}

// ExportHolders calls fn once for every (subject, export) pair among keys:
// i is the key's index, canary whether the subject is one of the export's
// canaries. Keys are looked up in batches.
func (s *Store) ExportHolders(ctx context.Context, keys []export.Key, fn func(i int, exportID string, canary bool)) error {
	return exportHolders(ctx, s.rdb, keys, fn)
}

func exportHolders(ctx context.Context, db querier, keys []export.Key, fn func(i int, exportID string, canary bool)) error {
	return batchKeys(ctx, db, keys, "export holders",
		`SELECT es.subject, x.id, es.canary FROM export_subjects es JOIN exports x ON x.rid = es.rid WHERE es.subject IN (%s)`,
		func(rows *sql.Rows, index map[export.Key]int) error {
			var k []byte
			var id string
			var canary bool
			if err := rows.Scan(&k, &id, &canary); err != nil {
				return err
			}
			fn(index[export.Key(k)], id, canary)
			return nil
		})
}

// SubjectSightings calls fn for every access-index entry of the given
// subject keys (who accessed each subject, when, in which event); i is the
// key's index. Keys are looked up in batches, from the subject index
// alone.
func (s *Store) SubjectSightings(ctx context.Context, keys []export.Key, fn func(i int, s export.Sighting)) error {
	return subjectSightings(ctx, s.rdb, keys, fn)
}

func subjectSightings(ctx context.Context, db querier, keys []export.Key, fn func(i int, s export.Sighting)) error {
	return batchKeys(ctx, db, keys, "subject sightings",
		`SELECT subject, seq, time, actor FROM event_subjects WHERE subject IN (%s)`,
		func(rows *sql.Rows, index map[export.Key]int) error {
			var k []byte
			var sg export.Sighting
			var t int64
			if err := rows.Scan(&k, &sg.Seq, &t, &sg.Actor); err != nil {
				return err
			}
			sg.Time = time.Unix(0, t).UTC()
			fn(index[export.Key(k)], sg)
			return nil
		})
}

// EventIDs maps sequence numbers to event IDs.
func (s *Store) EventIDs(ctx context.Context, seqs []int64) (map[int64]string, error) {
	return eventIDs(ctx, s.rdb, seqs)
}

func eventIDs(ctx context.Context, db querier, seqs []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(seqs))
	for start := 0; start < len(seqs); start += lookupBatch {
		part := seqs[start:min(start+lookupBatch, len(seqs))]
		args := make([]any, len(part))
		for i, q := range part {
			args[i] = q
		}
		rows, err := db.QueryContext(ctx, `SELECT seq, id FROM events WHERE seq IN (`+placeholders(len(part))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: event ids: %w", err)
		}
		for rows.Next() {
			var q int64
			var id string
			if err := rows.Scan(&q, &id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: event ids: %w", err)
			}
			out[q] = id
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: event ids: %w", err)
		}
	}
	return out, nil
}

func batchKeys(ctx context.Context, db querier, keys []export.Key, what, query string, scan func(*sql.Rows, map[export.Key]int) error) error {
	index := make(map[export.Key]int, min(len(keys), lookupBatch))
	for start := 0; start < len(keys); start += lookupBatch {
		part := keys[start:min(start+lookupBatch, len(keys))]
		clear(index)
		args := make([]any, 0, len(part))
		for i, k := range part {
			if _, dup := index[k]; dup {
				continue
			}
			index[k] = start + i
			args = append(args, k[:])
		}
		rows, err := db.QueryContext(ctx, fmt.Sprintf(query, placeholders(len(args))), args...)
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", what, err)
		}
		for rows.Next() {
			if err := scan(rows, index); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: %s: %w", what, err)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", what, err)
		}
	}
	return nil
}

func placeholders(n int) string {
	if n == 0 {
		return "NULL"
	}
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// Lookup is a read session for many batched look-ups in a row (a leak
// trace asks about a million people): one read connection with a large
// page cache and memory-mapped reads, so that index pages are read from
// the file once, and a second one so that export and access look-ups can
// run side by side. Close it when done; it gives the connections back with
// the pool's usual settings. Each method may be called from its own
// goroutine, but a method must not be called concurrently with itself.
type Lookup struct {
	conn  *sql.Conn // exports
	conn2 *sql.Conn // access index
}

// lookupCacheKiB and lookupMmap size a Lookup's page cache and mapping.
const (
	lookupCacheKiB = 512 << 10
	lookupMmap     = 4 << 30
)

// Lookup opens a look-up session.
func (s *Store) Lookup(ctx context.Context) (*Lookup, error) {
	l := &Lookup{}
	for _, dst := range []**sql.Conn{&l.conn, &l.conn2} {
		conn, err := s.rdb.Conn(ctx)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("sqlite: look-up session: %w", err)
		}
		*dst = conn
		for _, p := range []string{fmt.Sprintf("PRAGMA cache_size = -%d", lookupCacheKiB/2), fmt.Sprintf("PRAGMA mmap_size = %d", lookupMmap)} {
			if _, err := conn.ExecContext(ctx, p); err != nil {
				l.Close()
				return nil, fmt.Errorf("sqlite: look-up session: %w", err)
			}
		}
	}
	return l, nil
}

// Close restores the connections' settings and returns them to the pool.
func (l *Lookup) Close() error {
	ctx := context.Background()
	var errs []error
	for _, c := range []*sql.Conn{l.conn, l.conn2} {
		if c == nil {
			continue
		}
		_, err1 := c.ExecContext(ctx, "PRAGMA cache_size = -32768")
		_, err2 := c.ExecContext(ctx, "PRAGMA mmap_size = 0")
		errs = append(errs, err1, err2, c.Close())
	}
	return errors.Join(errs...)
}

// ExportHolders is Store.ExportHolders on the session.
func (l *Lookup) ExportHolders(ctx context.Context, keys []export.Key, fn func(i int, exportID string, canary bool)) error {
	return exportHolders(ctx, l.conn, keys, fn)
}

// SubjectSightings is Store.SubjectSightings on the session.
func (l *Lookup) SubjectSightings(ctx context.Context, keys []export.Key, fn func(i int, s export.Sighting)) error {
	return subjectSightings(ctx, l.conn2, keys, fn)
}

// ExportsByID is Store.ExportsByID on the session.
func (l *Lookup) ExportsByID(ctx context.Context, ids []string) ([]export.Export, error) {
	return exportsByID(ctx, l.conn, ids)
}

// EventIDs is Store.EventIDs on the session.
func (l *Lookup) EventIDs(ctx context.Context, seqs []int64) (map[int64]string, error) {
	return eventIDs(ctx, l.conn2, seqs)
}
