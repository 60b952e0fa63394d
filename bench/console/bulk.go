package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/store/sqlite"
)

// bulkLoad writes the events straight into a new store's database file,
// for the benchmark only: one connection with no journal and no fsync,
// large transactions, the events table's secondary indexes dropped while
// loading and rebuilt by sorting at the end, and the subject index filled
// from a staging table in key order. Loading 10 M events through
// AppendAccess (durable group commits, random inserts into every index)
// took over an hour on the shared 2-core machine.
//
// The rows are what the store's writer would have written (the event's
// JSON document, the 16-byte subject key, seq_hours); TestBulkMatchesStore
// checks that against AppendAccess. The store must be new (no events).
func bulkLoad(ctx context.Context, c config, idx *blind.Index, start time.Time, step time.Duration) error {
	// Open and close the store once: it creates the schema.
	st, err := sqlite.Open(ctx, c.dir)
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(c.dir, sqlite.FileName))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	exec := func(q string, args ...any) error {
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("bulk load: %s: %w", strings.SplitN(q, "\n", 2)[0], err)
		}
		return nil
	}
	var n int64
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("bulk load: %s already holds %d events (use a new -dir, or -bulk=false)", c.dir, n)
	}
	for _, q := range []string{
		`PRAGMA journal_mode = DELETE`, `PRAGMA journal_mode = OFF`, `PRAGMA synchronous = OFF`,
		`PRAGMA cache_size = -1048576`, `PRAGMA temp_store = FILE`,
		`DROP INDEX events_actor`, `DROP INDEX events_system`, `DROP INDEX events_resource`,
		`CREATE TABLE bulk_subjects (subject BLOB, seq INTEGER, time INTEGER, actor TEXT)`,
	} {
		if err := exec(q); err != nil {
			return err
		}
	}
	// Statements of many rows each: a statement's own cost dominates
	// small rows in this driver.
	const rowsPerStmt = 50
	evCols, subCols := 14, 4
	evHead := `INSERT INTO events (seq, id, time, actor, channel, action, system, object, purpose, ticket, records, decision, outcome, doc) VALUES `
	subHead := `INSERT INTO bulk_subjects (subject, seq, time, actor) VALUES `
	multi := func(head string, cols, rows int) string {
		row := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
		return head + strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
	}
	stmts := map[string]*sql.Stmt{}
	flush := func(head string, cols int, args []any) error {
		rows := len(args) / cols
		if rows == 0 {
			return nil
		}
		q := multi(head, cols, rows)
		st, ok := stmts[q]
		if !ok {
			var err error
			if st, err = conn.PrepareContext(ctx, q); err != nil {
				return err
			}
			stmts[q] = st
		}
		_, err := st.ExecContext(ctx, args...)
		return err
	}
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()

	// Events are generated (blind-index hashes, masking, JSON) on another
	// goroutine, in order, while this one writes.
	type genEvent struct {
		seq, time int64
		args      []any // the events row
		subjects  [][]byte
		actor     string
	}
	gen := make(chan []genEvent, 4)
	genCtx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	go func() {
		defer close(gen)
		const chunk = 1000
		for i := c.from; i < c.events; i += chunk {
			out := make([]genEvent, 0, chunk)
			for j := i; j < min(i+chunk, c.events); j++ {
				e := event(c, idx, start, step, j)
				doc, _ := json.Marshal(e)
				seq, t := int64(j)+1, e.Time.UnixNano()
				g := genEvent{seq: seq, time: t, actor: e.Actor.ID, args: []any{seq, e.ID, t, e.Actor.ID, string(e.Channel), string(e.Action),
					e.Resource.System, e.Resource.Object, e.Purpose.Name, e.Purpose.Ticket, e.Records, string(e.Decision), string(e.Outcome), doc}}
				for _, s := range e.Subjects {
					g.subjects = append(g.subjects, subjectKey(s.Type, s.Hash))
				}
				out = append(out, g)
			}
			select {
			case gen <- out:
			case <-genCtx.Done():
				return
			}
		}
	}()

	begin := time.Now()
	hours := map[int64][2]int64{}
	const txEvents = 500_000
	inTx := 0
	evArgs := make([]any, 0, evCols*rowsPerStmt)
	subArgs := make([]any, 0, subCols*rowsPerStmt*2)
	for chunk := range gen {
		if inTx == 0 {
			if err := exec(`BEGIN`); err != nil {
				return err
			}
		}
		for _, g := range chunk {
			evArgs = append(evArgs, g.args...)
			if len(evArgs) == cap(evArgs) {
				if err := flush(evHead, evCols, evArgs); err != nil {
					return fmt.Errorf("bulk load: events: %w", err)
				}
				evArgs = evArgs[:0]
			}
			for _, k := range g.subjects {
				subArgs = append(subArgs, k, g.seq, g.time, g.actor)
				if len(subArgs) == cap(subArgs) {
					if err := flush(subHead, subCols, subArgs); err != nil {
						return fmt.Errorf("bulk load: subjects: %w", err)
					}
					subArgs = subArgs[:0]
				}
			}
			h := g.time / int64(time.Hour)
			if r, ok := hours[h]; ok {
				hours[h] = [2]int64{min(r[0], g.seq), max(r[1], g.seq)}
			} else {
				hours[h] = [2]int64{g.seq, g.seq}
			}
		}
		inTx += len(chunk)
		last := chunk[len(chunk)-1].seq
		if inTx >= txEvents || last == int64(c.events) {
			if err := flush(evHead, evCols, evArgs); err != nil {
				return fmt.Errorf("bulk load: events: %w", err)
			}
			if err := flush(subHead, subCols, subArgs); err != nil {
				return fmt.Errorf("bulk load: subjects: %w", err)
			}
			evArgs, subArgs = evArgs[:0], subArgs[:0]
			if err := exec(`COMMIT`); err != nil {
				return err
			}
			inTx = 0
			fmt.Fprintf(os.Stderr, "bulk: %d events (%s)\n", last, time.Since(begin).Round(time.Second))
		}
	}
	if inTx != 0 {
		return fmt.Errorf("bulk load: generation stopped early")
	}
	t0 := time.Now()
	steps := []string{
		`BEGIN`,
		`INSERT INTO event_subjects (subject, seq, time, actor) SELECT subject, seq, time, actor FROM bulk_subjects ORDER BY subject, seq ON CONFLICT DO NOTHING`,
		`DROP TABLE bulk_subjects`,
		`CREATE INDEX events_actor    ON events (actor, seq, time)`,
		`CREATE INDEX events_system   ON events (system, seq, time)`,
		`CREATE INDEX events_resource ON events (system, object, seq, time)`,
	}
	for _, q := range steps {
		if err := exec(q); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bulk: %s (%s)\n", strings.Fields(q)[0]+" "+strings.Fields(q)[min(2, len(strings.Fields(q))-1)], time.Since(t0).Round(time.Second))
	}
	for h, r := range hours {
		if err := exec(`INSERT INTO seq_hours (hour, min_seq, max_seq) VALUES (?, ?, ?)
			ON CONFLICT (hour) DO UPDATE SET min_seq = min(min_seq, excluded.min_seq), max_seq = max(max_seq, excluded.max_seq)`, h, r[0], r[1]); err != nil {
			return err
		}
	}
	if err := exec(`COMMIT`); err != nil {
		return err
	}
	if err := exec(`PRAGMA journal_mode = WAL`); err != nil {
		return err
	}
	d := time.Since(begin)
	fmt.Printf("bulk load: %d events in %s (%.0f events/s; indexes built in %s)\n", c.events-c.from, d.Round(time.Second),
		float64(c.events-c.from)/d.Seconds(), time.Since(t0).Round(time.Second))
	return nil
}

// subjectKey is the store's 16-byte subject key (store/sqlite write.go):
// SHA-256 of type, a zero byte and the blind-index hash, truncated.
func subjectKey(typ, hash string) []byte {
	h := sha256.New()
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write([]byte(hash))
	return h.Sum(nil)[:16]
}

// bulkRollUp fills the console's roll-ups (console_volume,
// console_actor_days, console_rollup) for events 0..n-1 of a bulk-loaded
// store by generating the events again (they are a pure function of the
// seed and the index) instead of reading them back: what
// sqlite.RollUpConsole would count, in a fraction of the time.
// TestBulkMatchesStore checks the rows against RollUpConsole. It counts
// from where the roll-ups stand (a store roll-up may have begun).
func bulkRollUp(ctx context.Context, c config, idx *blind.Index, start time.Time, step time.Duration) error {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(c.dir, sqlite.FileName))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var done, top int64
	if err := db.QueryRowContext(ctx, `SELECT seq FROM console_rollup WHERE id = 1`).Scan(&done); err != nil {
		return fmt.Errorf("bulk roll-up: %w", err)
	}
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM events`).Scan(&top); err != nil {
		return fmt.Errorf("bulk roll-up: %w", err)
	}
	// Events past c.events were stored by the console itself (recorded
	// subject searches of earlier runs): not generated, so left to
	// RollUpConsole, which counts from where this stops.
	top = min(top, int64(c.events))
	if done >= top {
		return nil
	}
	begin := time.Now()
	type vkey struct {
		hour              int64
		channel, category string
	}
	type dkey struct {
		actor string
		day   int64
	}
	type counts struct{ events, records int64 }
	vol := map[vkey]counts{}
	days := map[dkey]counts{}
	add := func(m map[vkey]counts, k vkey, recs int64) {
		v := m[k]
		m[k] = counts{v.events + 1, v.records + recs}
	}
	for i := int(done); i < int(top); i++ { // seq = i + 1
		e := event(c, idx, start, step, i)
		t := e.Time.UnixNano()
		h := t / int64(time.Hour)
		add(vol, vkey{h, string(e.Channel), "*"}, e.Records)
		for _, cat := range e.Categories {
			add(vol, vkey{h, string(e.Channel), cat}, e.Records)
		}
		k := dkey{e.Actor.ID, t / int64(24*time.Hour)}
		d := days[k]
		days[k] = counts{d.events + 1, d.records + e.Records}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for k, v := range vol {
		if _, err := tx.ExecContext(ctx, `INSERT INTO console_volume (hour, channel, category, events, records) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (hour, channel, category) DO UPDATE SET events = events + excluded.events, records = records + excluded.records`,
			k.hour, k.channel, k.category, v.events, v.records); err != nil {
			return fmt.Errorf("bulk roll-up: %w", err)
		}
	}
	for k, v := range days {
		if _, err := tx.ExecContext(ctx, `INSERT INTO console_actor_days (actor, day, events, records) VALUES (?, ?, ?, ?)
			ON CONFLICT (actor, day) DO UPDATE SET events = events + excluded.events, records = records + excluded.records`,
			k.actor, k.day, v.events, v.records); err != nil {
			return fmt.Errorf("bulk roll-up: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE console_rollup SET seq = ? WHERE id = 1 AND seq = ?`, top, done); err != nil {
		return fmt.Errorf("bulk roll-up: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	fmt.Printf("bulk roll-up: %d events in %s (%d volume rows, %d actor-days)\n", top-done, time.Since(begin).Round(time.Millisecond), len(vol), len(days))
	return nil
}
