package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// index maps event IDs to leaf indexes. It is derived data: Open rebuilds
// whatever is missing from the log itself, so it is written without fsync
// per batch (synchronous=NORMAL) and a crash loses nothing that matters.
type index struct {
	db *sql.DB
}

type indexRow struct {
	Leaf uint64
	Kind string
	ID   string
	Seq  int64
}

func openIndex(path string, readOnly bool) (*index, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("ledger: open index: %w", err)
	}
	if !readOnly {
		db.SetMaxOpenConns(1)
		const schema = `
CREATE TABLE IF NOT EXISTS leaves (
	leaf INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
	id   TEXT NOT NULL,
	seq  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS leaves_id ON leaves(id);
CREATE INDEX IF NOT EXISTS leaves_kind_seq ON leaves(kind, seq);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);`
		if _, err := db.Exec(schema); err != nil {
			db.Close()
			return nil, fmt.Errorf("ledger: create index schema: %w", err)
		}
	}
	return &index{db: db}, nil
}

func (ix *index) Close() error { return ix.db.Close() }

// put records rows in one transaction. Rows already present (same leaf)
// are left alone, so replaying a range after a crash is harmless.
func (ix *index) put(ctx context.Context, rows []indexRow) error {
	if len(rows) == 0 {
		return nil
	}
	tx, err := ix.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger: index begin: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO leaves(leaf, kind, id, seq) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("ledger: index prepare: %w", err)
	}
	defer st.Close()
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, int64(r.Leaf), r.Kind, r.ID, r.Seq); err != nil {
			return fmt.Errorf("ledger: index leaf %d: %w", r.Leaf, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: index commit: %w", err)
	}
	return nil
}

// next returns one past the highest indexed leaf.
func (ix *index) next(ctx context.Context) (uint64, error) {
	var n sql.NullInt64
	if err := ix.db.QueryRowContext(ctx, `SELECT max(leaf) FROM leaves`).Scan(&n); err != nil {
		return 0, fmt.Errorf("ledger: index size: %w", err)
	}
	if !n.Valid {
		return 0, nil
	}
	return uint64(n.Int64) + 1, nil
}

// firstGap returns the lowest leaf that is not indexed. Leaves below the
// watermark recorded by setComplete are known to be indexed, so only the
// rows above it are read: after a crash, concurrent Appends may have
// indexed a later batch but not an earlier one.
func (ix *index) firstGap(ctx context.Context) (uint64, error) {
	var w int64
	err := ix.db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'complete'`).Scan(&w)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("ledger: index watermark: %w", err)
	}
	rows, err := ix.db.QueryContext(ctx, `SELECT leaf FROM leaves WHERE leaf >= ? ORDER BY leaf`, w)
	if err != nil {
		return 0, fmt.Errorf("ledger: index gap: %w", err)
	}
	defer rows.Close()
	want := w
	for rows.Next() {
		var leaf int64
		if err := rows.Scan(&leaf); err != nil {
			return 0, err
		}
		if leaf != want {
			break
		}
		want++
	}
	return uint64(want), rows.Err()
}

// setComplete records that every leaf below n is indexed.
func (ix *index) setComplete(ctx context.Context, n uint64) error {
	if _, err := ix.db.ExecContext(ctx, `INSERT INTO meta(k, v) VALUES ('complete', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`, int64(n)); err != nil {
		return fmt.Errorf("ledger: index watermark: %w", err)
	}
	return nil
}

// maxSeq returns the highest store sequence number recorded for kind.
func (ix *index) maxSeq(ctx context.Context, kind string) (int64, error) {
	var n sql.NullInt64
	if err := ix.db.QueryRowContext(ctx, `SELECT max(seq) FROM leaves WHERE kind = ?`, kind).Scan(&n); err != nil {
		return 0, fmt.Errorf("ledger: index max seq: %w", err)
	}
	return n.Int64, nil
}

// ErrNotFound is returned when an event ID has no leaf in the ledger (yet).
var ErrNotFound = errors.New("ledger: event not in the ledger")

// lookup returns the first leaf that carries event id.
func (ix *index) lookup(ctx context.Context, id string) (indexRow, error) {
	r := indexRow{ID: id}
	var leaf int64
	err := ix.db.QueryRowContext(ctx, `SELECT leaf, kind, seq FROM leaves WHERE id = ? ORDER BY leaf LIMIT 1`, id).Scan(&leaf, &r.Kind, &r.Seq)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("ledger: index lookup: %w", err)
	}
	r.Leaf = uint64(leaf)
	return r, nil
}

// kindID names an event: IDs are unique per kind only (they come from
// ingest clients, and each kind has its own ID space in the store).
type kindID struct{ Kind, ID string }

// knownKinds returns the subset of events that already have a leaf.
func (ix *index) knownKinds(ctx context.Context, evs []kindID) (map[kindID]bool, error) {
	found := make(map[kindID]bool)
	const chunk = 500
	for start := 0; start < len(evs); start += chunk {
		part := evs[start:min(start+chunk, len(evs))]
		args := make([]any, len(part))
		for i, e := range part {
			args[i] = e.ID
		}
		q := `SELECT kind, id FROM leaves WHERE id IN (?` + strings.Repeat(",?", len(part)-1) + `)`
		rows, err := ix.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("ledger: index known: %w", err)
		}
		for rows.Next() {
			var e kindID
			if err := rows.Scan(&e.Kind, &e.ID); err != nil {
				rows.Close()
				return nil, err
			}
			found[e] = true
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// lookupKind finds the leaf of the event of that kind and ID.
func (ix *index) lookupKind(ctx context.Context, kind, id string) (indexRow, error) {
	r := indexRow{ID: id, Kind: kind}
	var leaf int64
	err := ix.db.QueryRowContext(ctx, `SELECT leaf, seq FROM leaves WHERE id = ? AND kind = ? ORDER BY leaf LIMIT 1`, id, kind).Scan(&leaf, &r.Seq)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("ledger: index lookup: %w", err)
	}
	r.Leaf = uint64(leaf)
	return r, nil
}

// known returns the subset of ids that already have a leaf, of any kind.
func (ix *index) known(ctx context.Context, ids []string) (map[string]bool, error) {
	found := make(map[string]bool)
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		q := `SELECT id FROM leaves WHERE id IN (?` + strings.Repeat(",?", len(part)-1) + `)`
		rows, err := ix.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("ledger: index known: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			found[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// scan calls fn for every row in leaf order.
func (ix *index) scan(ctx context.Context, fn func(indexRow) error) error {
	rows, err := ix.db.QueryContext(ctx, `SELECT leaf, kind, id, seq FROM leaves ORDER BY leaf`)
	if err != nil {
		return fmt.Errorf("ledger: index scan: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r indexRow
		var leaf int64
		if err := rows.Scan(&leaf, &r.Kind, &r.ID, &r.Seq); err != nil {
			return fmt.Errorf("ledger: index scan: %w", err)
		}
		r.Leaf = uint64(leaf)
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}
