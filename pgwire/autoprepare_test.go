package pgwire

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// autoPrepareScript is run by each user, one simple query at a time,
// through a gateway with AutoPrepare and one without.
var autoPrepareScript = map[string][]string{
	"alice": { // masked
		"SELECT pid, name, phone, id_number FROM passengers WHERE pid = 1",
		"SELECT pid, phone || '' AS p FROM passengers WHERE pid > 1 AND pid < 4 ORDER BY 1",
		"SELECT pid, phone FROM passengers WHERE pid = 2;",
		"SELECT count(*) FROM passengers WHERE pid > 0",
		"SELECT 1/0",
		"BEGIN",
		"SELECT pid, seat FROM passengers WHERE pid = 1",
		"SELECT 1/0",
		"SELECT pid FROM passengers WHERE pid = 2", // in a failed transaction
		"ROLLBACK",
		"SELECT pid FROM passengers WHERE pid = 2",
		"DEALLOCATE ALL",
		"SELECT pid, name FROM passengers WHERE pid = 3",
		"SELECT pid FROM passengers WHERE pid = 1 LIMIT 0",
		"SELECT pid, name FROM passenger_contacts c JOIN passengers USING (name) WHERE pid = 2",
		"SELECT pid FROM no_such_table WHERE pid = 1",
		"SELECT pid FROM passengers WHERE pid = 2",
		// One lifted text, parameters of other types: other statements.
		"SELECT pid FROM passengers WHERE pid = 3000000000",
		"SELECT pid FROM passengers WHERE pid = 1.5",
		"SELECT pid FROM passengers WHERE pid = 3",
	},
	"lim": { // limit 5: the result is cut with an error
		"SELECT pid, phone FROM passengers WHERE pid > 0 ORDER BY pid",
		"SELECT pid, phone FROM passengers WHERE pid > 0 ORDER BY pid",
		// Cut inside a transaction: the transaction fails as after an error.
		"BEGIN",
		"SELECT pid FROM passengers WHERE pid = 1",
		"SELECT pid, phone FROM passengers WHERE pid > 0 ORDER BY pid",
		"SELECT pid FROM passengers WHERE pid = 1",
		"COMMIT",
		"SELECT pid FROM passengers WHERE pid = 1",
	},
	"quinn": { // three subjects an hour
		"SELECT id_number FROM passengers WHERE pid = 1",
		"SELECT id_number FROM passengers WHERE pid = 2",
		"SELECT id_number FROM passengers WHERE pid = 3",
		"SELECT id_number FROM passengers WHERE pid = 4",
		"SELECT id_number FROM passengers WHERE pid = 1",
	},
	"carl": { // denied
		"SELECT phone FROM passengers WHERE pid = 1",
		"SELECT 2 + 2",
	},
}

// TestAutoPrepareAnswersAsSimple: with AutoPrepare a client gets, for
// every simple query, the messages it gets without (errors compared by
// severity, code and message: the server reports them from another
// routine), and the same access events are recorded.
func TestAutoPrepareAnswersAsSimple(t *testing.T) {
	on := newGateway(t, gwOptions{})
	off := newGateway(t, gwOptions{noAutoPrepare: true})
	for user, script := range autoPrepareScript {
		got := runScript(t, on, user, script)
		want := runScript(t, off, user, script)
		for i, q := range script {
			if got[i] != want[i] {
				t.Errorf("%s: %q:\nauto-prepare: %s\nsimple:       %s", user, q, got[i], want[i])
			}
		}
		gotEv, wantEv := eventSummary(on, user), eventSummary(off, user)
		if gotEv != wantEv {
			t.Errorf("%s: events with auto-prepare:\n%s\nwithout:\n%s", user, gotEv, wantEv)
		}
	}

	// The shapes are prepared upstream: one statement per shape, under
	// the gateway's names (the DEALLOCATE ALL above dropped the first).
	hj := on.rawConn(t, "alice")
	for _, pid := range []int{1, 2, 3} {
		runRaw(t, hj.Frontend, fmt.Sprintf("SELECT pid, seat FROM passengers WHERE pid = %d", pid))
	}
	list := runRaw(t, hj.Frontend, "SELECT name || ' ' || statement FROM pg_prepared_statements ORDER BY name")
	if strings.Count(list, autoPrefix) != 1 || !strings.Contains(list, "WHERE pid = $1") {
		t.Errorf("prepared upstream: %s", list)
	}
}

// runScript runs each query on one connection and describes the answers.
func runScript(t *testing.T, g *gw, user string, script []string) []string {
	t.Helper()
	hj := g.rawConn(t, user)
	out := make([]string, len(script))
	for i, q := range script {
		out[i] = runRaw(t, hj.Frontend, q)
	}
	return out
}

// runRaw sends one simple query and describes every message of its answer.
func runRaw(t *testing.T, fe *pgproto3.Frontend, q string) string {
	t.Helper()
	fe.Send(&pgproto3.Query{String: q})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, m := range receiveAll(t, fe, func(m pgproto3.BackendMessage) bool {
		_, ok := m.(*pgproto3.ReadyForQuery)
		return ok
	}) {
		switch m := m.(type) {
		case *pgproto3.ErrorResponse:
			fmt.Fprintf(&b, "Error{%s %s %s} ", m.Severity, m.Code, m.Message)
			continue
		case *pgproto3.RowDescription:
			for i := range m.Fields {
				m.Fields[i].TableOID = 0 // each gateway has its own database
			}
		}
		enc, err := m.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%T%q ", m, enc)
	}
	return b.String()
}

// eventSummary describes an actor's recorded accesses without their ids
// and times.
func eventSummary(g *gw, actor string) string {
	var b strings.Builder
	for _, e := range g.accesses(actor) {
		fmt.Fprintf(&b, "%s %s %s %s records=%d subjects=%d outcome=%s\n", e.Action, e.Resource.Object,
			e.Resource.Fingerprint, e.Decision, e.Records, len(e.Subjects), e.Outcome)
	}
	return b.String()
}
