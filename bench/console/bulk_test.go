package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/store/sqlite"
)

// dump reads what the load writes, in a comparable form.
func dump(t *testing.T, dir string) map[string][]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][]string{}
	for name, q := range map[string]string{
		"events":         `SELECT seq, id, time, actor, channel, action, system, object, purpose, ticket, records, decision, outcome, hex(doc) FROM events ORDER BY seq`,
		"event_subjects": `SELECT hex(subject), seq, time, actor, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM event_subjects ORDER BY subject, seq`,
		"seq_hours":      `SELECT hour, min_seq, max_seq, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM seq_hours ORDER BY hour`,
		"console_volume": `SELECT hour, channel, category, events, records, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM console_volume ORDER BY 1, 2, 3`,
		"actor_days":     `SELECT actor, day, events, records, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM console_actor_days ORDER BY 1, 2`,
		"rollup":         `SELECT seq, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM console_rollup`,
		"indexes":        `SELECT name, sql, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for rows.Next() {
			v := make([]any, 14)
			for i := range v {
				v[i] = new(any)
			}
			if err := rows.Scan(v...); err != nil {
				t.Fatal(err)
			}
			s := ""
			for _, x := range v {
				s += fmt.Sprint(*(x.(*any))) + "|"
			}
			out[name] = append(out[name], s)
		}
		rows.Close()
	}
	return out
}

// TestBulkMatchesStore: the bulk loader writes the same rows as loading
// the same events through the store's AppendAccess.
func TestBulkMatchesStore(t *testing.T) {
	ctx := context.Background()
	c := config{events: 3000, actors: 50, subjects: 500, days: 2}
	key := sha256.Sum256([]byte("bench/console key"))
	idx, err := blind.New(key[:])
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	span := time.Duration(c.days) * 24 * time.Hour
	start, step := end.Add(-span), span/time.Duration(c.events)

	c.dir = t.TempDir()
	if err := bulkLoad(ctx, c, idx, start, step); err != nil {
		t.Fatal(err)
	}
	// A store roll-up of the first 1000 events, then the bulk one for the
	// rest of the generated events; an event the console stored (as a
	// recorded search is) is left to the store's roll-up.
	st, err := sqlite.Open(ctx, c.dir)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := st.RollUpConsole(ctx, 1000); err != nil || n != 1000 {
		t.Fatalf("store roll-up: %d %v", n, err)
	}
	// A search recorded by the console: an event the generator did not make.
	extra := event(c, idx, start, step, 7)
	extra.ID, extra.Actor.ID, extra.Categories = "search-1", "investigator", []string{"identity"}
	if _, err := st.AppendAccess(ctx, []custos.AccessEvent{extra}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := bulkRollUp(ctx, c, idx, start, step); err != nil {
		t.Fatal(err)
	}
	if st, err = sqlite.Open(ctx, c.dir); err != nil {
		t.Fatal(err)
	}
	if n, err := st.RollUpConsole(ctx, 1000); err != nil || n != 1 {
		t.Fatalf("store roll-up after the bulk one: %d %v, want the 1 recorded search", n, err)
	}
	st.Close()
	bulk := dump(t, c.dir)

	c.dir = t.TempDir()
	st, err = sqlite.Open(ctx, c.dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := load(ctx, c, st, idx, start, step); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendAccess(ctx, []custos.AccessEvent{extra}); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := st.RollUpConsole(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	st.Close()
	ref := dump(t, c.dir)

	for _, table := range []string{"events", "event_subjects", "seq_hours", "indexes", "console_volume", "actor_days", "rollup"} {
		if len(ref[table]) == 0 {
			t.Fatalf("%s: nothing loaded", table)
		}
		if !slices.Equal(bulk[table], ref[table]) {
			t.Errorf("%s: bulk load differs (%d rows, store %d)", table, len(bulk[table]), len(ref[table]))
		}
	}
	// Bulk-loading into a store that holds events is refused.
	c.dir = filepath.Dir(filepath.Join(c.dir, "x"))
	if err := bulkLoad(ctx, c, idx, start, step); err == nil {
		t.Error("bulk load into a loaded store accepted")
	}
}
