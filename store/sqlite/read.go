package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/custos-dev/custos"
)

// History queries page by sequence number, newest (highest seq) first.
// Each names the index it must use: a query that cannot use it fails
// instead of silently scanning millions of rows (TestQueryPlans checks the
// plans too). Time bounds are half-open, From <= time < To, and are
// checked on the index entries before any event row is read.
//
// A time bound also becomes a sequence bound through seq_hours (see
// migration 0002), so that a window far in the past is found without
// scanning everything newer than it.

// history is one history query: the rows and index to read, and the
// equality condition on the index's leading columns.
type history struct {
	from   string // FROM clause, with INDEXED BY
	prefix string // "s." when the seq and time columns are the subject index's
	doc    string // the document column
	key    string // equality on the leading index columns, e.g. "actor = ?"
	hours  bool   // narrow time bounds through seq_hours (access events only)
}

var (
	subjectHistory = history{
		from:   "event_subjects s JOIN events e ON e.seq = s.seq",
		prefix: "s.",
		doc:    "e.doc",
		key:    "s.subject = ?",
		hours:  true,
	}
	actorHistory    = history{from: "events INDEXED BY events_actor", doc: "doc", key: "actor = ?", hours: true}
	systemHistory   = history{from: "events INDEXED BY events_system", doc: "doc", key: "system = ?", hours: true}
	resourceHistory = history{from: "events INDEXED BY events_resource", doc: "doc", key: "system = ? AND object = ?", hours: true}
	// Logins are few per account; they have no seq_hours.
	accountHistory = history{from: "logins INDEXED BY logins_account", doc: "doc", key: "account = ?"}
	sourceHistory  = history{from: "logins INDEXED BY logins_source", doc: "doc", key: "source_ip = ?"}
)

// sql builds the statement and its arguments for q. The sequence range
// is given as exactly one lower and one upper bound: SQLite seeks the
// index on one bound of each side and only filters on the others.
func (h history) sql(q custos.Query, keyArgs ...any) (string, []any) {
	before, from, to, limit := bounds(q)
	seq, tm := h.prefix+"seq", h.prefix+"time"
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s, %s FROM %s WHERE %s AND %s >= ? AND %s < ?", seq, h.doc, h.from, h.key, tm, tm)
	args := append(keyArgs, from, to)
	if h.hours && !q.From.IsZero() {
		fmt.Fprintf(&b, " AND %s >= (SELECT coalesce(min(min_seq), %d) FROM seq_hours WHERE hour >= ?)", seq, int64(math.MaxInt64))
		args = append(args, hourOf(from))
	}
	if h.hours && !q.To.IsZero() {
		fmt.Fprintf(&b, " AND %s <= min(?, (SELECT coalesce(max(max_seq), 0) FROM seq_hours WHERE hour <= ?))", seq)
		args = append(args, before-1, hourOf(to-1))
	} else {
		fmt.Fprintf(&b, " AND %s < ?", seq)
		args = append(args, before)
	}
	fmt.Fprintf(&b, " ORDER BY %s DESC LIMIT ?", seq)
	return b.String(), append(args, limit)
}

const accessSinceQuery = `SELECT seq, doc FROM events WHERE seq > ? ORDER BY seq LIMIT ?`

const loginsSinceQuery = `SELECT seq, doc FROM logins WHERE seq > ? ORDER BY seq LIMIT ?`

// bounds turns a Query into the SQL arguments before, from, to, limit.
func bounds(q custos.Query) (before, from, to int64, limit int) {
	before, from, to = math.MaxInt64, math.MinInt64, math.MaxInt64
	if q.Before > 0 {
		before = q.Before
	}
	if !q.From.IsZero() {
		from = q.From.UnixNano()
	}
	if !q.To.IsZero() {
		to = q.To.UnixNano()
	}
	return before, from, to, clampLimit(q.Limit)
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
	query, args := subjectHistory.sql(q, subjectKey(subjectType, hash))
	out, err := queryAccess(ctx, s.rdb, clampLimit(q.Limit), query, args...)
	if err != nil {
		// The hash is a keyed hash, safe to name; the value never gets here.
		return nil, fmt.Errorf("sqlite: accesses of subject %s/%s: %w", subjectType, hash, err)
	}
	return out, nil
}

// ActorAccesses returns an actor's accesses, newest first.
func (s *Store) ActorAccesses(ctx context.Context, actorID string, q custos.Query) ([]custos.StoredAccess, error) {
	query, args := actorHistory.sql(q, actorID)
	out, err := queryAccess(ctx, s.rdb, clampLimit(q.Limit), query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: accesses of actor %s: %w", actorID, err)
	}
	return out, nil
}

// ResourceAccesses returns accesses to a system, or to one object of it
// when object is not empty, newest first.
func (s *Store) ResourceAccesses(ctx context.Context, system, object string, q custos.Query) ([]custos.StoredAccess, error) {
	query, args := systemHistory.sql(q, system)
	if object != "" {
		query, args = resourceHistory.sql(q, system, object)
	}
	out, err := queryAccess(ctx, s.rdb, clampLimit(q.Limit), query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: accesses of resource %s/%s: %w", system, object, err)
	}
	return out, nil
}

// AccountLogins returns an account's logins, newest first.
func (s *Store) AccountLogins(ctx context.Context, account string, q custos.Query) ([]custos.StoredLogin, error) {
	query, args := accountHistory.sql(q, account)
	out, err := queryLogins(ctx, s.rdb, clampLimit(q.Limit), query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: logins of account %s: %w", account, err)
	}
	return out, nil
}

// SourceLogins returns the logins from one source address, newest first.
func (s *Store) SourceLogins(ctx context.Context, ip string, q custos.Query) ([]custos.StoredLogin, error) {
	query, args := sourceHistory.sql(q, ip)
	out, err := queryLogins(ctx, s.rdb, clampLimit(q.Limit), query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: logins from source %s: %w", ip, err)
	}
	return out, nil
}

// AccessSince returns up to limit accesses with seq > seq, in seq order.
func (s *Store) AccessSince(ctx context.Context, seq int64, limit int) ([]custos.StoredAccess, error) {
	limit = clampLimit(limit)
	if out, ok, err := s.accessTail.since(seq, limit); ok || err != nil {
		return out, err
	}
	out, err := queryAccess(ctx, s.rdb, limit, accessSinceQuery, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: accesses since %d: %w", seq, err)
	}
	return out, nil
}

// LoginsSince returns up to limit logins with seq > seq, in seq order.
func (s *Store) LoginsSince(ctx context.Context, seq int64, limit int) ([]custos.StoredLogin, error) {
	limit = clampLimit(limit)
	if out, ok, err := s.loginTail.since(seq, limit); ok || err != nil {
		return out, err
	}
	out, err := queryLogins(ctx, s.rdb, limit, loginsSinceQuery, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: logins since %d: %w", seq, err)
	}
	return out, nil
}

// Offset returns a consumer's recorded position, 0 if it has none.
func (s *Store) Offset(ctx context.Context, consumer string) (int64, error) {
	var seq int64
	err := s.rdb.QueryRowContext(ctx, `SELECT seq FROM consumer_offsets WHERE consumer = ?`, consumer).Scan(&seq)
	switch {
	case err == sql.ErrNoRows:
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("sqlite: offset of %s: %w", consumer, err)
	}
	return seq, nil
}

func queryAccess(ctx context.Context, db *sql.DB, capacity int, query string, args ...any) ([]custos.StoredAccess, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]custos.StoredAccess, 0, min(capacity, 128))
	for rows.Next() {
		var a custos.StoredAccess
		var doc sql.RawBytes // decoded before the next row: no copy
		if err := rows.Scan(&a.Seq, &doc); err != nil {
			return nil, err
		}
		if err := decodeDoc(doc, &a.AccessEvent); err != nil {
			return nil, fmt.Errorf("decode event seq %d: %w", a.Seq, err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// decodeDoc decodes a stored event document. The store wrote it with
// encoding/json (exact member names, valid UTF-8, no duplicates), so the
// v2 decoder reads it to the same value at about three times the speed:
// followers (ledger, detection) decode every stored event again, and this
// was an eighth of a busy node's CPU.
func decodeDoc(doc []byte, v any) error {
	return jsonv2.Unmarshal(doc, v)
}

func queryLogins(ctx context.Context, db *sql.DB, capacity int, query string, args ...any) ([]custos.StoredLogin, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]custos.StoredLogin, 0, min(capacity, 128))
	for rows.Next() {
		var l custos.StoredLogin
		var doc sql.RawBytes // decoded before the next row: no copy
		if err := rows.Scan(&l.Seq, &doc); err != nil {
			return nil, err
		}
		if err := decodeDoc(doc, &l.LoginEvent); err != nil {
			return nil, fmt.Errorf("decode login seq %d: %w", l.Seq, err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}
