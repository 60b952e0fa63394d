package pgwire

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/policy"
)

// admin is the test's own connection to the gateway's database, around
// the gateway, to see what the upstream really did.
func (g *gw) admin(t *testing.T) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), adminURL(g.db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// A statement the policy denies whatever its rows is refused before the
// upstream runs it: reads (a sequence in the select list would advance)
// and writes on catalogued tables, in the simple and extended protocols.
func TestPolicyRefusesBeforeUpstream(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx := context.Background()
	admin := g.admin(t)
	if _, err := admin.Exec(ctx, "CREATE SEQUENCE probe"); err != nil {
		t.Fatal(err)
	}
	carl := g.connect("carl", "")
	tests := []struct {
		sql    string
		action custos.Action
	}{
		{"SELECT nextval('probe'), phone FROM passengers WHERE pid = 1", custos.ActionRead},
		{"SELECT nextval('probe'), count(*) FROM passengers", custos.ActionRead},
		{"UPDATE passengers SET seat = 'ZZ' || nextval('probe') WHERE pid = 1", custos.ActionUpdate},
		{"INSERT INTO passengers (id_number, phone) VALUES ('x' || nextval('probe'), '1')", custos.ActionCreate},
		{"DELETE FROM passengers WHERE pid = 7 AND nextval('probe') > 0", custos.ActionDelete},
	}
	for _, tc := range tests {
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
			_, err := carl.Exec(ctx, tc.sql, mode)
			if pgCode(err) != "42501" || !strings.Contains(err.Error(), "contractors-denied") {
				t.Errorf("%s (%v): err = %v, want 42501 naming contractors-denied", tc.sql, mode, err)
			}
			if s := carl.PgConn().TxStatus(); s != 'I' {
				t.Errorf("%s (%v): transaction status %c after the refusal, want I", tc.sql, mode, s)
			}
		}
	}
	var called bool
	if err := admin.QueryRow(ctx, "SELECT is_called FROM probe").Scan(&called); err != nil {
		t.Fatal(err)
	}
	if called {
		t.Errorf("the sequence advanced: a refused statement ran upstream")
	}
	var seats, rows int
	if err := admin.QueryRow(ctx, "SELECT count(*) FILTER (WHERE seat LIKE 'ZZ%'), count(*) FROM passengers").Scan(&seats, &rows); err != nil {
		t.Fatal(err)
	}
	if seats != 0 || rows != len(passengers) {
		t.Errorf("writes reached the table: %d seats changed, %d rows", seats, rows)
	}
	evs := g.accesses("carl")
	if len(evs) != 2*len(tests) {
		t.Fatalf("%d events for carl, want %d", len(evs), 2*len(tests))
	}
	for i, e := range evs {
		tc := tests[i/2]
		if e.Decision != custos.DecisionDeny || e.Outcome != custos.OutcomeFailure || e.Action != tc.action ||
			e.Resource.Object != "public.passengers" || len(e.Rules) == 0 || e.Rules[0] != "contractors-denied" || e.Resource.Fingerprint == "" ||
			e.DurationUS <= 0 {
			t.Errorf("event %d (%s): %+v", i, tc.sql, e.AccessEvent)
		}
	}

	// An agent's write is allowed (mask) and runs.
	alice := g.connect("alice", "")
	if _, err := alice.Exec(ctx, "UPDATE passengers SET seat = '9Z' WHERE pid = 7"); err != nil {
		t.Fatalf("agent update: %v", err)
	}
	if _, err := alice.Exec(ctx, "SELECT phone FROM passengers WHERE pid = 7"); err != nil {
		t.Fatalf("agent select: %v", err)
	}
	evs = g.accesses("alice")
	if len(evs) != 2 {
		t.Fatalf("%d events for alice, want 2", len(evs))
	}
	for _, e := range evs {
		if e.Decision != custos.DecisionMask || e.Outcome != custos.OutcomeSuccess || e.DurationUS <= 0 {
			t.Errorf("alice's event: %+v", e.AccessEvent)
		}
	}
}

// A refusal inside a transaction block leaves the client and the upstream
// in the same state: ReadyForQuery says E, COMMIT rolls back, ROLLBACK TO
// SAVEPOINT recovers, whether the gateway refused before forwarding
// (block) or after the upstream had produced the result (limit, quota).
func TestRefusalInTransaction(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx := context.Background()
	admin := g.admin(t)
	refusals := []struct {
		user, sql, code string
	}{
		{"alice", "SELECT * FROM passengers", "42501"},                  // block: before the upstream
		{"lim", "SELECT phone FROM passengers", "54000"},                // limit 5: after 5 rows
		{"quinn", "SELECT id_number FROM passengers", "42501"},          // quota of 3 subjects
		{"carl", "SELECT phone FROM passengers WHERE pid = 1", "42501"}, // policy deny, before the upstream
	}
	for i, r := range refusals {
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
			c := g.connect(r.user, "")
			pc := c.PgConn()
			id := i*10 + int(mode)
			exec := func(sql string, args ...any) (pgconn.CommandTag, error) {
				return c.Exec(ctx, sql, append([]any{mode}, args...)...)
			}
			// BEGIN … refused … COMMIT: nothing committed.
			if _, err := exec("BEGIN"); err != nil {
				t.Fatal(err)
			}
			if _, err := exec("INSERT INTO notes VALUES ($1, 'before')", id); err != nil {
				t.Fatal(err)
			}
			if _, err := exec(r.sql); pgCode(err) != r.code {
				t.Fatalf("%s as %s (%v): err = %v, want %s", r.sql, r.user, mode, err, r.code)
			}
			if s := pc.TxStatus(); s != 'E' {
				t.Errorf("%s as %s (%v): status %c after the refusal, want E", r.sql, r.user, mode, s)
			}
			if _, err := exec("SELECT 1"); pgCode(err) != "25P02" {
				t.Errorf("%s as %s (%v): next statement err = %v, want 25P02 (transaction aborted)", r.sql, r.user, mode, err)
			}
			tag, err := exec("COMMIT")
			if err != nil || tag.String() != "ROLLBACK" {
				t.Errorf("%s as %s (%v): COMMIT = %q, %v; want ROLLBACK", r.sql, r.user, mode, tag, err)
			}
			if s := pc.TxStatus(); s != 'I' {
				t.Errorf("status %c after COMMIT, want I", s)
			}
			var n int
			if err := admin.QueryRow(ctx, "SELECT count(*) FROM notes WHERE id = $1", id).Scan(&n); err != nil || n != 0 {
				t.Errorf("%s as %s (%v): %d rows committed before the refusal (err %v), want 0", r.sql, r.user, mode, n, err)
			}

			// SAVEPOINT … refused … ROLLBACK TO: the transaction goes on.
			id += 100
			for _, q := range []string{"BEGIN", "INSERT INTO notes VALUES (" + itoa(id) + ", 'a')", "SAVEPOINT s"} {
				if _, err := exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if _, err := exec(r.sql); pgCode(err) != r.code && !(r.user == "quinn" && pgCode(err) == "42501") {
				t.Fatalf("%s (savepoint): err = %v", r.sql, err)
			}
			for _, q := range []string{"ROLLBACK TO SAVEPOINT s", "INSERT INTO notes VALUES (" + itoa(id+1) + ", 'b')", "COMMIT"} {
				if _, err := exec(q); err != nil {
					t.Fatalf("%s as %s (%v): %s: %v", r.sql, r.user, mode, q, err)
				}
			}
			if err := admin.QueryRow(ctx, "SELECT count(*) FROM notes WHERE id IN ($1, $2)", id, id+1).Scan(&n); err != nil || n != 2 {
				t.Errorf("%s as %s (%v): %d rows after ROLLBACK TO SAVEPOINT and COMMIT (err %v), want 2", r.sql, r.user, mode, n, err)
			}

			// Outside a transaction block: idle again.
			if _, err := exec(r.sql); pgCode(err) != r.code && !(r.user == "quinn" && pgCode(err) == "42501") {
				t.Fatalf("%s (autocommit): err = %v", r.sql, err)
			}
			if s := pc.TxStatus(); s != 'I' {
				t.Errorf("%s as %s (%v): status %c after an autocommit refusal, want I", r.sql, r.user, mode, s)
			}
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// psql sees the same: the COMMIT after a refusal reports ROLLBACK.
func TestRefusalInTransactionPsql(t *testing.T) {
	psql := tool(t, "psql")
	g := newGateway(t, gwOptions{})
	out, _ := g.run(t, "lim", "disable", `BEGIN;
INSERT INTO notes VALUES (500, 'x');
SELECT phone FROM passengers;
COMMIT;
SELECT count(*) AS kept FROM notes WHERE id = 500;
`, psql, "-X", "-At", "-f", "-")
	if !strings.Contains(out, "54000") && !strings.Contains(out, "limits this statement") {
		t.Errorf("psql did not see the limit refusal:\n%s", out)
	}
	if !strings.Contains(out, "ROLLBACK") || !strings.HasSuffix(strings.TrimSpace(out), "0") {
		t.Errorf("psql: COMMIT after the refusal did not roll back:\n%s", out)
	}
}

// With requests pipelined behind a result the gateway refuses inside a
// transaction, the pipeline completes as after a failing statement: the
// refused one with its error, the segment after it with 25P02 (the
// transaction is aborted), and nothing hangs (pipeline_test.go covers
// batches, several Syncs and query strings).
func TestRefusalInPipeline(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := g.connect("lim", "")
	pc := c.PgConn()
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	p := pc.StartPipeline(ctx)
	p.SendQueryParams("SELECT phone FROM passengers", nil, nil, nil, nil)
	p.SendPipelineSync()
	p.SendQueryParams("SELECT 1", nil, nil, nil, nil)
	p.SendPipelineSync()
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	var codes []string
	syncs := 0
	for syncs < 2 {
		res, err := p.GetResults()
		if err != nil {
			// An error before the result's columns (the server skipped it).
			codes = append(codes, pgCode(err))
			continue
		}
		switch r := res.(type) {
		case *pgconn.ResultReader:
			_, err := r.Close()
			codes = append(codes, pgCode(err))
		case *pgconn.PipelineSync:
			syncs++
		case nil:
			t.Fatalf("pipeline ended early after %v", codes)
		}
	}
	if err := p.Close(); err != nil && pgCode(err) == "" {
		t.Fatalf("close pipeline: %v", err)
	}
	if strings.Join(codes, ",") != "54000,25P02" {
		t.Errorf("pipeline results %v, want the limit refusal (54000), then 25P02", codes)
	}
	if s := pc.TxStatus(); s != 'E' {
		t.Errorf("status %c after the pipeline, want E", s)
	}
	if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatalf("ROLLBACK after the pipeline: %v", err)
	}
	if s := pc.TxStatus(); s != 'I' {
		t.Errorf("status %c after ROLLBACK, want I", s)
	}
}

// subjectGrants grants unmasking only for requests that name subjects, as
// an approval scoped to one passenger does.
type subjectGrants struct{}

func (subjectGrants) ActiveGrant(r *policy.Request, kind string) (string, bool) {
	return "g-1", kind == "unmask" && len(r.Subjects) > 0
}

// A read the policy sends to approval is not refused before it runs: the
// grant that allows it may be scoped to the subjects only its rows show.
// A write sent to approval is refused before it runs.
func TestApprovalDecidedOnTheRows(t *testing.T) {
	g := newGateway(t, gwOptions{grants: subjectGrants{}, policy: `version: 1
defaults:
  sensitive: deny
  other: mask
rules:
  - id: needs-approval
    match: {roles: [agent]}
    decision: approval_required
`})
	ctx := context.Background()
	alice := g.connect("alice", "")
	var id string
	if err := alice.QueryRow(ctx, "SELECT id_number FROM passengers WHERE pid = 1").Scan(&id); err != nil {
		t.Fatalf("read with a subject-scoped grant: %v", err)
	}
	if id != passengers[0].id {
		t.Errorf("granted read = %q, want the clear value", id)
	}
	if _, err := alice.Exec(ctx, "UPDATE passengers SET seat = 'Q1' WHERE pid = 1"); pgCode(err) != "42501" || !strings.Contains(err.Error(), "approval") {
		t.Errorf("write needing approval: err = %v, want 42501 asking for an approval", err)
	}
	var seat string
	if err := g.admin(t).QueryRow(ctx, "SELECT seat FROM passengers WHERE pid = 1").Scan(&seat); err != nil || seat == "Q1" {
		t.Errorf("the refused write ran: seat %q, err %v", seat, err)
	}
}
