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
		`DROP INDEX events_actor`, `DROP INDEX events_system`, `DROP INDEX events_resource`, `DROP INDEX events_time`,
		`CREATE TABLE bulk_subjects (subject BLOB, seq INTEGER, time INTEGER, actor TEXT)`,
	} {
		if err := exec(q); err != nil {
			return err
		}
	}
	const rowsPerStmt = 50
	evSQL := `INSERT INTO events (seq, id, time, actor, channel, action, system, object, purpose, ticket, records, decision, outcome, doc) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?,?,?,?,?,?,?,?,?),", rowsPerStmt), ",")
	subSQL := `INSERT INTO bulk_subjects (subject, seq, time, actor) VALUES (?,?,?,?)`
	begin := time.Now()
	hours := map[int64][2]int64{}
	const txEvents = 200_000
	for txStart := c.from; txStart < c.events; txStart += txEvents {
		if err := exec(`BEGIN`); err != nil {
			return err
		}
		evStmt, err := conn.PrepareContext(ctx, evSQL)
		if err != nil {
			return err
		}
		subStmt, err := conn.PrepareContext(ctx, subSQL)
		if err != nil {
			return err
		}
		args := make([]any, 0, 14*rowsPerStmt)
		txEnd := min(txStart+txEvents, c.events)
		for i := txStart; i < txEnd; i++ {
			e := event(c, idx, start, step, i)
			doc, err := json.Marshal(e)
			if err != nil {
				return err
			}
			seq := int64(i) + 1
			t := e.Time.UnixNano()
			args = append(args, seq, e.ID, t, e.Actor.ID, string(e.Channel), string(e.Action), e.Resource.System, e.Resource.Object,
				e.Purpose.Name, e.Purpose.Ticket, e.Records, string(e.Decision), string(e.Outcome), doc)
			if len(args) == cap(args) {
				if _, err := evStmt.ExecContext(ctx, args...); err != nil {
					return fmt.Errorf("bulk load: events: %w", err)
				}
				args = args[:0]
			}
			for _, s := range e.Subjects {
				if _, err := subStmt.ExecContext(ctx, subjectKey(s.Type, s.Hash), seq, t, e.Actor.ID); err != nil {
					return fmt.Errorf("bulk load: subjects: %w", err)
				}
			}
			h := t / int64(time.Hour)
			if r, ok := hours[h]; ok {
				hours[h] = [2]int64{min(r[0], seq), max(r[1], seq)}
			} else {
				hours[h] = [2]int64{seq, seq}
			}
		}
		// The tail of the transaction, row by row.
		for len(args) > 0 {
			if _, err := conn.ExecContext(ctx, evSQL[:strings.Index(evSQL, "VALUES ")+7]+"(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", args[:14]...); err != nil {
				return fmt.Errorf("bulk load: events: %w", err)
			}
			args = args[14:]
		}
		evStmt.Close()
		subStmt.Close()
		if err := exec(`COMMIT`); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bulk: %d events (%s)\n", txEnd, time.Since(begin).Round(time.Second))
	}
	t0 := time.Now()
	steps := []string{
		`BEGIN`,
		`INSERT INTO event_subjects (subject, seq, time, actor) SELECT subject, seq, time, actor FROM bulk_subjects ORDER BY subject, seq ON CONFLICT DO NOTHING`,
		`DROP TABLE bulk_subjects`,
		`CREATE INDEX events_actor    ON events (actor, seq, time)`,
		`CREATE INDEX events_system   ON events (system, seq, time)`,
		`CREATE INDEX events_resource ON events (system, object, seq, time)`,
		`CREATE INDEX events_time     ON events (time)`,
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
