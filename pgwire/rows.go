package pgwire

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/pgsql"
	"github.com/custos-dev/custos/pii"
	"github.com/custos-dev/custos/policy"
)

// batchRows is how many rows are decided on together: one policy decision
// (and one quota admission) per batch rather than per row.
const batchRows = 256

// maxEventSubjects bounds the subjects one access event lists (the event
// model's limit).
const maxEventSubjects = 10000

// Type OIDs the gateway reads in binary format.
const (
	oidBytea   = 17
	oidChar    = 18
	oidName    = 19
	oidInt8    = 20
	oidInt2    = 21
	oidInt4    = 23
	oidText    = 25
	oidJSON    = 114
	oidUnknown = 705
	oidBpchar  = 1042
	oidVarchar = 1043
	oidJSONB   = 3802
)

// column is what the gateway knows about one result column.
type column struct {
	name       string // as RowDescription gives it (the export's fields)
	catalogued bool
	field      catalog.Field
	typeOID    uint32
	format     int16
	// taint lists the catalogued types a column without provenance may
	// be derived from (the statement references those columns): a value
	// in which no detector recognizes anything is redacted whole, so that
	// encode(phone::bytea, 'hex') or reverse(phone) cannot carry it out.
	taint []string
	// pure is set for a derived column whose expression reads catalogued
	// columns only: whatever a detector does not recognize in its value
	// came from them or from constants, and is redacted next to what it
	// masks (phone || reverse(phone)).
	pure bool
}

// result is one statement's result in progress.
type result struct {
	p           *pending
	st          *pgsql.Statement // nil when unparsed
	kind        pgsql.Kind
	fingerprint string
	object      string       // the relation of the result's catalogued columns, else
	table       *pgsql.Table // the statement's first relation
	cols        []column
	copy        bool
	tag         string
	// plain is set for a result with no catalogued or derived column in a
	// statement that names no catalogued relation: until a detector finds
	// something in it, its rows need no decision (addRow).
	plain bool

	rows, bytes int64
	subjects    map[custos.Subject]struct{}
	types       map[string]bool
	categories  map[string]bool
	effect      custos.Decision
	rules       []string
	limit       int64
	refused     bool

	batch [][][]byte
}

// objectName is the relation the result's events and decisions name.
func (r *result) objectName() string {
	if r.object == "" && r.table != nil {
		r.object = qualify(*r.table)
	}
	return r.object
}

// addType and addCategory note a data type or category in the result
// (the maps are made on first use: most results hold none).
func (r *result) addType(t string) {
	if r.types == nil {
		r.types = map[string]bool{}
	}
	r.types[t] = true
}

func (r *result) addCategory(c string) {
	if r.categories == nil {
		r.categories = map[string]bool{}
	}
	r.categories[c] = true
}

// match is a content match in one cell of a batch.
type match struct {
	row, col int
	m        pii.Match
}

// fieldName returns a result column's name as a string, made once per
// distinct name in a session: results repeat their columns, and a string
// per column per statement would be the hot path's largest allocation.
func (ss *session) fieldName(b []byte) string {
	if name, ok := ss.names[string(b)]; ok {
		return name
	}
	name := string(b)
	if ss.names == nil || len(ss.names) >= 4096 {
		ss.names = map[string]string{}
	}
	ss.names[name] = name
	return name
}

// startResult begins a statement's result with its columns' provenance.
func (ss *session) startResult(ctx context.Context, p *pending, fields []pgproto3.FieldDescription) {
	r := &result{p: p, effect: custos.DecisionAllow}
	var st *pgsql.Statement
	idx := 0
	if p != nil && p.stmt != nil && p.stmt.parsed {
		if p.kind == pkQuery {
			idx = p.next
			p.next++
		}
		if idx < len(p.stmt.analysis.Statements) {
			st = &p.stmt.analysis.Statements[idx]
		}
	}
	if st != nil {
		r.st = st
		r.kind = st.Kind
		r.fingerprint = st.Fingerprint
		if len(st.Tables) > 0 {
			r.table = &st.Tables[0] // qualified when needed (objectName)
		}
	}
	r.cols = make([]column, len(fields))
	var oids []uint32
	var rels map[uint32]*relation
	for i, f := range fields {
		r.cols[i] = column{name: ss.fieldName(f.Name), typeOID: f.DataTypeOID, format: f.Format}
		if f.TableOID != 0 {
			oids = append(oids, f.TableOID)
		}
	}
	if len(oids) > 0 {
		var err error
		rels, err = ss.relations(ctx, oids)
		if err != nil {
			// Without names every column is inspected by content.
			ss.s.Log.Warn("pgwire: catalogue look-up failed; inspecting by content", "err", err)
		}
		for i, f := range fields {
			rel := rels[f.TableOID]
			if rel == nil {
				continue
			}
			name := rel.columns[int16(f.TableAttributeNumber)]
			fld, ok := ss.catalogField(rel.name, name)
			if !ok {
				continue
			}
			r.cols[i].catalogued = true
			r.cols[i].field = fld
			r.object = rel.name
			if fld.Type != "" {
				r.addType(fld.Type)
			}
			r.addCategory(fld.EffectiveCategory())
		}
		// Columns of views: the lineage of the view's definition.
		for i, f := range fields {
			rel := rels[f.TableOID]
			c := &r.cols[i]
			if rel == nil || !isView(rel.kind) || c.catalogued {
				continue
			}
			l := ss.viewColumn(ctx, rel, int16(f.TableAttributeNumber), 0)
			if l.direct {
				c.catalogued = true
				c.field = l.field
				r.object = l.object
				if l.field.Type != "" {
					r.addType(l.field.Type)
				}
				r.addCategory(l.field.EffectiveCategory())
				continue
			}
			ss.addTaint(r, c, l.taint)
		}
	}
	if st != nil {
		lin := st
		if p.lineage != nil && idx < len(p.lineage) && p.lineage[idx] != nil {
			lin = p.lineage[idx] // FETCH or EXECUTE: the query declared or prepared earlier
		}
		ss.taintColumns(ctx, r, lin, fields, rels)
	}
	r.plain = r.types == nil && r.categories == nil && !ss.touchesCatalogued(r.st)
	ss.cur = r
}

// maxSessionRelations bounds the relations a session remembers.
const maxSessionRelations = 1024

// relations resolves table OIDs through the session's own copy of the
// server's metaCache entries: a result from a known table costs no lock
// and no allocation. Entries expire with the server's (metaTTL).
func (ss *session) relations(ctx context.Context, oids []uint32) (map[uint32]*relation, error) {
	now := time.Now()
	var missing []uint32
	for _, o := range oids {
		if r, ok := ss.rels[o]; !ok || now.Sub(r.loaded) >= metaTTL {
			missing = append(missing, o)
		}
	}
	if len(missing) == 0 {
		return ss.rels, nil
	}
	got, err := ss.s.meta.lookup(ctx, ss.db, missing)
	if err != nil {
		return got, err
	}
	if ss.rels == nil || len(ss.rels)+len(got) > maxSessionRelations {
		ss.rels = make(map[uint32]*relation, len(got))
	}
	for o, r := range got {
		ss.rels[o] = r
	}
	return ss.rels, nil
}

// taintColumns marks the result columns that may be derived from a
// catalogued column (lineage from the statement's text) and are not a
// catalogued column themselves: emit masks them by content, or nulls or
// redacts them whole. A column read as it is from a table (provenance
// from RowDescription, the relation a table) is its own value and is
// never tainted.
func (ss *session) taintColumns(ctx context.Context, r *result, lin *pgsql.Statement, fields []pgproto3.FieldDescription, rels map[uint32]*relation) {
	res := ss.cataloguedResources(lin)
	// Relations not in the catalogue may be views over catalogued
	// columns (views.go).
	uncatalogued := len(res) < len(lin.Tables)
	if len(res) == 0 && !uncatalogued {
		return
	}
	perOutput := lin.Outputs != nil && len(lin.Outputs) == len(fields)
	var all []string
	allDone := false
	for i := range r.cols {
		c := &r.cols[i]
		if c.catalogued {
			continue
		}
		if i < len(fields) {
			if rel := rels[fields[i].TableOID]; rel != nil && storedRelation(rel.kind) {
				continue
			}
		}
		var taint []string
		switch {
		case perOutput:
			taint = ss.namesTaint(ctx, lin, res, lin.Outputs[i].Columns, uncatalogued)
			c.pure = allCatalogued(res, lin.Outputs[i].Columns)
		case !allDone:
			all = ss.namesTaint(ctx, lin, res, lin.Columns, uncatalogued)
			allDone = true
			taint = all
		default:
			taint = all
		}
		ss.addTaint(r, c, taint)
	}
}

// allCatalogued reports whether every name is a catalogued column of one
// of the resources (a whole-row reference is not).
func allCatalogued(res []catalog.Resource, names []string) bool {
	if len(names) == 0 {
		return false
	}
	for _, n := range names {
		found := false
		for _, r := range res {
			if _, ok := r.Columns[n]; ok {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// namesTaint returns the catalogued types the columns names of statement
// lin may carry: by the catalogue for catalogued relations, and through
// the definitions of the views it reads.
func (ss *session) namesTaint(ctx context.Context, lin *pgsql.Statement, res []catalog.Resource, names []string, views bool) []string {
	taint := taintTypes(res, names)
	if !views || len(names) == 0 {
		return taint
	}
	for _, t := range ss.columnsLineage(ctx, lin, names, false, 0).taint {
		if !slices.Contains(taint, t) {
			taint = append(taint, t)
		}
	}
	slices.Sort(taint)
	return taint
}

// addTaint adds types a column may be derived from.
func (ss *session) addTaint(r *result, c *column, taint []string) {
	for _, t := range taint {
		if slices.Contains(c.taint, t) {
			continue
		}
		c.taint = append(c.taint, t)
		r.addType(t)
		r.addCategory(custos.CategoryOf(t))
	}
}

// storedRelation reports whether a relation kind stores its columns'
// values as they are: tables, partitioned and foreign tables (a view's
// column can be any expression).
func storedRelation(kind byte) bool {
	return kind == 'r' || kind == 'p' || kind == 'f'
}

// cataloguedResources returns the catalogue entries of the relations a
// statement names.
func (ss *session) cataloguedResources(st *pgsql.Statement) []catalog.Resource {
	if ss.s.Catalog == nil {
		return nil
	}
	var out []catalog.Resource
	for _, t := range st.Tables {
		if res, ok := ss.catalogResource(t); ok {
			out = append(out, res)
		}
	}
	return out
}

// taintTypes returns the types of the catalogued columns among names
// (all of a catalogued table's for a whole-row reference "*").
func taintTypes(res []catalog.Resource, names []string) []string {
	var types []string
	add := func(t string) {
		if t != "" && !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	for _, r := range res {
		for _, name := range names {
			if name == "*" {
				for _, f := range r.Columns {
					add(f.Type)
				}
				continue
			}
			if f, ok := r.Columns[name]; ok {
				add(f.Type)
			}
		}
	}
	slices.Sort(types)
	return types
}

// numberLike reports whether values of a type cannot carry a masked form
// of an identifier: numbers, booleans, times, uuids and bytea. A value of
// such a type derived from a masked column is sent as NULL: a masked
// phone number is not a number, and digits with zeros in place of the
// masked ones would be a plausible wrong value.
func numberLike(oid uint32) bool {
	switch oid {
	case 16, oidBytea, oidInt2, oidInt4, oidInt8, 26, 700, 701, 790, 1700, 1082, 1083, 1114, 1184, 1186, 1266, 2950:
		return true
	}
	return false
}

// characterType reports whether a type is a character string, whose
// redacted form (asterisks) is still a valid value.
func characterType(oid uint32) bool {
	switch oid {
	case oidText, oidVarchar, oidBpchar, oidName, oidChar, oidUnknown:
		return true
	}
	return false
}

// catalogField finds a column in the catalogue as schema.table or, for
// the public schema, as a bare table name.
func (ss *session) catalogField(table, col string) (catalog.Field, bool) {
	c := ss.s.Catalog
	if c == nil || col == "" {
		return catalog.Field{}, false
	}
	if f, ok := c.Field(ss.s.System, table, col); ok {
		return f, true
	}
	if bare, ok := strings.CutPrefix(table, "public."); ok {
		return c.Field(ss.s.System, bare, col)
	}
	return catalog.Field{}, false
}

func qualify(t pgsql.Table) string {
	if t.Schema == "" {
		return "public." + t.Name
	}
	return t.Schema + "." + t.Name
}

// addRow buffers a row for the batch decision. A row of a plain result
// in which no detector finds anything is sent on at once, as it is: there
// is nothing to decide about (the common case of tables without personal
// data, pgbench's among them).
func (ss *session) addRow(ctx context.Context, r *result, m *pgproto3.DataRow) {
	if r.refused {
		return
	}
	values := m.Values
	if r.plain && len(r.batch) == 0 {
		if !ss.anyMatch(r, values) {
			r.rows++
			for _, v := range values {
				r.bytes += int64(len(v))
			}
			ss.forward(m)
			return
		}
		r.plain = false
	}
	row := make([][]byte, len(values))
	for i, v := range values {
		if v != nil {
			row[i] = append(make([]byte, 0, len(v)), v...)
		}
	}
	r.batch = append(r.batch, row)
	if len(r.batch) >= batchRows {
		ss.processBatch(ctx, r)
	}
}

// anyMatch reports whether a detector finds anything in a row.
func (ss *session) anyMatch(r *result, values [][]byte) bool {
	for j, v := range values {
		if len(v) == 0 || j >= len(r.cols) {
			continue
		}
		c := &r.cols[j]
		b := v
		if c.format != 0 {
			text, _ := cellText(c, v)
			b = []byte(text)
		}
		ss.found = ss.det.AppendMatches(ss.found[:0], b)
		if len(ss.found) > 0 {
			return true
		}
	}
	return false
}

// endResult releases the last batch and records the statement's event.
// It reports whether the gateway refused the result (and so has already
// answered with an error in place of the upstream's completion).
func (ss *session) endResult(ctx context.Context, r *result, outcome custos.Outcome) bool {
	if !r.refused && (len(r.batch) > 0 || (r.rows == 0 && outcome == custos.OutcomeSuccess)) {
		ss.processBatch(ctx, r)
	}
	ss.cur = nil
	if r.refused {
		outcome = custos.OutcomeFailure
	}
	ss.recordResult(r, outcome)
	return r.refused
}

// processBatch decides on the buffered rows, masks and sends those the
// decision releases, and refuses the rest.
func (ss *session) processBatch(ctx context.Context, r *result) {
	rows := r.batch
	r.batch = r.batch[:0]
	if r.copy {
		return
	}
	matches, rowSubjects := ss.inspect(r, rows)
	// A row-returning statement over a catalogued relation is decided
	// even when no personal value comes back: count(*) probes over phone
	// numbers are accesses too (the catalogue supplies the types).
	personal := len(r.types) > 0 || len(r.categories) > 0 || (len(r.cols) > 0 && ss.touchesCatalogued(r.st))
	if !personal {
		// Nothing personal in the result: released as it is.
		for _, row := range rows {
			ss.emit(r, row, nil, policy.Decision{Effect: custos.DecisionAllow})
		}
		return
	}
	var all []custos.Subject
	seen := map[custos.Subject]bool{}
	for _, subs := range rowSubjects {
		for _, s := range subs {
			if !seen[s] {
				seen[s] = true
				all = append(all, s)
			}
		}
	}
	d := ss.decide(ctx, r, all, int64(len(rows)))
	if refusedEffect(d.Effect) {
		if len(rows) > 1 && quotaRefusal(d) {
			// A quota ran out inside this batch: release rows one by one
			// until it refuses, so the client gets every allowed row and
			// then the error.
			for i, row := range rows {
				di := ss.decide(ctx, r, rowSubjects[i], 1)
				if refusedEffect(di.Effect) {
					ss.refuse(r, di)
					return
				}
				ss.noteSubjects(r, rowSubjects[i])
				ss.emit(r, row, cellMatches(matches, i), di)
			}
			return
		}
		ss.refuse(r, d)
		return
	}
	for i, row := range rows {
		if r.limit > 0 && r.rows >= r.limit {
			ss.refuseLimit(r)
			return
		}
		ss.noteSubjects(r, rowSubjects[i])
		ss.emit(r, row, cellMatches(matches, i), d)
	}
}

func refusedEffect(e custos.Decision) bool {
	return e == custos.DecisionDeny || e == custos.DecisionApprovalRequired
}

func quotaRefusal(d policy.Decision) bool {
	for _, r := range d.Rules {
		if strings.HasPrefix(r, "quota:") {
			return true
		}
	}
	return false
}

func cellMatches(ms []match, row int) []match {
	var out []match
	for _, m := range ms {
		if m.row == row {
			out = append(out, m)
		} else if m.row > row {
			break
		}
	}
	return out
}

// inspect finds the subjects of each row (subject-key columns and strong
// identifiers found by content) and the content matches of the columns
// without catalogued provenance.
func (ss *session) inspect(r *result, rows [][][]byte) ([]match, [][]custos.Subject) {
	var ms []match
	subjects := make([][]custos.Subject, len(rows))
	for i, row := range rows {
		for j, v := range row {
			if v == nil || j >= len(r.cols) {
				continue
			}
			c := &r.cols[j]
			if c.catalogued {
				if c.field.SubjectKey && c.field.Type != "" {
					if text, ok := cellText(c, v); ok {
						subjects[i] = appendSubject(subjects[i], c.field.Type, text)
					}
				}
				continue
			}
			text, _ := cellText(c, v)
			ss.found = ss.det.AppendMatches(ss.found[:0], []byte(text))
			for _, m := range ss.found {
				ms = append(ms, match{row: i, col: j, m: m})
				r.addType(m.Type)
				if cat := custos.CategoryOf(m.Type); cat != "" {
					r.addCategory(cat)
				}
				if identifying(m.Type) {
					subjects[i] = appendSubject(subjects[i], m.Type, text[m.Offset:m.Offset+m.Length])
				}
			}
		}
	}
	return ms, subjects
}

func appendSubject(subs []custos.Subject, t, v string) []custos.Subject {
	for _, s := range subs {
		if s.Type == t && s.Value == v {
			return subs
		}
	}
	return append(subs, custos.Subject{Type: t, Value: v})
}

// identifying says which detected types name a data subject well enough
// to count and record as one.
func identifying(t custos.DataType) bool {
	switch t {
	case custos.TypeCNID, custos.TypeCNMobile, custos.TypeCNPassport, custos.TypeHKID, custos.TypeTWID,
		custos.TypeHKMOPermit, custos.TypeBankCard, custos.TypeEmail, custos.TypeUSSSN, custos.TypeIBAN:
		return true
	}
	return false
}

// cellText is a cell's value as text for inspection: text-format values as
// they are, binary integers in decimal, binary text-like types as their
// bytes (jsonb without its version byte) and anything else as raw bytes,
// in which text elements of arrays and records still appear verbatim. ok
// is false when the value is not text-shaped (raw binary).
func cellText(c *column, v []byte) (string, bool) {
	if c.format == 0 {
		return string(v), true
	}
	switch c.typeOID {
	case oidInt2:
		if len(v) == 2 {
			return strconv.FormatInt(int64(int16(binary.BigEndian.Uint16(v))), 10), true
		}
	case oidInt4:
		if len(v) == 4 {
			return strconv.FormatInt(int64(int32(binary.BigEndian.Uint32(v))), 10), true
		}
	case oidInt8:
		if len(v) == 8 {
			return strconv.FormatInt(int64(binary.BigEndian.Uint64(v)), 10), true
		}
	case oidText, oidVarchar, oidBpchar, oidName, oidJSON, oidUnknown, oidChar, oidBytea:
		return string(v), true
	case oidJSONB:
		if len(v) > 0 {
			return string(v[1:]), true
		}
	}
	return string(v), false
}

// decide asks the policy about a batch of rows.
func (ss *session) decide(ctx context.Context, r *result, subjects []custos.Subject, records int64) policy.Decision {
	if ss.s.Policy == nil {
		// Fail closed: a gateway without a policy releases no personal data.
		return policy.Decision{Effect: custos.DecisionDeny, Rules: []string{"no-policy"}}
	}
	req := policy.Request{
		Time:     ss.s.Now(),
		Actor:    ss.actorOf(r.p),
		Source:   ss.source,
		Channel:  custos.ChannelPostgres,
		Action:   actionOf(r.kind),
		Resource: custos.Resource{System: ss.s.System, Object: r.objectName(), Fingerprint: r.fingerprint},
		Records:  records,
	}
	if r.p != nil {
		req.Purpose = r.p.purpose
	}
	for t := range r.types {
		req.DataTypes = append(req.DataTypes, t)
	}
	for c := range r.categories {
		req.Categories = append(req.Categories, c)
	}
	for _, s := range subjects {
		if ss.s.Index == nil {
			break
		}
		if h, err := ss.s.Index.Hash(s.Type, s.Value); err == nil {
			req.Subjects = append(req.Subjects, h)
		}
	}
	d := ss.s.Policy.Decide(ctx, &req)
	if d.Limit > 0 && (r.limit == 0 || d.Limit < r.limit) {
		r.limit = d.Limit
	}
	r.rules = addRules(r.rules, d.Rules)
	if d.Effect == custos.DecisionMask && r.effect == custos.DecisionAllow {
		r.effect = custos.DecisionMask
	}
	return d
}

func addRules(have, add []string) []string {
outer:
	for _, a := range add {
		for _, h := range have {
			if h == a {
				continue outer
			}
		}
		have = append(have, a)
	}
	return have
}

func actionOf(k pgsql.Kind) custos.Action {
	switch k {
	case pgsql.KindCopyTo:
		return custos.ActionExport
	case pgsql.KindInsert, pgsql.KindCopyFrom:
		return custos.ActionCreate
	case pgsql.KindUpdate, pgsql.KindMerge:
		return custos.ActionUpdate
	case pgsql.KindDelete:
		return custos.ActionDelete
	}
	return custos.ActionRead
}

func (ss *session) noteSubjects(r *result, subs []custos.Subject) {
	for _, s := range subs {
		if len(r.subjects) >= maxEventSubjects {
			return
		}
		if r.subjects == nil {
			r.subjects = map[custos.Subject]struct{}{}
		}
		r.subjects[s] = struct{}{}
	}
}

// refuse ends a result with the policy's refusal; the client gets no
// more of it.
func (ss *session) refuse(r *result, d policy.Decision) {
	r.refused = true
	r.effect = d.Effect
	r.rules = addRules(r.rules, d.Rules)
	ss.forward(policyRefusal(d))
	ss.skipping = true
	ss.refusedResult = true
	if r.p != nil {
		r.p.resultRefused = true
	}
}

// policyRefusal is the error a policy refusal answers with.
func policyRefusal(d policy.Decision) *pgproto3.ErrorResponse {
	rule := strings.Join(d.Rules, ", ")
	msg := fmt.Sprintf("Custos policy denies this access (rule %s)", rule)
	if d.Effect == custos.DecisionApprovalRequired {
		msg = fmt.Sprintf("Custos policy requires an approval for this access (rule %s)", rule)
	}
	e := refusal("42501", msg)
	if d.Reason != "" {
		e.Detail = d.Reason
	}
	e.Hint = "declare a purpose with SET custos.purpose or request an approval"
	return e
}

// refuseLimit ends a result that reached its record limit: the client has
// the allowed rows and then an error, never a silently short result.
func (ss *session) refuseLimit(r *result) {
	r.refused = true
	ss.forward(refusal("54000", fmt.Sprintf("Custos policy limits this statement to %d rows (rule %s); the result was stopped there", r.limit, strings.Join(r.rules, ", "))))
	ss.skipping = true
	ss.refusedResult = true
	if r.p != nil {
		r.p.resultRefused = true
	}
}

// emit masks a row under decision d and sends it.
func (ss *session) emit(r *result, row [][]byte, ms []match, d policy.Decision) {
	if d.Effect != custos.DecisionAllow || len(ms) > 0 {
		for j := range row {
			if row[j] == nil || j >= len(r.cols) {
				continue
			}
			c := &r.cols[j]
			if c.catalogued {
				row[j] = ss.maskCatalogued(c, row[j], d)
				continue
			}
			var cm []match
			for _, m := range ms {
				if m.col == j {
					cm = append(cm, m)
				}
			}
			derived := len(c.taint) > 0 && tainted(c, d)
			switch {
			case derived && numberLike(c.typeOID):
				row[j] = nil
			case len(cm) > 0:
				row[j] = ss.maskContent(c, row[j], cm, d, derived && c.pure && characterType(c.typeOID))
			case derived && len(row[j]) > 0:
				row[j] = redactLike(c, row[j])
			}
		}
	}
	r.rows++
	for _, v := range row {
		r.bytes += int64(len(v))
	}
	ss.forward(&pgproto3.DataRow{Values: row})
}

// maskCatalogued masks a column whose provenance the catalogue knows.
func (ss *session) maskCatalogued(c *column, v []byte, d policy.Decision) []byte {
	tr := d.Transform(c.field.Type)
	if tr == mask.TransformNone {
		return v
	}
	text, ok := cellText(c, v)
	if !ok && c.format != 0 {
		// A binary value the gateway cannot rewrite in its type: NULL
		// rather than the value.
		return nil
	}
	out, err := ss.s.Masker.Apply(tr, c.field.Type, text)
	if err != nil {
		if err == mask.ErrNull {
			return nil
		}
		out = mask.Redact(text)
	}
	return encodeLike(c, out)
}

// maskContent masks every detected identifier in a column without
// provenance, in place; redactRest redacts every letter and digit
// outside them too (a pure derived column, see column.pure).
func (ss *session) maskContent(c *column, v []byte, ms []match, d policy.Decision, redactRest bool) []byte {
	text, _ := cellText(c, v)
	var b strings.Builder
	last := 0
	gap := func(s string) {
		if redactRest {
			s = redactAlnum(s)
		}
		b.WriteString(s)
	}
	changed := false
	for _, m := range ms {
		tr := d.Transform(m.m.Type)
		if tr == mask.TransformNone {
			continue
		}
		orig := text[m.m.Offset : m.m.Offset+m.m.Length]
		out, err := ss.s.Masker.Apply(tr, m.m.Type, orig)
		if err != nil {
			out = mask.Redact(orig)
		}
		if c.format != 0 && !isTextOID(c.typeOID) && len(out) != len(orig) {
			// Raw binary: keep every length prefix intact.
			out = strings.Repeat("*", len(orig))
		}
		gap(text[last:m.m.Offset])
		b.WriteString(out)
		last = m.m.Offset + m.m.Length
		changed = true
	}
	if !changed && !redactRest {
		return v
	}
	gap(text[last:])
	return encodeLike(c, b.String())
}

// redactAlnum replaces every letter and digit by an asterisk.
func redactAlnum(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return '*'
		}
		return r
	}, s)
}

// tainted reports whether decision d masks any type a column may be
// derived from.
func tainted(c *column, d policy.Decision) bool {
	for _, t := range c.taint {
		if d.Transform(t) != mask.TransformNone {
			return true
		}
	}
	return false
}

// redactLike redacts a whole value derived from a masked column in which
// no detector recognized anything: character strings become asterisks,
// anything else (json, arrays, records, xml) NULL, as no masked form of it
// would be a valid value.
func redactLike(c *column, v []byte) []byte {
	if !characterType(c.typeOID) {
		return nil
	}
	text, _ := cellText(c, v)
	return encodeLike(c, mask.Redact(text))
}

func isTextOID(oid uint32) bool {
	switch oid {
	case oidText, oidVarchar, oidBpchar, oidName, oidJSON, oidUnknown, oidChar, oidBytea, oidJSONB:
		return true
	}
	return false
}

// encodeLike encodes masked text in the column's format: text as it is,
// binary integers with their masked digits read as zeros (138****5678 →
// 13800005678), jsonb with its version byte, other binary as bytes.
func encodeLike(c *column, s string) []byte {
	if c.format == 0 {
		return []byte(s)
	}
	switch c.typeOID {
	case oidInt2, oidInt4, oidInt8:
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || r == '-' {
				return r
			}
			return '0'
		}, s)
		n, _ := strconv.ParseInt(digits, 10, 64)
		switch c.typeOID {
		case oidInt2:
			return binary.BigEndian.AppendUint16(nil, uint16(n))
		case oidInt4:
			return binary.BigEndian.AppendUint32(nil, uint32(n))
		default:
			return binary.BigEndian.AppendUint64(nil, uint64(n))
		}
	case oidJSONB:
		return append([]byte{1}, s...)
	}
	return []byte(s)
}

// startCopy begins a COPY's result: COPY … TO data is inspected by
// content as it streams.
func (ss *session) startCopy(ctx context.Context, p *pending) {
	ss.startResult(ctx, p, nil)
	ss.cur.copy = true
	ss.cur.plain = false
}

// copyData masks identifiers in a COPY … TO row by content and counts it.
// Rows of COPY FROM flow from the client and are only counted by the
// server's command tag.
func (ss *session) copyData(ctx context.Context, m *pgproto3.CopyData) {
	r := ss.cur
	if r == nil || r.refused {
		ss.forward(m)
		return
	}
	ss.found = ss.det.AppendMatches(ss.found[:0], m.Data)
	if len(ss.found) == 0 {
		r.rows++
		r.bytes += int64(len(m.Data))
		ss.forward(m)
		return
	}
	var subs []custos.Subject
	for _, f := range ss.found {
		r.addType(f.Type)
		if cat := custos.CategoryOf(f.Type); cat != "" {
			r.addCategory(cat)
		}
		if identifying(f.Type) {
			subs = appendSubject(subs, f.Type, string(m.Data[f.Offset:f.Offset+f.Length]))
		}
	}
	found := append([]pii.Match(nil), ss.found...)
	d := ss.decide(ctx, r, subs, 1)
	if refusedEffect(d.Effect) {
		ss.refuse(r, d)
		return
	}
	ss.noteSubjects(r, subs)
	out := make([]byte, 0, len(m.Data))
	last := 0
	for _, f := range found {
		tr := d.Transform(f.Type)
		if tr == mask.TransformNone {
			continue
		}
		orig := string(m.Data[f.Offset : f.Offset+f.Length])
		v, err := ss.s.Masker.Apply(tr, f.Type, orig)
		if err != nil {
			v = mask.Redact(orig)
		}
		out = append(out, m.Data[last:f.Offset]...)
		out = append(out, v...)
		last = f.Offset + f.Length
	}
	out = append(out, m.Data[last:]...)
	r.rows++
	r.bytes += int64(len(out))
	ss.forward(&pgproto3.CopyData{Data: out})
}

// maxNamedQueries bounds the cursors and SQL-prepared statements a
// session remembers for lineage.
const maxNamedQueries = 1024

// lineageOf remembers the queries a statement string declares as cursors
// or prepares by name, and returns, by statement index, the earlier query
// each FETCH or EXECUTE takes its result from (nil when none is needed).
// Called by the client reader in the order statements are sent.
func (ss *session) lineageOf(st *statement) []*pgsql.Statement {
	if st == nil || !st.parsed {
		return nil
	}
	var out []*pgsql.Statement
	for i := range st.analysis.Statements {
		s := &st.analysis.Statements[i]
		if s.Cursor == "" && s.Prepared == "" {
			continue
		}
		switch {
		case s.Cursor != "" && s.Kind == pgsql.KindSelect: // DECLARE
			if len(ss.cursors) >= maxNamedQueries {
				clear(ss.cursors)
			}
			ss.cursors[s.Cursor] = s
		case s.Prepared != "" && s.Kind != pgsql.KindOther: // PREPARE
			if len(ss.prepared) >= maxNamedQueries {
				clear(ss.prepared)
			}
			ss.prepared[s.Prepared] = s
		default: // FETCH, MOVE, CLOSE, EXECUTE
			src := ss.cursors[s.Cursor]
			if s.Prepared != "" {
				src = ss.prepared[s.Prepared]
			}
			if src == nil {
				continue
			}
			if out == nil {
				out = make([]*pgsql.Statement, len(st.analysis.Statements))
			}
			out[i] = src
		}
	}
	return out
}
