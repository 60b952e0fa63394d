package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/store/sqlite"
	"github.com/jackc/pgx/v5"
)

// pgPeer copies the subject index and the event documents from the SQLite
// file into equivalent PostgreSQL tables (COPY, then the same clustered
// key as a B-tree primary key) and measures the same subject-history query
// on both, over the same samples, in the same run.
func pgPeer(ctx context.Context, c config, s *sqlite.Store, samples []sample) error {
	src, err := sql.Open("sqlite", "file:"+s.Path()+"?mode=ro")
	if err != nil {
		return err
	}
	defer src.Close()
	pg, err := pgx.Connect(ctx, c.pg)
	if err != nil {
		return err
	}
	defer pg.Close(ctx)

	begin := time.Now()
	for _, stmt := range []string{
		`DROP TABLE IF EXISTS bench_event_subjects, bench_events`,
		`CREATE UNLOGGED TABLE bench_events (seq bigint NOT NULL, doc bytea NOT NULL)`,
		`CREATE UNLOGGED TABLE bench_event_subjects (subject_type text NOT NULL, subject_hash text NOT NULL,
			seq bigint NOT NULL, time bigint NOT NULL, actor text NOT NULL)`,
	} {
		if _, err := pg.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	if err := copyTable(ctx, src, pg, `SELECT seq, doc FROM events`, "bench_events", []string{"seq", "doc"}); err != nil {
		return err
	}
	if err := copyTable(ctx, src, pg, `SELECT subject_type, subject_hash, seq, time, actor FROM event_subjects`,
		"bench_event_subjects", []string{"subject_type", "subject_hash", "seq", "time", "actor"}); err != nil {
		return err
	}
	for _, stmt := range []string{
		`ALTER TABLE bench_events ADD PRIMARY KEY (seq)`,
		`ALTER TABLE bench_event_subjects ADD PRIMARY KEY (subject_type, subject_hash, seq)`,
		`VACUUM ANALYZE bench_events`,
		`VACUUM ANALYZE bench_event_subjects`,
	} {
		if _, err := pg.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	fmt.Printf("postgres: copied and indexed in %s\n", time.Since(begin).Round(time.Second))

	const q = `SELECT e.seq, e.doc FROM bench_event_subjects s JOIN bench_events e ON e.seq = s.seq
		WHERE s.subject_type = $1 AND s.subject_hash = $2 ORDER BY s.seq DESC LIMIT 100`
	// Warm both the same way: one pass that is not measured.
	run := func(x sample) (int, error) {
		rows, err := pg.Query(ctx, q, "cn_id", x.subject)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var a custos.StoredAccess
			var doc []byte
			if err := rows.Scan(&a.Seq, &doc); err != nil {
				return 0, err
			}
			if err := json.Unmarshal(doc, &a.AccessEvent); err != nil {
				return 0, err
			}
			n++
		}
		return n, rows.Err()
	}
	lite := func(x sample) (int, error) {
		res, err := s.SubjectAccesses(ctx, "cn_id", x.subject, custos.Query{Limit: 100})
		return len(res), err
	}
	if _, err := measure(samples, run); err != nil {
		return err
	}
	pl, err := measure(samples, run)
	if err != nil {
		return err
	}
	sl, err := measure(samples, lite)
	if err != nil {
		return err
	}
	fmt.Printf("postgres SubjectAccesses-equivalent (limit 100)              %s\n", pl)
	fmt.Printf("sqlite   SubjectAccesses (limit 100, same samples, after pg) %s\n", sl)
	fmt.Printf("ratio p50 sqlite/postgres = %.2f, p99 sqlite/postgres = %.2f\n",
		float64(pct(sl, 0.5))/float64(pct(pl, 0.5)), float64(pct(sl, 0.99))/float64(pct(pl, 0.99)))
	return nil
}

func copyTable(ctx context.Context, src *sql.DB, pg *pgx.Conn, query, table string, cols []string) error {
	rows, err := src.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	n, err := pg.CopyFrom(ctx, pgx.Identifier{table}, cols, &sqlRows{rows: rows, n: len(cols)})
	if err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	fmt.Printf("postgres: copied %d rows into %s\n", n, table)
	return nil
}

// sqlRows adapts database/sql rows to pgx.CopyFromSource.
type sqlRows struct {
	rows *sql.Rows
	n    int
	vals []any
	err  error
}

func (r *sqlRows) Next() bool {
	if !r.rows.Next() {
		return false
	}
	ptrs := make([]any, r.n)
	vals := make([]any, r.n)
	for i := range ptrs {
		ptrs[i] = &vals[i]
	}
	if r.err = r.rows.Scan(ptrs...); r.err != nil {
		return false
	}
	r.vals = vals
	return true
}

func (r *sqlRows) Values() ([]any, error) { return r.vals, r.err }

func (r *sqlRows) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.rows.Err()
}
