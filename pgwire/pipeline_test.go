package pgwire

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/pgsql"
)

// pipelineRefusals are statements the gateway refuses: after the upstream
// produced the result (lim: limit of five rows; quinn: quota of three
// subjects) and before it runs (carl: policy deny; alice: SELECT * block).
var pipelineRefusals = []struct {
	user, sql, code string
}{
	{"lim", "SELECT phone FROM passengers", "54000"},
	{"quinn", "SELECT id_number FROM passengers", "42501"},
	{"carl", "SELECT phone FROM passengers WHERE pid = 1", "42501"},
	{"alice", "SELECT * FROM passengers", "42501"},
}

// notesCommitted counts the rows of notes with an id, around the gateway.
func (g *gw) notesCommitted(t *testing.T, ids ...int) int {
	t.Helper()
	var n int
	if err := g.admin(t).QueryRow(context.Background(), "SELECT count(*) FROM notes WHERE id = ANY($1)", ids).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A refusal inside a pgx batch sent in a transaction aborts the
// transaction as a failing statement would: the rest of the batch is
// skipped, the status is E and COMMIT rolls back.
func TestRefusalInBatchTransaction(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	modes := []string{"cache_statement", "exec", "simple_protocol"}
	for i, r := range pipelineRefusals {
		for j, mode := range modes {
			c := g.connect(r.user, "default_query_exec_mode="+mode)
			id := 1000 + i*10 + j*2
			batch := func() *pgx.Batch {
				b := &pgx.Batch{}
				b.Queue("INSERT INTO notes VALUES ($1, 'before')", id)
				b.Queue(r.sql)
				b.Queue("INSERT INTO notes VALUES ($1, 'after')", id+1)
				return b
			}
			// run sends the batch and checks that the refusal ended it.
			run := func() {
				br := c.SendBatch(ctx, batch())
				defer br.Close()
				_, err := br.Exec()
				if err != nil && pgCode(err) == r.code {
					// Refused while pgx prepared the batch: nothing ran.
					return
				}
				if err != nil {
					t.Fatalf("%s as %s (%s): first insert: %v", r.sql, r.user, mode, err)
				}
				if _, err := br.Exec(); pgCode(err) != r.code {
					t.Errorf("%s as %s (%s): err = %v, want %s", r.sql, r.user, mode, err, r.code)
				}
				if _, err := br.Exec(); err == nil {
					t.Errorf("%s as %s (%s): the insert after the refusal ran", r.sql, r.user, mode)
				}
			}

			tx, err := c.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			run()
			if s := c.PgConn().TxStatus(); s != 'E' {
				t.Errorf("%s as %s (%s): status %c after the batch, want E", r.sql, r.user, mode, s)
			}
			if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxCommitRollback) {
				t.Errorf("%s as %s (%s): COMMIT = %v, want a rollback", r.sql, r.user, mode, err)
			}
			if n := g.notesCommitted(t, id, id+1); n != 0 {
				t.Errorf("%s as %s (%s): %d rows committed in a transaction, want 0", r.sql, r.user, mode, n)
			}

			// Outside a transaction block a batch is one implicit
			// transaction: the refusal rolls it back.
			run()
			if s := c.PgConn().TxStatus(); s != 'I' {
				t.Errorf("%s as %s (%s): status %c after the batch, want I", r.sql, r.user, mode, s)
			}
			if n := g.notesCommitted(t, id, id+1); n != 0 {
				t.Errorf("%s as %s (%s): %d rows committed by an implicit transaction, want 0", r.sql, r.user, mode, n)
			}
		}
	}
}

// rawResult is what one ReadyForQuery-terminated answer held.
type rawResult struct {
	tags   []string
	codes  []string
	status byte
}

// readUntilReady reads one answer up to its ReadyForQuery.
func readUntilReady(t *testing.T, fe *pgproto3.Frontend) rawResult {
	t.Helper()
	var r rawResult
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		switch m := msg.(type) {
		case *pgproto3.CommandComplete:
			r.tags = append(r.tags, string(m.CommandTag))
		case *pgproto3.ErrorResponse:
			r.codes = append(r.codes, m.Code)
		case *pgproto3.ReadyForQuery:
			r.status = m.TxStatus
			return r
		}
	}
}

// A refusal in a pipeline of several Syncs (libpq pipeline mode) inside a
// transaction: the segments after it run in the aborted transaction and
// the COMMIT at the end reports ROLLBACK; one Query message holding
// BEGIN, an INSERT, the refused statement and COMMIT leaves nothing
// committed either.
func TestRefusalInRawPipeline(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, r := range pipelineRefusals {
		id := 3000 + i*10
		t.Run(r.user+"/syncs", func(t *testing.T) {
			c := g.connect(r.user, "")
			defer c.Close(ctx)
			pc := c.PgConn()
			fe := pc.Frontend()
			fe.Send(&pgproto3.Query{String: "BEGIN"})
			ext := func(sql string) {
				fe.Send(&pgproto3.Parse{Query: sql})
				fe.Send(&pgproto3.Bind{})
				fe.Send(&pgproto3.Describe{ObjectType: 'P'})
				fe.Send(&pgproto3.Execute{})
				fe.Send(&pgproto3.Sync{})
			}
			ext("INSERT INTO notes VALUES (" + itoa(id) + ", 'x')")
			ext(r.sql)
			ext("INSERT INTO notes VALUES (" + itoa(id+1) + ", 'y')")
			ext("COMMIT")
			if err := fe.Flush(); err != nil {
				t.Fatal(err)
			}
			var got []rawResult
			for range 5 {
				got = append(got, readUntilReady(t, fe))
			}
			if got[1].status != 'T' || len(got[1].codes) != 0 {
				t.Errorf("insert: %+v", got[1])
			}
			if len(got[2].codes) != 1 || got[2].codes[0] != r.code || got[2].status != 'E' {
				t.Errorf("refused segment: %+v, want error %s and status E", got[2], r.code)
			}
			if len(got[3].codes) != 1 || got[3].codes[0] != "25P02" || got[3].status != 'E' {
				t.Errorf("segment after the refusal: %+v, want 25P02 and status E", got[3])
			}
			if len(got[4].tags) != 1 || got[4].tags[0] != "ROLLBACK" || got[4].status != 'I' {
				t.Errorf("COMMIT: %+v, want ROLLBACK and status I", got[4])
			}
			if n := g.notesCommitted(t, id, id+1); n != 0 {
				t.Errorf("%d rows committed, want 0", n)
			}
		})
		t.Run(r.user+"/one-sync", func(t *testing.T) {
			c := g.connect(r.user, "")
			defer c.Close(ctx)
			fe := c.PgConn().Frontend()
			for _, sql := range []string{"BEGIN", "INSERT INTO notes VALUES (" + itoa(id+2) + ", 'x')", r.sql, "COMMIT"} {
				fe.Send(&pgproto3.Parse{Query: sql})
				fe.Send(&pgproto3.Bind{})
				fe.Send(&pgproto3.Execute{})
			}
			fe.Send(&pgproto3.Sync{})
			fe.Send(&pgproto3.Query{String: "COMMIT"})
			if err := fe.Flush(); err != nil {
				t.Fatal(err)
			}
			got := readUntilReady(t, fe)
			if len(got.codes) != 1 || got.codes[0] != r.code || got.status != 'E' {
				t.Errorf("pipeline: %+v, want error %s and status E", got, r.code)
			}
			if len(got.tags) > 2 {
				t.Errorf("pipeline: %d statements completed, want at most BEGIN and INSERT", len(got.tags))
			}
			end := readUntilReady(t, fe)
			if len(end.tags) != 1 || end.tags[0] != "ROLLBACK" {
				t.Errorf("COMMIT after the pipeline: %+v, want ROLLBACK", end)
			}
			if n := g.notesCommitted(t, id+2); n != 0 {
				t.Errorf("%d rows committed, want 0", n)
			}
		})
		t.Run(r.user+"/query-string", func(t *testing.T) {
			c := g.connect(r.user, "")
			defer c.Close(ctx)
			fe := c.PgConn().Frontend()
			fe.Send(&pgproto3.Query{String: "BEGIN; INSERT INTO notes VALUES (" + itoa(id+3) + ", 'x'); " + r.sql + "; INSERT INTO notes VALUES (" + itoa(id+4) + ", 'y'); COMMIT"})
			fe.Send(&pgproto3.Query{String: "COMMIT"})
			if err := fe.Flush(); err != nil {
				t.Fatal(err)
			}
			got := readUntilReady(t, fe)
			if len(got.codes) != 1 || got.codes[0] != r.code || got.status != 'E' {
				t.Errorf("query string: %+v, want error %s and status E", got, r.code)
			}
			if len(got.tags) != 2 || got.tags[0] != "BEGIN" {
				t.Errorf("query string: completed %v, want BEGIN and the INSERT before the refusal", got.tags)
			}
			for _, tag := range got.tags {
				if tag == "COMMIT" {
					t.Errorf("query string: the COMMIT after the refusal ran: %+v", got)
				}
			}
			if end := readUntilReady(t, fe); len(end.tags) != 1 || end.tags[0] != "ROLLBACK" {
				t.Errorf("COMMIT after the query string: %+v, want ROLLBACK", end)
			}
			if n := g.notesCommitted(t, id+3, id+4); n != 0 {
				t.Errorf("%d rows committed, want 0", n)
			}
			// Outside a transaction block the string's implicit transaction
			// is rolled back as well.
			fe.Send(&pgproto3.Query{String: "INSERT INTO notes VALUES (" + itoa(id+5) + ", 'x'); " + r.sql + "; INSERT INTO notes VALUES (" + itoa(id+6) + ", 'y')"})
			if err := fe.Flush(); err != nil {
				t.Fatal(err)
			}
			got = readUntilReady(t, fe)
			if len(got.codes) != 1 || got.codes[0] != r.code || got.status != 'I' {
				t.Errorf("implicit transaction: %+v, want error %s and status I", got, r.code)
			}
			if n := g.notesCommitted(t, id+5, id+6); n != 0 {
				t.Errorf("implicit transaction: %d rows committed, want 0", n)
			}
			// Each refusal is recorded as the refused statement's failure.
			a, err := pgsql.Analyze(r.sql)
			if err != nil {
				t.Fatal(err)
			}
			failed := 0
			for _, e := range g.accesses(r.user) {
				if e.Resource.Fingerprint == a.Statements[0].Fingerprint && e.Outcome == custos.OutcomeFailure {
					failed++
				}
			}
			if failed < 2 {
				t.Errorf("%d failed events of the refused statement for %s, want at least 2", failed, r.user)
			}
		})
	}
}

// psql -c sends a query string as one Query message: a refusal in it
// leaves nothing of the string committed, and the masked rows of the
// statements before it arrive as they would.
func TestRefusalInQueryStringPsql(t *testing.T) {
	psql := tool(t, "psql")
	g := newGateway(t, gwOptions{})
	out, _ := g.run(t, "lim", "disable", "", psql, "-X", "-At",
		"-c", "BEGIN; INSERT INTO notes VALUES (600, 'x'); SELECT phone FROM passengers WHERE pid = 1; SELECT phone FROM passengers; COMMIT")
	if !strings.Contains(out, "limits this statement") {
		t.Errorf("psql did not see the limit refusal:\n%s", out)
	}
	if !strings.Contains(out, "138****5678") || strings.Contains(out, passengers[0].phone) {
		t.Errorf("psql: the masked row before the refusal is missing or unmasked:\n%s", out)
	}
	if n := g.notesCommitted(t, 600); n != 0 {
		t.Errorf("psql: %d rows committed by a query string with a refusal, want 0\n%s", n, out)
	}
}

// A write whose returned rows the gateway refuses (here: more rows than
// the limit) is rolled back outside a transaction block too, as a failing
// statement's implicit transaction would be.
func TestRefusedReturningRollsBack(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, mode := range []string{"simple_protocol", "cache_statement", "exec"} {
		c := g.connect("lim", "default_query_exec_mode="+mode)
		// An argument: pgx sends a statement without any by the simple
		// protocol whatever the mode.
		_, err := c.Exec(ctx, "UPDATE passengers SET seat = 'R' || pid WHERE pid > $1 RETURNING phone", 0)
		if pgCode(err) != "54000" {
			t.Errorf("%s: err = %v, want 54000", mode, err)
		}
		if s := c.PgConn().TxStatus(); s != 'I' {
			t.Errorf("%s: status %c, want I", mode, s)
		}
		var n int
		if err := g.admin(t).QueryRow(ctx, "SELECT count(*) FROM passengers WHERE seat LIKE 'R%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s: %d rows updated by a write whose result was refused, want 0", mode, n)
		}
	}
}
