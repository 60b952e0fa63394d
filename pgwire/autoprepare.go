package pgwire

import (
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/custos-dev/custos/pgsql"
)

// maxAutoStatements bounds the gateway's own prepared statements per
// upstream connection; queries of further shapes go as they came.
const maxAutoStatements = 256

// autoPrefix starts the names of the gateway's own prepared statements.
// A client's SQL-level PREPARE cannot take such a name without quoting it.
const autoPrefix = "custos.auto."

// sendLifted sends a simple-protocol SELECT (the Query pending p) as the
// extended-protocol run of its shape's prepared statement (Server.AutoPrepare):
// Parse the first time the shape is seen on this connection, then Bind with
// the query's constants, Describe, Execute and Sync. The client gets what a
// simple query gets: ParseComplete, BindComplete and NoData are the
// gateway's own (hidden), the RowDescription of the Describe is forwarded,
// and the Sync's ReadyForQuery ends the request as the Query's would (it
// carries the Query's gate). Called with umu held.
func (ss *session) sendLifted(p *pending) {
	l := p.stmt.lifted
	key := autoKey(l)
	name, known := ss.autoStatement(key)
	gate := mayRefuseAfter(p.stmt, -1)
	if name == "" {
		p.gate = gate
		ss.push(p)
		ss.fe.Send(&pgproto3.Query{String: p.stmt.sql})
		return
	}
	if !known {
		ss.push(&pending{kind: pkParse, hidden: true, autoKey: key})
		ss.fe.Send(&pgproto3.Parse{Name: name, Query: l.Text, ParameterOIDs: l.Types})
	}
	ss.push(&pending{kind: pkBind, hidden: true})
	ss.fe.Send(&pgproto3.Bind{PreparedStatement: name, Parameters: l.Values})
	ss.push(&pending{kind: pkDescribe, target: 'P', hidden: true})
	ss.fe.Send(&pgproto3.Describe{ObjectType: 'P'})
	p.kind = pkExecute
	ss.push(p)
	ss.fe.Send(&pgproto3.Execute{})
	ss.push(&pending{kind: pkSync, gate: gate})
	ss.fe.Send(&pgproto3.Sync{})
}

// autoKey identifies a prepared statement: the lifted text and its
// parameters' types, since "WHERE id = 5" and "WHERE id = 3000000000" lift
// to the same text with an int4 and an int8 parameter.
func autoKey(l *pgsql.Lifted) string {
	b := []byte(l.Text)
	for _, t := range l.Types {
		b = append(b, 0)
		b = strconv.AppendUint(b, uint64(t), 10)
	}
	return string(b)
}

// autoStatement returns the name of the prepared statement of a key
// (autoKey) on this connection and whether it was prepared before; ""
// when the connection has as many as it may.
func (ss *session) autoStatement(key string) (name string, known bool) {
	ss.autoMu.Lock()
	defer ss.autoMu.Unlock()
	if name, ok := ss.auto[key]; ok {
		return name, true
	}
	if len(ss.auto) >= maxAutoStatements {
		return "", false
	}
	if ss.auto == nil {
		ss.auto = map[string]string{}
	}
	ss.autoSeq++
	name = autoPrefix + strconv.Itoa(ss.autoSeq)
	ss.auto[key] = name
	return name, false
}

// forgetAuto drops a prepared statement (by autoKey) whose Parse did not
// succeed, so that the next query of its shape prepares it anew (under a
// new name).
func (ss *session) forgetAuto(key string) {
	ss.autoMu.Lock()
	delete(ss.auto, key)
	ss.autoMu.Unlock()
}

// noteDeallocate forgets every prepared statement of the gateway's when a
// statement may drop them upstream (DEALLOCATE, DISCARD ALL or PLANS). The
// names are never reused, so one that survives (the statement did not run,
// or named only the client's own) is merely left unused.
func (ss *session) noteDeallocate(a pgsql.Analysis) {
	for _, s := range a.Statements {
		if s.Kind != pgsql.KindOther {
			continue
		}
		word, _, _ := strings.Cut(strings.TrimSpace(s.Text), " ")
		if strings.EqualFold(word, "deallocate") || strings.EqualFold(word, "discard") {
			ss.autoMu.Lock()
			ss.auto = nil
			ss.autoMu.Unlock()
			return
		}
	}
}
