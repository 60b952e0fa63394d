package pgwire

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/pgsql"
	"github.com/custos-dev/custos/policy"
)

// analysisCacheSize bounds the statement shapes whose analysis is cached
// (pgsql.Cache): statements that differ only in their constants, as an
// application's or pgbench's simple-protocol queries do, are parsed once.
const analysisCacheSize = 4096

// analyze parses a query string with PostgreSQL's parser. A string the
// parser rejects is forwarded as it is so that the server answers with its
// own error; it has no analysis. Each call returns its own statement (the
// analysis itself may be shared: read only).
func (ss *session) analyze(sql string, lift bool) *statement {
	st := &statement{sql: sql}
	var a pgsql.Analysis
	var err error
	if lift {
		a, st.lifted, err = ss.s.analyses.AnalyzeLifted(sql)
	} else {
		a, err = ss.s.analyses.Analyze(sql)
	}
	if err == nil {
		st.analysis = a
		st.parsed = true
		ss.noteDeallocate(a)
	}
	return st
}

// takePurpose applies the purpose settings a statement makes (SET
// custos.purpose, sticky for the session) and returns the purpose it runs
// under (a sqlcommenter comment overrides it for that statement only).
func (ss *session) takePurpose(st *statement) custos.Purpose {
	if st == nil || !st.parsed {
		return ss.purpose
	}
	for _, s := range st.analysis.Statements {
		if s.Setting == nil {
			continue
		}
		switch s.Setting.Name {
		case "custos.purpose":
			ss.purpose.Name = s.Setting.Value
		case "custos.ticket":
			ss.purpose.Ticket = s.Setting.Value
		case "all":
			if s.Setting.Reset {
				ss.purpose = custos.Purpose{}
			}
		}
	}
	p := ss.purpose
	if v, ok := st.analysis.Comment[pgsql.AttrPurpose]; ok {
		p.Name = v
	}
	if v, ok := st.analysis.Comment[pgsql.AttrTicket]; ok {
		p.Ticket = v
	}
	return p
}

// check applies the statement-level blocks and verifies a signed end-user
// attribution; it returns the refusal, or nil to forward the statement.
func (ss *session) check(st *statement) *pgproto3.ErrorResponse {
	if b := ss.blocked(st); b != nil {
		return refusal(b.SQLState, b.Message)
	}
	if !st.parsed {
		return nil
	}
	if _, claimed := st.analysis.Comment[pgsql.AttrUser]; !claimed {
		return nil
	}
	key := ss.s.Users[ss.actor.ID].AppKey
	if len(key) == 0 {
		return refusal("42501", "end-user attribution (custos_user) is accepted only from accounts with an application key")
	}
	user, err := pgsql.VerifyEndUser(st.analysis.Comment, key, ss.s.Now())
	if err != nil {
		ss.s.Log.Warn("pgwire: end-user attribution rejected", "account", ss.actor.ID, "err", err)
		return refusal("42501", "end-user attribution does not verify")
	}
	a := ss.actor
	a.ID = user
	a.Attributes = map[string]string{"service_account": ss.actor.ID}
	st.endUser = &a
	return nil
}

// preDecision is a policy decision made from the analysis, before the
// upstream ran the statement.
type preDecision struct {
	d      policy.Decision
	st     *pgsql.Statement
	object string
	action custos.Action
}

// preDecide asks the policy, before a statement is forwarded, about each
// catalogued relation it reads or writes. Reads are asked with the types
// the result will carry — the catalogued columns its select list reads
// (Statement.Outputs; every column it references when the text cannot
// tell), the whole table's when none, as the result's decision does for
// count(*) — and refused here on deny only: an approval_required may yet
// turn into allow by a grant scoped to the subjects or categories only
// the rows show. Writes (INSERT/UPDATE/DELETE/MERGE targets) are asked
// with the table's types and refused on deny or approval_required (the
// grants were consulted; a write's result brings no other decision).
// Quotas and watchlists depend on the subjects a result holds and stay
// with the result (processBatch); with no subjects and no records this
// asks them nothing and counts nothing. idx is the statement to decide,
// -1 for all of a query string. It returns the refusal, if any, and the
// decision (the refusing one, else the strictest).
func (ss *session) preDecide(ctx context.Context, st *statement, idx int, p *pending) (*pgproto3.ErrorResponse, *preDecision) {
	if st == nil || !st.parsed || ss.s.Policy == nil || ss.s.Catalog == nil {
		return nil, nil
	}
	var out *preDecision
	for i := range st.analysis.Statements {
		if idx >= 0 && i != idx {
			continue
		}
		s := &st.analysis.Statements[i]
		switch s.Kind {
		case pgsql.KindSelect, pgsql.KindInsert, pgsql.KindUpdate, pgsql.KindDelete, pgsql.KindMerge:
		default:
			continue
		}
		for _, t := range s.Tables {
			res, ok := ss.catalogResource(t)
			if !ok {
				continue
			}
			req := policy.Request{
				Time:     ss.s.Now(),
				Actor:    ss.actorOf(p),
				Source:   ss.source,
				Channel:  custos.ChannelPostgres,
				Action:   custos.ActionRead,
				Resource: custos.Resource{System: ss.s.System, Object: qualify(t), Fingerprint: s.Fingerprint},
				Purpose:  p.purpose,
			}
			if t.Write {
				req.Action = actionOf(s.Kind)
			} else {
				req.DataTypes, req.Categories = referencedTypes(res, resultColumns(s))
			}
			d := ss.s.Policy.Decide(ctx, &req)
			pd := &preDecision{d: d, st: s, object: req.Resource.Object, action: req.Action}
			if d.Effect == custos.DecisionDeny || (t.Write && refusedEffect(d.Effect)) {
				return policyRefusal(d), pd
			}
			if out == nil || (d.Effect == custos.DecisionMask && out.d.Effect == custos.DecisionAllow) {
				out = pd
			}
		}
	}
	return nil, out
}

// resultColumns are the column names a statement's result is made of: its
// select list's (Outputs), or all it references when that is unknown.
func resultColumns(s *pgsql.Statement) []string {
	if s.Outputs == nil {
		return s.Columns
	}
	var names []string
	for _, o := range s.Outputs {
		for _, c := range o.Columns {
			if !slices.Contains(names, c) {
				names = append(names, c)
			}
		}
	}
	return names
}

// catalogResource finds a relation named in a statement in the catalogue,
// as schema.table or, for the public schema, as a bare name.
func (ss *session) catalogResource(t pgsql.Table) (catalog.Resource, bool) {
	return ss.s.tables.resource(ss.s.Catalog, ss.s.System, t)
}

// tableCache remembers which relation names, as statements write them, the
// catalogue holds (the catalogue is fixed for the server's life): the
// gateway asks for every statement, and the qualified name costs an
// allocation.
type tableCache struct {
	mu sync.RWMutex
	m  map[pgsql.Table]tableEntry
}

type tableEntry struct {
	res catalog.Resource
	ok  bool
}

// maxTableCache bounds the names remembered.
const maxTableCache = 4096

func (tc *tableCache) resource(c *catalog.Catalog, system string, t pgsql.Table) (catalog.Resource, bool) {
	t.Write = false
	tc.mu.RLock()
	e, hit := tc.m[t]
	tc.mu.RUnlock()
	if hit {
		return e.res, e.ok
	}
	e.res, e.ok = c.Resource(system, qualify(t))
	if !e.ok && (t.Schema == "" || t.Schema == "public") {
		e.res, e.ok = c.Resource(system, t.Name)
	}
	tc.mu.Lock()
	if tc.m == nil || len(tc.m) >= maxTableCache {
		tc.m = make(map[pgsql.Table]tableEntry)
	}
	tc.m[t] = e
	tc.mu.Unlock()
	return e.res, e.ok
}

// referencedTypes returns the types and categories of a resource's
// catalogued columns among names ("*": all of them).
func referencedTypes(res catalog.Resource, names []string) (types, cats []string) {
	add := func(f catalog.Field) {
		if f.Type != "" && !slices.Contains(types, f.Type) {
			types = append(types, f.Type)
		}
		if c := f.EffectiveCategory(); c != "" && !slices.Contains(cats, c) {
			cats = append(cats, c)
		}
	}
	for _, name := range names {
		if name == "*" {
			for _, f := range res.Columns {
				add(f)
			}
			continue
		}
		if f, ok := res.Columns[name]; ok {
			add(f)
		}
	}
	slices.Sort(types)
	slices.Sort(cats)
	return types, cats
}

// actorOf is who a request runs for: the verified end user, or the login.
func (ss *session) actorOf(p *pending) custos.Actor {
	if p != nil && p.actor != nil {
		return *p.actor
	}
	return ss.actor
}

// blocked applies the statement-level blocks (pgsql.Analysis.Blocked).
func (ss *session) blocked(st *statement) *pgsql.Block {
	if !st.parsed {
		return nil
	}
	return st.analysis.Blocked(pgsql.BlockOptions{
		Catalogued: ss.catalogued,
		DBA:        slices.Contains(ss.actor.Roles, "dba"),
	})
}

// catalogued reports whether a relation named in a statement holds
// catalogued personal data.
func (ss *session) catalogued(t pgsql.Table) bool {
	if ss.s.Catalog == nil {
		return false
	}
	_, ok := ss.catalogResource(t)
	return ok
}

// recordResult queues the access event of one statement's result; it is
// appended durably before the next ReadyForQuery is forwarded.
func (ss *session) recordResult(r *result, outcome custos.Outcome) {
	switch r.kind {
	case pgsql.KindSet, pgsql.KindShow, pgsql.KindTransaction:
		return
	}
	if r.p == nil {
		return
	}
	r.p.recorded = true
	if !ss.s.RecordAll && !r.refused && len(r.types) == 0 && len(r.categories) == 0 && !ss.touchesCatalogued(r.st) {
		// No personal data in the result and no catalogued relation in
		// the statement: not an access to personal data.
		return
	}
	ev := ss.newEvent(r.p)
	ev.Action = actionOf(r.kind)
	ev.Resource = custos.Resource{System: ss.s.System, Object: r.objectName(), Fingerprint: r.fingerprint}
	ev.Records = r.rows
	ev.Bytes = r.bytes
	ev.Decision = r.effect
	ev.Rules = r.rules
	if pre := r.p.pre; pre != nil && len(r.rules) == 0 {
		// No decision on the result (a write without RETURNING): the
		// one made before it ran.
		ev.Decision = pre.d.Effect
		ev.Rules = slices.Clone(pre.d.Rules)
	}
	ev.Outcome = outcome
	for t := range r.types {
		ev.DataTypes = append(ev.DataTypes, t)
	}
	for c := range r.categories {
		ev.Categories = append(ev.Categories, c)
	}
	slices.Sort(ev.DataTypes)
	slices.Sort(ev.Categories)
	for s := range r.subjects {
		ev.Subjects = append(ev.Subjects, s)
	}
	slices.SortFunc(ev.Subjects, func(a, b custos.Subject) int {
		return strings.Compare(a.Type+a.Value, b.Type+b.Value)
	})
	ss.events = append(ss.events, ev)
	ss.noteExport(r, ev)
}

// noteExport queues the registry entry of a COPY … TO or a large result:
// what the recipient took away, by whom and about whom, so that a leaked
// copy can be traced to it (custos trace). Rows stream through the
// gateway, so they are not fingerprinted; the registry and the access
// index identify the export.
func (ss *session) noteExport(r *result, ev custos.AccessEvent) {
	limit := ss.s.ExportRows
	if limit <= 0 {
		limit = 1000
	}
	if ss.s.Exports == nil || r.rows == 0 || (r.kind != pgsql.KindCopyTo && r.rows < limit) || ev.Decision == custos.DecisionDeny || ev.Decision == custos.DecisionApprovalRequired {
		return
	}
	ex := export.Export{ID: "exp_" + strings.TrimPrefix(ev.ID, "pg_"), Actor: ev.Actor.ID, Time: ev.Time, Purpose: ev.Purpose,
		Channel: custos.ChannelPostgres, System: ev.Resource.System, Format: "rows", Rows: int(r.rows), EventID: ev.ID}
	if r.kind == pgsql.KindCopyTo {
		ex.Format = "copy" // COPY's rows come without RowDescription: no field names
	}
	for _, c := range r.cols {
		ex.Fields = append(ex.Fields, c.name)
	}
	for _, sub := range ev.Subjects {
		h, err := ss.s.Index.Hash(sub.Type, sub.Value)
		if err != nil {
			continue // not a valid identifier of its type
		}
		ex.Subjects = append(ex.Subjects, custos.Subject{Type: sub.Type, Hash: h})
	}
	ss.exports = append(ss.exports, ex)
}

// touchesCatalogued reports whether a statement names a relation that
// holds catalogued personal data (a count(*) probe over phone numbers
// returns none but is recorded).
func (ss *session) touchesCatalogued(st *pgsql.Statement) bool {
	if st == nil {
		return false
	}
	for _, t := range st.Tables {
		if ss.catalogued(t) {
			return true
		}
	}
	return false
}

// recordRefusal queues the event of a statement the gateway refused
// before it reached the server.
func (ss *session) recordRefusal(p *pending) {
	if p.recorded {
		return
	}
	p.recorded = true
	ev := ss.newEvent(p)
	ev.Decision = custos.DecisionDeny
	ev.Outcome = custos.OutcomeFailure
	ev.Rules = []string{"block"}
	if d := p.pre; d != nil && refusedEffect(d.d.Effect) {
		ev.Decision = d.d.Effect
		ev.Rules = slices.Clone(d.d.Rules)
		ev.Action = d.action
		ev.Resource.Object = d.object
		ev.Resource.Fingerprint = d.st.Fingerprint
		ss.events = append(ss.events, ev)
		return
	}
	if p.stmt != nil && p.stmt.parsed {
		if b := ss.blocked(p.stmt); b != nil {
			ev.Rules = []string{"block:" + b.Rule}
			st := p.stmt.analysis.Statements[b.Statement]
			ev.Action = actionOf(st.Kind)
			ev.Resource.Fingerprint = st.Fingerprint
			if len(st.Tables) > 0 {
				ev.Resource.Object = qualify(st.Tables[0])
			}
		}
	}
	ss.events = append(ss.events, ev)
}

// recordFailed queues the event of an Execute the server skipped or
// failed before it returned anything.
func (ss *session) recordFailed(p *pending) {
	if p.recorded {
		return
	}
	r := &result{p: p, effect: custos.DecisionAllow}
	if p.stmt.parsed && len(p.stmt.analysis.Statements) > 0 {
		st := p.stmt.analysis.Statements[0]
		r.st = &st
		r.kind, r.fingerprint = st.Kind, st.Fingerprint
		if len(st.Tables) > 0 {
			r.object = qualify(st.Tables[0])
		}
	}
	ss.recordResult(r, custos.OutcomeFailure)
}

func (ss *session) newEvent(p *pending) custos.AccessEvent {
	var b [16]byte
	rand.Read(b[:])
	ev := custos.AccessEvent{
		ID:       "pg_" + hex.EncodeToString(b[:]),
		Time:     p.start,
		Actor:    ss.actorOf(p),
		Source:   ss.source,
		Channel:  custos.ChannelPostgres,
		Action:   custos.ActionRead,
		Resource: custos.Resource{System: ss.s.System},
		Purpose:  p.purpose,
		Decision: custos.DecisionAllow,
	}
	if ev.Time.IsZero() {
		ev.Time = ss.s.Now()
	} else {
		// From receiving the statement to the end of its result (the
		// durable append that follows is not part of it); at least 1 µs
		// so that every event says it was measured.
		ev.DurationUS = max(ss.s.Now().Sub(p.start).Microseconds(), 1)
	}
	return ev
}

// flushEvents appends the queued events durably.
func (ss *session) flushEvents(ctx context.Context) error {
	if len(ss.events) == 0 {
		return nil
	}
	evs := ss.events
	ss.events = nil
	if _, err := ss.s.Events.Access(ctx, evs); err != nil {
		return fmt.Errorf("append %d access events: %w", len(evs), err)
	}
	exs := ss.exports
	ss.exports = nil
	for _, ex := range exs {
		if err := ss.s.Exports.RegisterExport(ctx, ex); err != nil {
			return fmt.Errorf("register export %s: %w", ex.ID, err)
		}
	}
	return nil
}

// scrubNotice masks identifiers in the text of an error or notice: a
// failed cast or a constraint violation can quote the value.
func scrubNotice(e *pgproto3.ErrorResponse) {
	for _, f := range []*string{&e.Message, &e.Detail, &e.Hint, &e.Where, &e.InternalQuery} {
		*f = mask.Text(*f)
	}
}

func sessionID(k backendKey) string {
	return fmt.Sprintf("pg-%d-%s", k.pid, hex.EncodeToString(k.secret[:2]))
}
