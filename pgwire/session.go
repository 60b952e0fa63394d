package pgwire

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/pgsql"
	"github.com/custos-dev/custos/pii"
)

// pendingKind is the kind of request whose answer the upstream reader
// expects next.
type pendingKind uint8

const (
	pkQuery pendingKind = iota
	pkParse
	pkBind
	pkDescribe
	pkExecute
	pkClose
	pkSync
)

// pending is one request forwarded upstream, in order, with what the
// upstream reader needs to interpret its answer.
type pending struct {
	kind pendingKind
	// Describe: 'S' or 'P' and the name; injected describes are the
	// gateway's own and their answers are not forwarded.
	target   byte
	name     string
	injected bool
	// Query and Execute: the statement and who runs it for what.
	stmt    *statement
	portal  string
	purpose custos.Purpose
	start   time.Time
	// refusal replaces the answer: the gateway refused the request and
	// forwarded a stand-in that fails instead (refusedSQL), so that the
	// upstream's transaction fails as the client's does.
	refusal *pgproto3.ErrorResponse
	// pre is the policy's decision before the upstream ran the statement
	// (nil when there was none): the refusal's, or the one its event
	// carries when the result brings no decision of its own (writes).
	pre *preDecision
	// poison marks the gateway's own failing statement, sent after a
	// result it refused inside a transaction block: its error is not
	// forwarded and its ReadyForQuery ('E') is.
	poison bool
	// next is the index of the next statement of a simple query string
	// whose result starts.
	next int
	// gate holds the client's next requests back until this one is
	// answered (see waitGates): its result may yet be refused.
	gate bool
	// hidden: the answers ParseComplete, BindComplete and NoData are the
	// gateway's own (a simple query it sends as extended-protocol
	// statements, see splitQuery) and not forwarded.
	hidden bool
	// resultRefused is set when the gateway refused this request's result
	// after the upstream produced it.
	resultRefused bool
	// recorded is set once the request's event is queued.
	recorded bool
	// actor is the verified end user a service account acts for, or nil.
	actor *custos.Actor
	// autoKey is the key (autoKey) of the gateway's own prepared
	// statement this Parse creates (AutoPrepare).
	autoKey string
	// lineage, by statement index, is the query a FETCH or EXECUTE takes
	// its result from (the DECLARE or PREPARE seen earlier), nil where the
	// statement is its own.
	lineage []*pgsql.Statement
}

// statement is a query string and its analysis.
type statement struct {
	sql      string
	analysis pgsql.Analysis
	parsed   bool
	// endUser is the verified end user of a statement that carried a
	// signed attribution (check), or nil.
	endUser *custos.Actor
	// lifted is the statement with its numeric constants as parameters,
	// for AutoPrepare; nil when it is not a SELECT of that kind.
	lifted *pgsql.Lifted
}

// session is one client connection and its upstream connection.
type session struct {
	names  map[string]string // result column names seen (fieldName)
	s      *Server
	client net.Conn
	be     *pgproto3.Backend
	up     net.Conn
	fe     *pgproto3.Frontend
	key    backendKey
	actor  custos.Actor
	source custos.Source
	db     string

	// Client reader state.
	purpose custos.Purpose
	stmts   map[string]*statement
	portals map[string]*statement
	discard bool // refused an extended-protocol message: drop until Sync
	// cursors and prepared are the queries of SQL-level DECLARE and
	// PREPARE by name, so that the results of FETCH and EXECUTE get their
	// lineage.
	cursors  map[string]*pgsql.Statement
	prepared map[string]*pgsql.Statement

	// The queue of pending requests, appended by the client reader and
	// consumed by the upstream reader.
	in *errReader // the client connection as the backend reads it

	qmu   sync.Mutex
	queue []*pending
	qhead int // queue[qhead:] is pending; the slice is reused once empty
	// gates counts the gated requests in the queue (pending.gate); gcond
	// (on qmu) is signalled when it drops to zero or the upstream is gone
	// (dead). needPoison is set when a gated Execute's result was refused
	// and the client's extended-protocol segment is still open: the
	// client reader sends a failing stand-in before anything else of it.
	gates      int
	gcond      *sync.Cond
	dead       bool
	needPoison bool

	// Client reader state of the open extended-protocol segment (since
	// the last Sync): its Executes, whether any is gated and whether a
	// gated one writes (RETURNING).
	segExecs  int
	segGated  bool
	segWrites bool

	// txStatus is the status byte of the last ReadyForQuery forwarded.
	txStatus atomic.Uint32

	// closing is set once the client ended the session (Terminate or
	// disconnect): the upstream closing then is no news to report.
	closing atomic.Bool

	// wmu serializes writes to the client (the upstream reader writes
	// answers, the client reader writes protocol errors).
	wmu       sync.Mutex
	unflushed bool // something was sent to the client since the last flush
	// umu serializes what is sent upstream together with its place in
	// the queue: the client reader holds it for each message, the
	// upstream reader to send a poison statement.
	umu sync.Mutex

	// The gateway's own prepared statements on the upstream connection
	// (AutoPrepare), by autoKey: the client reader adds them as it
	// sends their Parse, the upstream reader forgets one whose Parse
	// failed. autoSeq numbers them; a name is never used twice.
	autoMu  sync.Mutex
	auto    map[string]string
	autoSeq int

	// Upstream reader state.
	portalFields map[string][]pgproto3.FieldDescription
	rels         map[uint32]*relation // relations by table OID (relations)
	cur          *result
	det          pii.Detector
	found        []pii.Match
	skipping     bool // a gateway error ended the request: drop until ReadyForQuery
	// refusedResult is set when the gateway refused a result the upstream
	// had produced (policy, quota, limit): the upstream's transaction
	// must fail too (see poisonUpstream).
	refusedResult bool
	events        []custos.AccessEvent
	exports       []export.Export // registered once the events are durable
}

func newSession(s *Server, st *started, hj *pgconn.HijackedConn, key backendKey, actor custos.Actor, db string) *session {
	ss := &session{
		s:            s,
		client:       st.client,
		be:           st.be,
		in:           st.in,
		up:           hj.Conn,
		fe:           hj.Frontend,
		key:          key,
		actor:        actor,
		source:       custos.Source{IP: remoteIP(st.client), Session: sessionID(key)},
		db:           db,
		purpose:      st.purpose,
		stmts:        map[string]*statement{},
		portals:      map[string]*statement{},
		cursors:      map[string]*pgsql.Statement{},
		prepared:     map[string]*pgsql.Statement{},
		portalFields: map[string][]pgproto3.FieldDescription{},
	}
	ss.gcond = sync.NewCond(&ss.qmu)
	ss.txStatus.Store('I')
	return ss
}

// run serves the session until either side ends it.
func (ss *session) run(ctx context.Context) {
	defer ss.s.cancels.unregister(ss.key)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ss.upstreamLoop(ctx)
		ss.qmu.Lock()
		ss.dead = true
		ss.gcond.Broadcast()
		ss.qmu.Unlock()
		// The upstream is gone: the client cannot be served any more.
		ss.client.Close()
	}()
	ss.clientLoop(ctx)
	ss.closing.Store(true)
	// The client is gone or terminated: closing the upstream ends the
	// upstream reader, which records what is still pending first.
	ss.up.Close()
	<-done
}

func (ss *session) push(p *pending) {
	ss.qmu.Lock()
	ss.queue = append(ss.queue, p)
	if p.gate {
		ss.gates++
	}
	ss.qmu.Unlock()
}

func (ss *session) head() *pending {
	ss.qmu.Lock()
	defer ss.qmu.Unlock()
	if ss.qhead == len(ss.queue) {
		return nil
	}
	return ss.queue[ss.qhead]
}

func (ss *session) pop() *pending {
	ss.qmu.Lock()
	defer ss.qmu.Unlock()
	if ss.qhead == len(ss.queue) {
		return nil
	}
	p := ss.queue[ss.qhead]
	ss.queue[ss.qhead] = nil
	ss.qhead++
	switch {
	case p.kind == pkSync || p.kind == pkQuery:
		// The segment is over: a refusal in it is the ReadyForQuery's to
		// handle (poisonUpstream), which releases the gate (ungate).
		ss.needPoison = false
	case p.gate:
		if p.resultRefused {
			ss.needPoison = true
		}
		ss.gates--
		if ss.gates == 0 {
			ss.gcond.Broadcast()
		}
	}
	if ss.qhead == len(ss.queue) {
		// Empty: start over at the front of the same array.
		ss.queue, ss.qhead = ss.queue[:0], 0
	}
	return p
}

// send writes a message to the client (buffered).
func (ss *session) send(m pgproto3.BackendMessage) {
	ss.wmu.Lock()
	ss.be.Send(m)
	ss.unflushed = true
	ss.wmu.Unlock()
}

// ungate releases the gate of a Sync or Query once its ReadyForQuery has
// been handled.
func (ss *session) ungate() {
	ss.qmu.Lock()
	ss.gates--
	if ss.gates <= 0 {
		ss.gates = 0
		ss.gcond.Broadcast()
	}
	ss.qmu.Unlock()
}

// waitGates holds the client reader back while a request it forwarded
// may still have its result refused: PostgreSQL itself runs one request
// after the other, so a request that follows a refused one must meet the
// failed transaction the refusal stands for, not run ahead of it. Called
// with umu held (released while waiting). It reports whether the session
// goes on and whether a refused result in the open segment needs the
// failing stand-in before the next request.
func (ss *session) waitGates() (ok, poison bool) {
	ss.qmu.Lock()
	if ss.gates == 0 || ss.dead {
		poison, ss.needPoison = ss.needPoison, false
		ok = !ss.dead
		ss.qmu.Unlock()
		return ok, poison
	}
	ss.qmu.Unlock()
	// What the gate waits for must reach the upstream, and the server
	// holds its answers to extended-protocol messages until a Flush or
	// Sync.
	ss.fe.Send(&pgproto3.Flush{})
	if !ss.flushUp() {
		return false, false
	}
	ss.umu.Unlock()
	ss.qmu.Lock()
	for ss.gates > 0 && !ss.dead {
		ss.gcond.Wait()
	}
	poison, ss.needPoison = ss.needPoison, false
	ok = !ss.dead
	ss.qmu.Unlock()
	ss.umu.Lock()
	return ok, poison
}

// sendStandIn makes the upstream's open segment fail in place of the
// request the gateway refused after it ran: the server skips to the
// segment's Sync, and its transaction fails as the client's does.
func (ss *session) sendStandIn() {
	ss.push(&pending{kind: pkParse, poison: true})
	ss.fe.Send(&pgproto3.Parse{Name: refusedName, Query: refusedSQL})
}

// writes reports whether a statement (the first of its string) writes
// and returns rows.
func writes(st *statement) bool {
	if st == nil || !st.parsed || len(st.analysis.Statements) == 0 {
		return false
	}
	return st.analysis.Statements[0].Returning
}

// mayRefuseAfter reports whether a statement's result may be refused
// after the upstream ran it: anything that may return rows. Transaction
// control, settings, DDL, COPY FROM and writes without RETURNING return
// none. Unparsed statements may.
func mayRefuseAfter(st *statement, idx int) bool {
	if st == nil || !st.parsed {
		return true
	}
	for i := range st.analysis.Statements {
		if idx >= 0 && i != idx {
			continue
		}
		s := &st.analysis.Statements[i]
		switch s.Kind {
		case pgsql.KindTransaction, pgsql.KindSet, pgsql.KindDDL, pgsql.KindCopyFrom:
		case pgsql.KindInsert, pgsql.KindUpdate, pgsql.KindDelete, pgsql.KindMerge:
			if s.Returning {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// flushClient sends what is buffered for the client. pgproto3's Backend
// writes even an empty buffer, a system call for nothing: it is skipped.
func (ss *session) flushClient() error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	if !ss.unflushed {
		return nil
	}
	ss.unflushed = false
	return ss.be.Flush()
}

// protocolError answers a malformed or unexpected client message and
// ends the connection.
func (ss *session) protocolError(msg string) {
	ss.wmu.Lock()
	ss.be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "08P01", Message: msg})
	ss.be.Flush()
	ss.unflushed = false
	ss.wmu.Unlock()
}

// clientLoop reads the client's messages, applies the gateway's checks
// and forwards them upstream.
func (ss *session) clientLoop(ctx context.Context) {
	for {
		msg, err := ss.be.Receive()
		if err != nil {
			// A message that does not decode is a protocol error even when
			// the decoder says EOF (it ran off the end of the body); only
			// the connection's own end is a disconnect.
			if ss.in.err == nil || (!errors.Is(ss.in.err, io.EOF) && !errors.Is(ss.in.err, net.ErrClosed)) {
				ss.s.Log.Info("pgwire: bad client message", "user", ss.actor.ID, "err", err)
				ss.protocolError("invalid message from the client: " + safeErr(err))
			}
			return
		}
		if ss.discard {
			if _, ok := msg.(*pgproto3.Sync); !ok {
				if _, ok := msg.(*pgproto3.Terminate); !ok {
					continue
				}
			}
		}
		ss.umu.Lock()
		ok := ss.handleClient(ctx, msg)
		ss.umu.Unlock()
		if !ok {
			return
		}
	}
}

// handleClient processes one client message; false ends the session.
func (ss *session) handleClient(ctx context.Context, msg pgproto3.FrontendMessage) bool {
	now := ss.s.Now()
	switch msg.(type) {
	case *pgproto3.Query, *pgproto3.Parse, *pgproto3.Bind, *pgproto3.Describe,
		*pgproto3.Execute, *pgproto3.Close, *pgproto3.FunctionCall:
		// Nothing runs ahead of a result that may still be refused.
		ok, poison := ss.waitGates()
		if !ok {
			return false
		}
		if poison {
			// A refused result earlier in this segment: the segment fails
			// there, and the server skips the rest of it up to Sync.
			ss.sendStandIn()
			ss.discard = true
			return ss.flushUp()
		}
	}
	switch m := msg.(type) {
	case *pgproto3.Query:
		st := ss.analyze(m.String, ss.s.AutoPrepare)
		purpose := ss.takePurpose(st)
		lineage := ss.lineageOf(st)
		p := &pending{kind: pkQuery, stmt: st, purpose: purpose, start: now, lineage: lineage}
		e := ss.check(st)
		p.actor = st.endUser
		if e == nil {
			e, p.pre = ss.preDecide(ctx, st, -1, p)
		}
		switch {
		case e != nil:
			p.refusal = e
			if k := ss.refusedIndex(st, p.pre); k > 0 && ss.splittable(ctx, st, true) {
				// The statements before the refused one run, as they
				// would before a failing one.
				p.kind = pkParse
				return ss.splitQuery(ctx, st, purpose, now, lineage, k, p)
			}
			ss.push(p)
			ss.fe.Send(&pgproto3.Query{String: refusedSQL})
		case ss.splittable(ctx, st, false):
			return ss.splitQuery(ctx, st, purpose, now, lineage, -1, nil)
		case ss.s.AutoPrepare && st.lifted != nil && st.endUser == nil:
			ss.sendLifted(p)
		default:
			p.gate = mayRefuseAfter(st, -1)
			ss.push(p)
			ss.fe.Send(m)
		}
		return ss.flushUp()
	case *pgproto3.Parse:
		st := ss.analyze(m.Query, false)
		ss.stmts[m.Name] = st
		p := &pending{kind: pkParse, stmt: st, purpose: ss.takePurpose(st), start: now}
		e := ss.check(st)
		p.actor = st.endUser
		if e != nil {
			p.refusal = e
			ss.push(p)
			ss.fe.Send(&pgproto3.Parse{Name: refusedName, Query: refusedSQL})
			delete(ss.stmts, m.Name)
			ss.discard = true
			return true
		}
		ss.push(p)
		ss.fe.Send(m)
	case *pgproto3.Bind:
		st := ss.stmts[m.PreparedStatement]
		ss.portals[m.DestinationPortal] = st
		ss.push(&pending{kind: pkBind})
		ss.fe.Send(m)
		// The gateway needs every portal's columns to mask what its
		// Execute returns, whether or not the client describes it.
		ss.push(&pending{kind: pkDescribe, target: 'P', name: m.DestinationPortal, injected: true})
		ss.fe.Send(&pgproto3.Describe{ObjectType: 'P', Name: m.DestinationPortal})
	case *pgproto3.Describe:
		if m.ObjectType != 'S' && m.ObjectType != 'P' {
			ss.protocolError("invalid Describe message subtype")
			return false
		}
		ss.push(&pending{kind: pkDescribe, target: m.ObjectType, name: m.Name})
		ss.fe.Send(m)
	case *pgproto3.Execute:
		st := ss.portals[m.Portal]
		if st == nil {
			st = &statement{}
		}
		p := &pending{kind: pkExecute, stmt: st, portal: m.Portal, purpose: ss.takePurpose(st), start: now, actor: st.endUser, lineage: ss.lineageOf(st)}
		ss.segExecs++
		e, d := ss.preDecide(ctx, st, 0, p)
		p.pre = d
		if e != nil {
			// Refused before it runs: a stand-in that fails takes the
			// Execute's place; the server skips to Sync, and so does the
			// gateway.
			p.refusal = e
			ss.push(p)
			ss.fe.Send(&pgproto3.Parse{Name: refusedName, Query: refusedSQL})
			ss.discard = true
			return true
		}
		p.gate = mayRefuseAfter(st, 0)
		ss.segGated = ss.segGated || p.gate
		ss.segWrites = ss.segWrites || (p.gate && writes(st))
		ss.push(p)
		ss.fe.Send(m)
	case *pgproto3.Close:
		if m.ObjectType != 'S' && m.ObjectType != 'P' {
			ss.protocolError("invalid Close message subtype")
			return false
		}
		if m.ObjectType == 'S' {
			delete(ss.stmts, m.Name)
		} else {
			delete(ss.portals, m.Name)
		}
		ss.push(&pending{kind: pkClose})
		ss.fe.Send(m)
	case *pgproto3.Sync:
		ss.discard = false
		gated := ss.segGated
		if gated && (ss.segExecs > 1 || ss.segWrites) {
			// A pipelined segment, or a write whose returned rows may be
			// refused: its implicit transaction commits at this Sync, so a
			// refusal in it must fail the segment first.
			ok, poison := ss.waitGates()
			if !ok {
				return false
			}
			if poison {
				ss.sendStandIn()
			}
		}
		ss.segExecs, ss.segGated, ss.segWrites = 0, false, false
		ss.push(&pending{kind: pkSync, gate: gated})
		ss.fe.Send(m)
		return ss.flushUp()
	case *pgproto3.Flush:
		ss.fe.Send(m)
		return ss.flushUp()
	case *pgproto3.CopyData:
		ss.fe.Send(m)
		return ss.flushUp()
	case *pgproto3.CopyDone, *pgproto3.CopyFail:
		ss.fe.Send(m)
		return ss.flushUp()
	case *pgproto3.Terminate:
		ss.closing.Store(true)
		ss.fe.Send(m)
		ss.flushUp()
		return false
	case *pgproto3.FunctionCall:
		// The fast-path interface calls any function by OID, around
		// every SQL check: refused, answered in order through a stand-in.
		ss.push(&pending{kind: pkQuery, stmt: &statement{}, start: now,
			refusal: refusal("42501", "the function-call protocol is not allowed through the Custos gateway")})
		ss.fe.Send(&pgproto3.Query{String: refusedSQL})
		return ss.flushUp()
	default:
		ss.protocolError("unexpected message from the client")
		return false
	}
	return true
}

// splittable reports whether a simple query string is sent as
// extended-protocol statements (splitQuery): it holds several statements,
// one of them is refused or may have its result refused after it ran, or
// it is one write whose returned rows may be refused, or one read outside
// a transaction block that calls a volatile function; and none is a
// COPY (the server ignores a Sync during COPY FROM STDIN). Outside a
// transaction block, statements that need one (DECLARE, LOCK, …: an
// implicit block of a query string is one, an extended-protocol segment
// is not) keep the string whole.
func (ss *session) splittable(ctx context.Context, st *statement, refused bool) bool {
	if !st.parsed || len(st.analysis.Statements) == 0 || (!refused && !mayRefuseAfter(st, -1)) {
		return false
	}
	if len(st.analysis.Statements) == 1 && (refused || !writes(st)) {
		// One statement: split only a write whose returned rows may be
		// refused, or a read outside a transaction block that calls a
		// volatile function (volatile.go), so that the refusal can still
		// roll it back. In a block, the failed transaction does.
		if refused || ss.txStatus.Load() != 'I' || !ss.callsVolatile(ctx, &st.analysis.Statements[0]) {
			return false
		}
	}
	inBlock := ss.txStatus.Load() != 'I' || st.analysis.Statements[0].Kind == pgsql.KindTransaction
	for _, s := range st.analysis.Statements {
		switch s.Kind {
		case pgsql.KindCopyFrom, pgsql.KindCopyTo:
			return false
		case pgsql.KindSelect, pgsql.KindInsert, pgsql.KindUpdate, pgsql.KindDelete, pgsql.KindMerge,
			pgsql.KindSet, pgsql.KindShow, pgsql.KindTransaction:
			if s.Cursor != "" && !inBlock {
				return false
			}
		default:
			if !inBlock {
				return false
			}
		}
	}
	return true
}

// splitQuery sends a simple query string of several statements as one
// extended-protocol segment (Parse, Bind, Describe, Execute per
// statement, one Sync), so that the gateway can hold the statements after
// one whose result it may refuse until it has decided, and make the
// segment fail there if it refuses: as after an error in the string, the
// rest is skipped and the transaction (explicit, or the string's
// implicit one) fails. The answers the client would not get for a simple
// query (ParseComplete, BindComplete, NoData) are not forwarded. When the
// gateway refused statement stop before anything ran, the statements
// before it are sent and refused (its refusal) stands in for it.
func (ss *session) splitQuery(ctx context.Context, st *statement, purpose custos.Purpose, now time.Time, lineage []*pgsql.Statement, stop int, refused *pending) bool {
	gated := false
	for i, s := range st.analysis.Statements {
		if i == stop {
			ss.push(refused)
			ss.fe.Send(&pgproto3.Parse{Name: refusedName, Query: refusedSQL})
			break
		}
		sub := &statement{sql: s.Text, parsed: true, endUser: st.endUser,
			analysis: pgsql.Analysis{Statements: []pgsql.Statement{s}, Comment: st.analysis.Comment}}
		ss.push(&pending{kind: pkParse, hidden: true})
		ss.fe.Send(&pgproto3.Parse{Query: s.Text})
		ss.push(&pending{kind: pkBind, hidden: true})
		ss.fe.Send(&pgproto3.Bind{})
		ss.push(&pending{kind: pkDescribe, target: 'P', hidden: true})
		ss.fe.Send(&pgproto3.Describe{ObjectType: 'P'})
		p := &pending{kind: pkExecute, stmt: sub, purpose: purpose, start: now, actor: st.endUser, gate: mayRefuseAfter(sub, 0)}
		if i < len(lineage) && lineage[i] != nil {
			p.lineage = []*pgsql.Statement{lineage[i]}
		}
		_, p.pre = ss.preDecide(ctx, st, i, p)
		ss.push(p)
		ss.fe.Send(&pgproto3.Execute{})
		if !p.gate {
			continue
		}
		gated = true
		ok, poison := ss.waitGates()
		if !ok {
			return false
		}
		if poison {
			ss.sendStandIn()
			break
		}
	}
	ss.push(&pending{kind: pkSync, gate: gated})
	ss.fe.Send(&pgproto3.Sync{})
	return ss.flushUp()
}

// refusedIndex is the index of the statement of a query string that the
// gateway refused before forwarding it: the blocked one, or the one the
// policy refused (pre). 0 when the refusal is the whole string's.
func (ss *session) refusedIndex(st *statement, pre *preDecision) int {
	if !st.parsed {
		return 0
	}
	if b := ss.blocked(st); b != nil {
		return b.Statement
	}
	if pre != nil {
		for i := range st.analysis.Statements {
			if &st.analysis.Statements[i] == pre.st {
				return i
			}
		}
	}
	return 0
}

// poisonUpstream makes the upstream's open transaction fail after the
// gateway refused a result inside it: the client saw an error, so a later
// COMMIT must not commit what ran before it (PostgreSQL rolls back a
// failed transaction's COMMIT) and ROLLBACK TO SAVEPOINT must work as
// after any error. It sends refusedSQL as the next query, unless the
// client already sent more (pipelining): those would run ahead of it, so
// the transaction is left as it is then (docs/pgwire.md, known gaps).
func (ss *session) poisonUpstream() bool {
	// The client reader holds umu while it forwards a message: briefly
	// after a Sync (the upstream can answer before the reader lets go),
	// or for long when it pipelines and the upstream, blocked on writing
	// to us, stops reading. So wait, but only a little: waiting without a
	// bound could deadlock in the second case.
	if !ss.lockUpstream(poisonWait) {
		return false
	}
	defer ss.umu.Unlock()
	if ss.head() != nil {
		return false
	}
	ss.push(&pending{kind: pkQuery, poison: true, gate: true})
	ss.fe.Send(&pgproto3.Query{String: refusedSQL})
	return ss.fe.Flush() == nil
}

// poisonWait bounds how long poisonUpstream waits for the client reader
// to finish forwarding a message.
const poisonWait = 200 * time.Millisecond

// lockUpstream takes umu if it can within d.
func (ss *session) lockUpstream(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !ss.umu.TryLock() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Microsecond)
	}
	return true
}

func (ss *session) flushUp() bool {
	if err := ss.fe.Flush(); err != nil {
		return false
	}
	return true
}

// refusedSQL is what the gateway sends upstream in place of a statement it
// refuses: a syntax error, which no prepared statement or setting can make
// succeed. The upstream fails it as it would have failed the statement
// (inside a transaction block the transaction fails, and its
// ReadyForQuery says 'E'), so the client and the server agree on the
// transaction's state; the server's log shows the text.
const refusedSQL = "CUSTOS REFUSED THIS STATEMENT"

// refusedName is the statement name of the stand-in Parse: a named Parse
// leaves the client's unnamed statement alone, and fails as well if the
// client named one so.
const refusedName = "custos_refused"

func refusal(code, msg string) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: code, Message: msg}
}

// upstreamLoop reads the upstream's answers and forwards them, masked and
// recorded, to the client.
func (ss *session) upstreamLoop(ctx context.Context) {
	for {
		msg, err := ss.fe.Receive()
		if err != nil {
			// Record what ran, then tell the client, if still there.
			ss.finishResult(ctx, custos.OutcomeError)
			ss.recordPending(ctx)
			if !ss.closing.Load() {
				ss.send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "08006", Message: "the upstream server closed the connection"})
				ss.flushClient()
			}
			return
		}
		if !ss.handleUpstream(ctx, msg) {
			ss.recordPending(ctx)
			return
		}
		if ss.fe.ReadBufferLen() == 0 {
			if err := ss.flushClient(); err != nil {
				// The client is gone; keep reading so that what the
				// upstream still answers is recorded, until it closes.
				continue
			}
		}
	}
}

// forward sends an upstream message on to the client unless a gateway
// error is being delivered.
func (ss *session) forward(m pgproto3.BackendMessage) {
	if !ss.skipping {
		ss.send(m)
	}
}

// handleUpstream processes one upstream message; false ends the session.
func (ss *session) handleUpstream(ctx context.Context, msg pgproto3.BackendMessage) bool {
	switch m := msg.(type) {
	case *pgproto3.ParameterStatus:
		ss.send(m)
	case *pgproto3.NotificationResponse:
		// NOTIFY payloads are text anyone listening receives: identifiers
		// in them are masked.
		m.Payload = mask.Text(m.Payload)
		ss.send(m)
	case *pgproto3.NoticeResponse:
		scrubNotice((*pgproto3.ErrorResponse)(m))
		ss.send(m)
	case *pgproto3.ParseComplete:
		p := ss.pop()
		if p != nil && p.refusal != nil {
			ss.recordRefusal(p)
			ss.forward(p.refusal)
			ss.skipping = true
			return true
		}
		if p == nil || !p.hidden {
			ss.forward(m)
		}
	case *pgproto3.BindComplete, *pgproto3.CloseComplete:
		if p := ss.pop(); p == nil || !p.hidden {
			ss.forward(m)
		}
	case *pgproto3.ParameterDescription:
		if p := ss.head(); p == nil || !p.injected {
			ss.forward(m)
		}
	case *pgproto3.NoData:
		p := ss.pop()
		if p != nil && p.kind == pkDescribe && p.target == 'P' {
			ss.portalFields[p.name] = nil
		}
		if p == nil || (!p.injected && !p.hidden) {
			ss.forward(m)
		}
	case *pgproto3.RowDescription:
		p := ss.head()
		if p != nil && p.kind == pkDescribe {
			ss.pop()
			if p.target == 'P' {
				ss.portalFields[p.name] = copyFields(m.Fields)
			}
			if !p.injected {
				ss.forward(m)
			}
			return true
		}
		// startResult keeps nothing of the fields: no copy needed.
		ss.startResult(ctx, p, m.Fields)
		ss.forward(m)
	case *pgproto3.DataRow:
		r := ss.result(ctx)
		if r == nil {
			ss.forward(m)
			return true
		}
		ss.addRow(ctx, r, m)
	case *pgproto3.CommandComplete:
		r := ss.result(ctx)
		if r != nil {
			r.tag = string(m.CommandTag)
		}
		refused := r != nil && ss.endResult(ctx, r, custos.OutcomeSuccess)
		if !refused {
			ss.forward(m)
		}
		if p := ss.head(); p != nil && p.kind == pkExecute {
			ss.pop()
		}
	case *pgproto3.PortalSuspended:
		r := ss.result(ctx)
		refused := r != nil && ss.endResult(ctx, r, custos.OutcomeSuccess)
		if !refused {
			ss.forward(m)
		}
		ss.pop()
	case *pgproto3.EmptyQueryResponse:
		p := ss.head()
		if p != nil && p.refusal != nil {
			ss.recordRefusal(p)
			ss.forward(p.refusal)
			ss.skipping = true
		} else {
			ss.forward(m)
		}
		if p != nil && p.kind == pkExecute {
			ss.pop()
		}
	case *pgproto3.ErrorResponse:
		p := ss.head()
		switch {
		case p != nil && p.poison:
			// The gateway's own failing statement: the client heard the
			// refusal already. A stand-in Parse is skipped past with the
			// rest of its segment below.
		case p != nil && p.refusal != nil && ss.cur == nil:
			// The stand-in of a refused request failed as planned: the
			// client gets the gateway's refusal in its place.
			ss.recordRefusal(p)
			ss.forward(p.refusal)
		default:
			if ss.cur == nil && p != nil && p.refusal == nil && (p.kind == pkQuery || p.kind == pkExecute) {
				ss.result(ctx) // the failed statement gets its event too
			}
			ss.finishResult(ctx, custos.OutcomeFailure)
			scrubNotice(m)
			ss.forward(m)
		}
		// In the extended protocol the server skips to the next Sync.
		for p := ss.head(); p != nil && p.kind != pkSync && p.kind != pkQuery; p = ss.head() {
			if p.autoKey != "" {
				ss.forgetAuto(p.autoKey) // its Parse failed or was skipped
			}
			switch {
			case p.refusal != nil:
				// Refused by the gateway, skipped by the server: recorded
				// as the refusal it was.
				ss.recordRefusal(p)
			case p.kind == pkExecute && p.stmt != nil:
				ss.recordFailed(p)
			}
			ss.pop()
		}
	case *pgproto3.ReadyForQuery:
		ss.finishResult(ctx, custos.OutcomeSuccess)
		poisoned, gated := false, false
		for p := ss.head(); p != nil; p = ss.head() {
			ss.pop()
			if p.kind == pkSync || p.kind == pkQuery {
				poisoned, gated = p.poison, p.gate
				break
			}
		}
		if !poisoned && ss.refusedResult && m.TxStatus == 'T' && ss.poisonUpstream() {
			// The client's ReadyForQuery waits for the poison's ('E'),
			// and so do its next requests (the poison is gated).
			if gated {
				ss.ungate()
			}
			return true
		}
		if gated {
			ss.ungate()
		}
		ss.txStatus.Store(uint32(m.TxStatus))
		ss.refusedResult = false
		// No access without a record: the statements' events are durable
		// before the client hears that they are done.
		if err := ss.flushEvents(ctx); err != nil {
			ss.s.Log.Error("pgwire: recording access events failed; closing the connection", "user", ss.actor.ID, "err", err)
			ss.skipping = false
			ss.send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "58000", Message: "Custos could not record the access; the connection is closed"})
			ss.flushClient()
			return false
		}
		ss.skipping = false
		ss.send(m)
	case *pgproto3.CopyInResponse, *pgproto3.CopyOutResponse, *pgproto3.CopyBothResponse:
		p := ss.head()
		ss.startCopy(ctx, p)
		ss.forward(m)
	case *pgproto3.CopyData:
		ss.copyData(ctx, m)
	case *pgproto3.CopyDone:
		ss.forward(m)
	case *pgproto3.FunctionCallResponse:
		ss.forward(m)
	default:
		// Authentication or key data mid-session: not a server we can
		// proxy safely.
		ss.s.Log.Warn("pgwire: unexpected upstream message", "type", typeName(msg))
		ss.send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "08P01", Message: "unexpected message from the upstream server"})
		ss.flushClient()
		return false
	}
	return true
}

func copyFields(fs []pgproto3.FieldDescription) []pgproto3.FieldDescription {
	out := make([]pgproto3.FieldDescription, len(fs))
	for i, f := range fs {
		out[i] = f
		out[i].Name = append([]byte(nil), f.Name...)
	}
	return out
}

// result returns the result in progress, starting one for an Execute
// whose columns came from a describe.
func (ss *session) result(ctx context.Context) *result {
	if ss.cur != nil {
		return ss.cur
	}
	p := ss.head()
	if p == nil || (p.kind != pkExecute && p.kind != pkQuery) {
		return nil
	}
	var fields []pgproto3.FieldDescription
	if p.kind == pkExecute {
		fields = ss.portalFields[p.portal]
	}
	ss.startResult(ctx, p, fields)
	return ss.cur
}

// finishResult ends a result still in progress (an error or the end of
// the request interrupted it).
func (ss *session) finishResult(ctx context.Context, outcome custos.Outcome) {
	if ss.cur != nil {
		ss.endResult(ctx, ss.cur, outcome)
	}
}

// recordPending records the Executes and Queries still queued when the
// connection ends (they may have run upstream).
func (ss *session) recordPending(ctx context.Context) {
	ss.finishResult(ctx, custos.OutcomeError)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := ss.flushEvents(ctx); err != nil {
		ss.s.Log.Error("pgwire: recording access events at disconnect failed", "user", ss.actor.ID, "err", err)
	}
}

func typeName(m any) string {
	switch m.(type) {
	case *pgproto3.AuthenticationOk:
		return "AuthenticationOk"
	case *pgproto3.BackendKeyData:
		return "BackendKeyData"
	default:
		return "other"
	}
}

// safeErr renders a protocol error without any message content.
func safeErr(err error) string {
	var tooLong *pgproto3.ExceededMaxBodyLenErr
	if errors.As(err, &tooLong) {
		return "message too long"
	}
	return "malformed or unknown message"
}

// errReader remembers the error of the connection under the protocol
// decoder, to tell a disconnect from a malformed message.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}
