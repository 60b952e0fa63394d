package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/custos-dev/custos"
)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("sqlite: store is closed")

// maxGroupEvents caps how many events one group transaction takes, so that
// one commit (and the callers waiting on it) stays short under a flood.
// bulkGroupEvents is the cap in bulk mode (Options.Bulk), where one commit
// writes each dirty page of the randomly-inserted indexes once for many
// more events.
const (
	maxGroupEvents  = 20000
	bulkGroupEvents = 500000
)

// request is one caller's write, waiting in the queue for the writer.
type request struct {
	ctx   context.Context
	size  int                                          // events, for group sizing
	apply func(w *writer) (custos.AppendResult, error) // runs inside the group transaction
	reply chan reply                                   // buffered: the writer never blocks on it
}

type reply struct {
	res custos.AppendResult
	err error
}

// submit queues a write and waits for the group commit that carries it.
//
// If ctx ends before the writer takes the request, nothing of it is
// written. If ctx ends after, submit returns ctx.Err() without waiting and
// the request is committed (or not) as a whole; retrying is safe because
// appends are idempotent.
func (s *Store) submit(ctx context.Context, size int, apply func(w *writer) (custos.AppendResult, error)) (custos.AppendResult, error) {
	r := &request{ctx: ctx, size: size, apply: apply, reply: make(chan reply, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return custos.AppendResult{}, ErrClosed
	}
	select {
	case s.queue <- r:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return custos.AppendResult{}, ctx.Err()
	}
	select {
	case rep := <-r.reply:
		return rep.res, rep.err
	case <-ctx.Done():
		return custos.AppendResult{}, ctx.Err()
	}
}

// accessRow is an access event encoded for insertion. Encoding happens in
// the caller's goroutine so that the single writer only runs SQL.
type accessRow struct {
	id                                                      string
	time                                                    int64
	actor, channel, action, system, object, purpose, ticket string
	records                                                 int64
	decision, outcome                                       string
	doc                                                     []byte
	subjects                                                []custos.Subject
}

type loginRow struct {
	id                                 string
	time                               int64
	account, sourceIP, system, outcome string
	doc                                []byte
}

// AppendAccess stores events durably, skipping IDs already stored. It
// returns custos.ErrUnsealed, storing nothing, if any subject still carries
// a raw value or lacks its blind-index hash.
func (s *Store) AppendAccess(ctx context.Context, events []custos.AccessEvent) (custos.AppendResult, error) {
	rows := make([]accessRow, len(events))
	for i := range events {
		e := &events[i]
		if e.ID == "" {
			return custos.AppendResult{}, fmt.Errorf("sqlite: append access: event %d has no id", i)
		}
		for j, sub := range e.Subjects {
			if sub.Value != "" || sub.Hash == "" || sub.Type == "" {
				// The index, not the ID, goes into the error: IDs are safe
				// but the subject's value is not.
				return custos.AppendResult{}, fmt.Errorf("sqlite: append access: event %d subjects[%d]: %w", i, j, custos.ErrUnsealed)
			}
		}
		doc, err := json.Marshal(e)
		if err != nil {
			return custos.AppendResult{}, fmt.Errorf("sqlite: append access: encode %s: %w", e.ID, err)
		}
		rows[i] = accessRow{
			id: e.ID, time: e.Time.UnixNano(), actor: e.Actor.ID,
			channel: string(e.Channel), action: string(e.Action),
			system: e.Resource.System, object: e.Resource.Object,
			purpose: e.Purpose.Name, ticket: e.Purpose.Ticket, records: e.Records,
			decision: string(e.Decision), outcome: string(e.Outcome),
			// A copy: the writer may still read it after a cancelled
			// caller has returned and reused its events.
			doc: doc, subjects: slices.Clone(e.Subjects),
		}
	}
	if len(rows) == 0 {
		return custos.AppendResult{}, nil
	}
	res, err := s.submit(ctx, len(rows), func(w *writer) (custos.AppendResult, error) {
		return w.appendAccess(rows)
	})
	if err != nil {
		return res, fmt.Errorf("sqlite: append %d access events: %w", len(rows), err)
	}
	return res, nil
}

// AppendLogins stores login events durably, skipping IDs already stored.
func (s *Store) AppendLogins(ctx context.Context, events []custos.LoginEvent) (custos.AppendResult, error) {
	rows := make([]loginRow, len(events))
	for i := range events {
		e := &events[i]
		if e.ID == "" {
			return custos.AppendResult{}, fmt.Errorf("sqlite: append logins: event %d has no id", i)
		}
		doc, err := json.Marshal(e)
		if err != nil {
			return custos.AppendResult{}, fmt.Errorf("sqlite: append logins: encode %s: %w", e.ID, err)
		}
		rows[i] = loginRow{
			id: e.ID, time: e.Time.UnixNano(), account: e.Account,
			sourceIP: e.Source.IP, system: e.System, outcome: string(e.Outcome), doc: doc,
		}
	}
	if len(rows) == 0 {
		return custos.AppendResult{}, nil
	}
	res, err := s.submit(ctx, len(rows), func(w *writer) (custos.AppendResult, error) {
		return w.appendLogins(rows)
	})
	if err != nil {
		return res, fmt.Errorf("sqlite: append %d login events: %w", len(rows), err)
	}
	return res, nil
}

// SetOffset durably records a consumer's position.
func (s *Store) SetOffset(ctx context.Context, consumer string, seq int64) error {
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		_, err := w.setOffset.Exec(consumer, seq, time.Now().UnixNano())
		return custos.AppendResult{}, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: set offset of %s: %w", consumer, err)
	}
	return nil
}

// writer owns the write connection. Only the writer goroutine touches it.
type writer struct {
	conn *sql.Conn

	// Multi-row INSERTs, prepared on first use, by table and row count
	// (see multiInsert): a group's events, their subject rows and logins
	// go in a few statements rather than one per row, since a statement's
	// own overhead was about half of an indexed row's cost.
	inserts map[insertKey]*sql.Stmt

	setOffset *sql.Stmt

	upsertHour *sql.Stmt

	// The group transaction's own statements, prepared once: parsing them
	// anew for every group was a third of the writer's CPU under small
	// groups (a gateway's clients each waiting on one event).
	begin, commitTx, rollback *sql.Stmt

	// Sequence range of each event hour written in this transaction, for
	// seq_hours.
	hours map[int64]seqRange

	maxGroup int  // events per group at most
	bulk     bool // Options.Bulk: made durable at close

	// The rows of the group being committed, handed to the tails once
	// the commit succeeded.
	accessTail                   *tail[custos.StoredAccess]
	loginTail                    *tail[custos.StoredLogin]
	pendingAccess, pendingLogins pending
	// accessChanged says the group rewrote stored accesses (erasure):
	// they are not handed to the tail, which is emptied instead.
	accessChanged bool

	walPath    string // the WAL file, whose size capWAL watches
	walChecked time.Time
	ckMu       *sync.Mutex // shared with the background checkpointer
}

type seqRange struct{ min, max int64 }

// hourOf is the seq_hours bucket of a Unix-ns time. It must match the
// backfill in migration 0002 (integer division truncates in both).
func hourOf(unixNano int64) int64 { return unixNano / int64(time.Hour) }

func newWriter(ctx context.Context, db *sql.DB, walPath string, ckMu *sync.Mutex) (*writer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &writer{conn: conn, walPath: walPath, ckMu: ckMu, inserts: map[insertKey]*sql.Stmt{}, maxGroup: maxGroupEvents}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&w.upsertHour, `INSERT INTO seq_hours (hour, min_seq, max_seq) VALUES (?, ?, ?)
			ON CONFLICT (hour) DO UPDATE SET min_seq = min(min_seq, excluded.min_seq), max_seq = max(max_seq, excluded.max_seq)`},
		{&w.begin, `BEGIN IMMEDIATE`},
		{&w.commitTx, `COMMIT`},
		{&w.rollback, `ROLLBACK`},
		{&w.setOffset, `INSERT INTO consumer_offsets (consumer, seq, updated) VALUES (?, ?, ?)
			ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq, updated = excluded.updated`},
	} {
		if *p.stmt, err = conn.PrepareContext(ctx, p.sql); err != nil {
			w.close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
	}
	return w, nil
}

func (w *writer) close() {
	for _, st := range []*sql.Stmt{w.upsertHour, w.setOffset, w.begin, w.commitTx, w.rollback} {
		if st != nil {
			st.Close()
		}
	}
	for _, st := range w.inserts {
		st.Close()
	}
	if w.bulk {
		// What bulk mode left in the WAL and the page cache goes to disk
		// now: a checkpoint under synchronous=FULL syncs the database.
		ctx := context.Background()
		w.conn.ExecContext(ctx, "PRAGMA synchronous(FULL)")
		w.conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	w.conn.Close()
}

// run commits groups of queued requests until the queue is closed and
// drained. While one group is being committed (most of that time is the
// fsync), new requests pile up in the queue and form the next group.
func (w *writer) run(queue <-chan *request) {
	defer w.close()
	for first := range queue {
		group := []*request{first}
		n := first.size
	fill:
		for n < w.maxGroup {
			select {
			case r, ok := <-queue:
				if !ok {
					break fill
				}
				group = append(group, r)
				n += r.size
			default:
				break fill
			}
		}
		w.commit(group)
		w.capWAL()
	}
}

// capWAL truncates the WAL from the writer itself once it is past
// walTruncateAt. The background checkpointer cannot do it while this
// goroutine commits back to back (a sustained load): TRUNCATE needs a
// moment with no writer, and between two groups is such a moment. The
// pause is a checkpoint of the pages not yet copied, bounded by the limit.
func (w *writer) capWAL() {
	if w.walPath == "" || time.Since(w.walChecked) < 100*time.Millisecond {
		return
	}
	w.walChecked = time.Now()
	if fi, err := os.Stat(w.walPath); err != nil || fi.Size() <= walTruncateAt {
		return
	}
	w.ckMu.Lock()
	defer w.ckMu.Unlock()
	// Readers on an older snapshot would make TRUNCATE wait for them with
	// the writer stalled: wait a quarter second at most, and leave a busy
	// WAL to the next try (or the background checkpointer).
	ctx := context.Background()
	w.conn.ExecContext(ctx, "PRAGMA busy_timeout(250)")
	w.conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	w.conn.ExecContext(ctx, "PRAGMA busy_timeout(10000)")
}

// commit writes a group in one transaction and answers its callers.
// Statements run under a background context: once taken, a request is
// written whole or not at all, whatever its caller does.
//
// Requests are not expected to fail on their own (appends skip duplicates
// and validation happened in the caller), so there is no savepoint per
// request: they cost more than the rest of the write. If the group fails
// anyway, each request is retried alone, so that one bad request cannot
// fail the others.
func (w *writer) commit(group []*request) {
	live := make([]*request, 0, len(group))
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.reply <- reply{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	replies, err := w.commitGroup(live)
	if err != nil && len(live) > 1 {
		for _, r := range live {
			w.commit([]*request{r})
		}
		return
	}
	for i, r := range live {
		if err != nil {
			r.reply <- reply{err: err}
			continue
		}
		r.reply <- replies[i]
	}
}

// commitGroup applies every request in one transaction. It fails as a
// whole if any request fails.
func (w *writer) commitGroup(group []*request) (replies []reply, err error) {
	if _, err := w.begin.Exec(); err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			w.rollback.Exec()
		}
	}()
	w.hours = map[int64]seqRange{}
	w.pendingAccess.clear()
	w.pendingLogins.clear()
	w.accessChanged = false
	replies = make([]reply, len(group))
	for i, r := range group {
		res, err := r.apply(w)
		if err != nil {
			return nil, err
		}
		replies[i] = reply{res: res}
	}
	for h, r := range w.hours {
		if _, err := w.upsertHour.Exec(h, r.min, r.max); err != nil {
			return nil, fmt.Errorf("update seq_hours: %w", err)
		}
	}
	if _, err := w.commitTx.Exec(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	if w.accessTail != nil {
		if w.accessChanged {
			w.accessTail.reset(slices.Max(append(w.pendingAccess.seqs, 0)))
		} else {
			w.accessTail.push(&w.pendingAccess)
		}
		w.loginTail.push(&w.pendingLogins)
	}
	return replies, nil
}

// insertKey names a prepared multi-row INSERT: its table and row count.
type insertKey struct {
	table string
	rows  int
}

// Rows per multi-row INSERT. SQLite binds at most 32,766 parameters per
// statement; these stay far below and keep each statement's work short.
const (
	eventChunk   = 32 // 13 parameters a row
	subjectChunk = 64 // 4 parameters a row
	loginChunk   = 32 // 7 parameters a row
)

// insertSQL is the text of each table's multi-row INSERT, up to VALUES.
// seq is left to SQLite (the INTEGER PRIMARY KEY takes max(seq) + 1 row
// by row, in VALUES order), so a duplicate id skipped by ON CONFLICT
// leaves no gap; RETURNING says which rows went in and with which seq.
var insertSQL = map[string]struct {
	head, tail string
	cols       int
}{
	"events": {`INSERT INTO events (id, time, actor, channel, action, system, object, purpose, ticket, records, decision, outcome, doc) VALUES `,
		` ON CONFLICT (id) DO NOTHING RETURNING seq, id`, 13},
	// A subject listed twice in one event is one row.
	"event_subjects": {`INSERT INTO event_subjects (subject, seq, time, actor) VALUES `, ` ON CONFLICT DO NOTHING`, 4},
	"logins": {`INSERT INTO logins (id, time, account, source_ip, system, outcome, doc) VALUES `,
		` ON CONFLICT (id) DO NOTHING RETURNING seq, id`, 7},
	// A canary listed among the real subjects too stays a canary.
	"export_subjects": {`INSERT INTO export_subjects (subject, rid, canary) VALUES `,
		` ON CONFLICT (subject, rid) DO UPDATE SET canary = max(canary, excluded.canary)`, 3},
}

// multiInsert returns the prepared INSERT of rows rows into table.
func (w *writer) multiInsert(table string, rows int) (*sql.Stmt, error) {
	k := insertKey{table, rows}
	if st, ok := w.inserts[k]; ok {
		return st, nil
	}
	q := insertSQL[table]
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", q.cols), ", ") + ")"
	text := q.head + strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ") + q.tail
	st, err := w.conn.PrepareContext(context.Background(), text)
	if err != nil {
		return nil, fmt.Errorf("prepare %d-row insert into %s: %w", rows, table, err)
	}
	w.inserts[k] = st
	return st, nil
}

// insertRows inserts n rows into table, chunk rows a statement; row
// appends row i's arguments. It returns the seq of each id that went in.
func (w *writer) insertRows(table string, n, chunk int, row func(args []any, i int) []any) (map[string]int64, error) {
	seqs := make(map[string]int64, n)
	args := make([]any, 0, chunk*insertSQL[table].cols)
	for start := 0; start < n; start += chunk {
		end := min(start+chunk, n)
		args = args[:0]
		for i := start; i < end; i++ {
			args = row(args, i)
		}
		if err := w.insertReturning(table, end-start, args, seqs); err != nil {
			return nil, err
		}
	}
	return seqs, nil
}

// insertReturning runs a multi-row INSERT … RETURNING seq, id and adds
// the returned rows to seqs.
func (w *writer) insertReturning(table string, rows int, args []any, seqs map[string]int64) error {
	st, err := w.multiInsert(table, rows)
	if err != nil {
		return err
	}
	res, err := st.Query(args...)
	if err != nil {
		return err
	}
	defer res.Close()
	for res.Next() {
		var seq int64
		var id string
		if err := res.Scan(&seq, &id); err != nil {
			return err
		}
		seqs[id] = seq
	}
	return res.Err()
}

func (w *writer) appendAccess(rows []accessRow) (custos.AppendResult, error) {
	seqs, err := w.insertRows("events", len(rows), eventChunk, func(args []any, i int) []any {
		e := &rows[i]
		return append(args, e.id, e.time, e.actor, e.channel, e.action,
			e.system, e.object, e.purpose, e.ticket, e.records, e.decision, e.outcome, e.doc)
	})
	if err != nil {
		return custos.AppendResult{}, fmt.Errorf("insert events %s…: %w", rows[0].id, err)
	}
	// The first occurrence of an id is the row that went in; any later one
	// in the same call, like an id stored before, is a duplicate.
	var res custos.AppendResult
	var subs []any
	for i := range rows {
		e := &rows[i]
		seq, ok := seqs[e.id]
		if !ok {
			res.Duplicates++
			continue
		}
		delete(seqs, e.id)
		res.Stored++
		w.pendingAccess.add(seq, e.doc)
		for _, sub := range e.subjects {
			subs = append(subs, subjectKey(sub.Type, sub.Hash), seq, e.time, e.actor)
		}
		h := hourOf(e.time)
		if r, ok := w.hours[h]; ok {
			w.hours[h] = seqRange{min(r.min, seq), max(r.max, seq)}
		} else {
			w.hours[h] = seqRange{seq, seq}
		}
	}
	if err := w.insertChunks("event_subjects", subs); err != nil {
		return custos.AppendResult{}, fmt.Errorf("index subjects of %d events: %w", res.Stored, err)
	}
	return res, nil
}

// insertChunks writes rows of a table without RETURNING (args holds the
// rows' arguments one after the other) in chunks of subjectChunk rows: an
// event or an export of thousands of people costs a few statements, not
// thousands.
func (w *writer) insertChunks(table string, args []any) error {
	cols := insertSQL[table].cols
	n := len(args) / cols
	for start := 0; start < n; start += subjectChunk {
		k := min(subjectChunk, n-start)
		st, err := w.multiInsert(table, k)
		if err != nil {
			return err
		}
		if _, err := st.Exec(args[start*cols : (start+k)*cols]...); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) appendLogins(rows []loginRow) (custos.AppendResult, error) {
	seqs, err := w.insertRows("logins", len(rows), loginChunk, func(args []any, i int) []any {
		e := &rows[i]
		return append(args, e.id, e.time, e.account, e.sourceIP, e.system, e.outcome, e.doc)
	})
	if err != nil {
		return custos.AppendResult{}, fmt.Errorf("insert logins %s…: %w", rows[0].id, err)
	}
	var res custos.AppendResult
	for i := range rows {
		seq, ok := seqs[rows[i].id]
		if !ok {
			res.Duplicates++
			continue
		}
		delete(seqs, rows[i].id)
		res.Stored++
		w.pendingLogins.add(seq, rows[i].doc)
	}
	return res, nil
}

// subjectKey is the event_subjects key of a subject: the first 16 bytes of
// SHA-256 over its type and blind-index hash. The blind-index hash is 64
// hex characters; 16 raw bytes index the same subjects (a chance collision
// at 2^-128 would at worst add a stranger's event to a history) in a
// quarter of the space.
func subjectKey(typ, hash string) []byte {
	h := sha256.New()
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write([]byte(hash))
	var sum [sha256.Size]byte
	return h.Sum(sum[:0])[:16]
}
