package detect

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/custos-dev/custos"
)

// Rule names, as they appear in Alert.Rule.
const (
	RuleHoneytoken        = "honeytoken"
	RuleWatchlist         = "watchlist"
	RuleNoRelationship    = "no_relationship"
	RuleBulk              = "bulk_subjects"
	RuleOffHours          = "off_hours"
	RuleEnumeration       = "enumeration"
	RuleMachineCadence    = "machine_cadence"
	RuleRate              = "inhuman_rate"
	RuleFirstCategory     = "first_sensitive_category"
	RuleDormant           = "dormant_account"
	RuleSessionSources    = "session_two_sources"
	RuleDocumentReuse     = "id_document_reuse"
	RuleExportVolume      = "export_volume"
	RuleExportAfterHours  = "export_after_hours"
	RuleVelocity          = "post_login_velocity"
	RuleStuffingSource    = "stuffing_source"
	RuleStuffingAccount   = "stuffing_account"
	RuleSuccessAfterStuff = "success_after_stuffing"
	RuleBreachedPassword  = "breached_password"
	RuleImpossibleTravel  = "impossible_travel"
	RuleEscalation        = "risk_escalation"
)

// Rules lists every rule the engine ships, all on by default.
var Rules = []string{
	RuleHoneytoken, RuleWatchlist, RuleNoRelationship, RuleBulk, RuleOffHours,
	RuleEnumeration, RuleMachineCadence, RuleRate, RuleFirstCategory, RuleDormant,
	RuleSessionSources, RuleDocumentReuse, RuleExportVolume, RuleExportAfterHours,
	RuleVelocity, RuleStuffingSource, RuleStuffingAccount, RuleSuccessAfterStuff,
	RuleBreachedPassword, RuleImpossibleTravel, RuleEscalation,
}

// Event is one input: exactly one of Access and Login is set. Access
// events must be sealed (subjects carry Hash); raw values are ignored.
type Event struct {
	Access *custos.AccessEvent
	Login  *custos.LoginEvent
}

// Time is the event's time.
func (ev Event) Time() time.Time {
	if ev.Access != nil {
		return ev.Access.Time
	}
	if ev.Login != nil {
		return ev.Login.Time
	}
	return time.Time{}
}

// Engine evaluates the rules over a time-ordered stream of events. It is
// safe for concurrent use, but events must arrive in event-time order
// (late events are processed with the engine's clock not moving back).
type Engine struct {
	cfg Config
	// watch and honey index Watchlist and Honeytokens by subjectKey so
	// that the per-subject check hashes 8 bytes, not 64 characters.
	watch, honey map[uint64]string

	mu  sync.Mutex
	now time.Time
	// accessAt and loginAt are each stream's latest event time. A
	// consumer reading the two streams in batches (the server's bus)
	// lets one run ahead of the other; state is swept on the slower
	// clock so that the lagging stream still finds what it needs.
	accessAt, loginAt time.Time
	day               int64
	actors            map[string]*actorState
	sources           map[string]*sourceState
	docs              map[uint64][]docEntry
	incidents         map[string]*Alert
	// reported is the LastSeen (unix ns) of each incident's latest
	// returned state: an update is returned at least every ReportEvery
	// of event time, so that a stored alert does not lag its incident
	// by more.
	reported map[string]int64
	// idle remembers when evicted actors were last seen (unix ns), so
	// that an account back after months is still a dormant account.
	idle        map[string]int64
	peers       map[string]*peerStats
	compromised map[string]compromise
	out         []Alert
}

// New returns an engine with cfg (start from DefaultConfig).
func New(cfg Config) *Engine {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	e := &Engine{cfg: cfg, watch: keyed(cfg.Watchlist), honey: keyed(cfg.Honeytokens)}
	e.reset()
	return e
}

func keyed(set map[string]bool) map[uint64]string {
	out := make(map[uint64]string, len(set))
	for h, on := range set {
		if on {
			out[subjectKey(h)] = h
		}
	}
	return out
}

// listed reports whether a subject hash is in an indexed set.
func listed(set map[uint64]string, h string) bool {
	if len(set) == 0 {
		return false
	}
	got, ok := set[subjectKey(h)]
	return ok && got == h
}

func (e *Engine) reset() {
	e.actors = map[string]*actorState{}
	e.sources = map[string]*sourceState{}
	e.docs = map[uint64][]docEntry{}
	e.incidents = map[string]*Alert{}
	e.reported = map[string]int64{}
	e.idle = map[string]int64{}
	e.peers = map[string]*peerStats{}
	e.compromised = map[string]compromise{}
}

// Process evaluates one event and returns the alerts it opened or
// updated (an update repeats the ID of an earlier alert).
func (e *Engine) Process(ctx context.Context, ev Event) []Alert {
	switch {
	case ev.Access != nil:
		return e.ProcessAccess(ev.Access)
	case ev.Login != nil:
		return e.ProcessLogin(ev.Login)
	}
	return nil
}

// Stats says how much state the engine holds.
type Stats struct {
	Actors, Sources, Sessions, Documents, Incidents int
}

// Stats returns the sizes of the engine's state.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	sessions := 0
	for _, a := range e.actors {
		sessions += len(a.Sessions)
	}
	return Stats{len(e.actors), len(e.sources), sessions, len(e.docs), len(e.incidents)}
}

func (e *Engine) dayOf(t time.Time) int64 {
	d, _ := e.dayHour(t)
	return d
}

// dayHour returns the local day number and hour of t.
func (e *Engine) dayHour(t time.Time) (int64, int) {
	_, off := t.In(e.cfg.Location).Zone()
	local := t.Unix() + int64(off)
	day := local / 86400
	if local < 0 && local%86400 != 0 {
		day--
	}
	return day, int((local - day*86400) / 3600)
}

// advance moves the engine clock (and the clock of the event's stream)
// and sweeps idle state once a day of the sweep clock.
func (e *Engine) advance(t time.Time, login bool) {
	clock := &e.accessAt
	if login {
		clock = &e.loginAt
	}
	if t.After(*clock) {
		*clock = t
	}
	if t.After(e.now) {
		e.now = t
	}
	ref := e.sweepClock()
	if d := e.dayOf(ref); d > e.day {
		e.day = d
		e.sweep(ref)
	}
}

// sweepClock is the time state is swept at: the slower stream's clock
// once both streams have events, but never more than StreamSkew behind
// the faster one, so that a stream that stops does not keep state
// forever.
func (e *Engine) sweepClock() time.Time {
	if e.accessAt.IsZero() || e.loginAt.IsZero() {
		return e.now
	}
	ref := e.accessAt
	if e.loginAt.Before(ref) {
		ref = e.loginAt
	}
	if floor := e.now.Add(-e.cfg.StreamSkew); ref.Before(floor) {
		ref = floor
	}
	return ref
}

// sweep evicts state that can no longer matter at event time at.
func (e *Engine) sweep(at time.Time) {
	now := at.UnixNano()
	for id, a := range e.actors {
		if at.Sub(a.LastSeen) > e.cfg.IdleEvict && at.Sub(a.LoginAt) > e.cfg.IdleEvict {
			e.forget(id, a)
			continue
		}
		for sid, s := range a.Sessions {
			if now-s.Start > int64(24*time.Hour) {
				delete(a.Sessions, sid)
			}
		}
	}
	for ip, s := range e.sources {
		if now-s.LastSeen > int64(24*time.Hour) {
			delete(e.sources, ip)
		}
	}
	for k, ts := range e.docs {
		if now-ts[len(ts)-1].T > int64(e.cfg.DocWindow) {
			delete(e.docs, k)
		}
	}
	for k, a := range e.incidents {
		if at.Sub(a.LastSeen) > e.cfg.IncidentGap {
			delete(e.incidents, k)
			delete(e.reported, k)
		}
	}
	for k, c := range e.compromised {
		if now > c.Until {
			delete(e.compromised, k)
		}
	}
	for id, last := range e.idle {
		if now-last > int64(e.cfg.DormantKeep) {
			delete(e.idle, id)
		}
	}
}

// forget evicts an actor, keeping when it was last seen (up to MaxActors
// of those) for the dormant-account rule.
func (e *Engine) forget(id string, a *actorState) {
	delete(e.actors, id)
	if !a.LastSeen.IsZero() && e.cfg.DormantKeep > 0 && len(e.idle) < e.cfg.MaxActors {
		e.idle[id] = a.LastSeen.UnixNano()
	}
}

func (e *Engine) actor(id string, t time.Time) *actorState {
	a := e.actors[id]
	if a == nil {
		if len(e.actors) >= e.cfg.MaxActors {
			e.evictOldestActors()
		}
		a = &actorState{Day: e.dayOf(t), Categories: map[string]bool{}}
		if last, ok := e.idle[id]; ok {
			a.LastSeen = time.Unix(0, last)
			delete(e.idle, id)
		}
		e.actors[id] = a
	}
	return a
}

// evictOldestActors drops the least recently seen tenth of the actors
// when the table is full.
func (e *Engine) evictOldestActors() {
	type kv struct {
		id string
		t  time.Time
	}
	all := make([]kv, 0, len(e.actors))
	for id, a := range e.actors {
		all = append(all, kv{id, a.LastSeen})
	}
	slices.SortFunc(all, func(x, y kv) int { return x.t.Compare(y.t) })
	for _, x := range all[:len(all)/10+1] {
		e.forget(x.id, e.actors[x.id])
	}
}

// roll closes an actor's day and opens day d.
func (e *Engine) roll(a *actorState, d int64) {
	if a.Day == d {
		return
	}
	if a.Accesses > 0 {
		a.History = append(a.History, len(a.Distinct))
		if len(a.History) > 30 {
			a.History = a.History[1:]
		}
		a.ActiveDays++
		if a.Role != "" {
			p := e.peers[a.Role]
			if p == nil {
				p = &peerStats{Day: a.Day}
				e.peers[a.Role] = p
			}
			if a.Day > p.Day {
				if len(p.Counts) >= 3 {
					p.Median = median(p.Counts)
				}
				p.Counts, p.Day = p.Counts[:0], a.Day
			}
			if a.Day == p.Day {
				p.Counts = append(p.Counts, len(a.Distinct))
			}
		}
	}
	a.Day = d
	clear(a.Distinct)
	a.CreditDistinct, a.Accesses, a.Unrelated, a.OffHours = 0, 0, 0, 0
}

// mark is how an alert names a subject: its masked form or a hash prefix.
func mark(s custos.Subject) string {
	if s.Masked != "" {
		return s.Masked
	}
	if len(s.Hash) >= 12 {
		return s.Type + ":" + s.Hash[:12]
	}
	return ""
}

var sensitiveAction = map[custos.Action]bool{custos.ActionRead: true, custos.ActionSearch: true}

// ProcessAccess evaluates one access event.
func (e *Engine) ProcessAccess(ev *custos.AccessEvent) []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.out = e.out[:0]
	e.advance(ev.Time, false)
	if e.cfg.Part != PartCross {
		e.actorAccess(ev)
	}
	if e.cfg.Part != PartActor {
		e.crossAccess(ev)
	}
	return e.flush()
}

// ownsSource and ownsDocument say whether a PartCross engine holds a key.
func (e *Engine) ownsSource(ip string) bool {
	return ip != "" && (e.cfg.OwnsSource == nil || e.cfg.OwnsSource(ip))
}

func (e *Engine) ownsDocument(hash string) bool {
	return e.cfg.OwnsDocument == nil || e.cfg.OwnsDocument(hash)
}

// crossAccess runs the access rules whose state spans actors: a
// registration counted against its identity document, and an access from
// a source through which the account was taken over attached to that
// incident.
func (e *Engine) crossAccess(ev *custos.AccessEvent) {
	t := ev.Time
	id := ev.Actor.ID
	if doc, ok := RegistrationDocument(ev); ok && e.ownsDocument(doc.Hash) {
		e.checkDocument(ev, id, t, doc)
	}
	if len(e.compromised) == 0 || !e.ownsSource(ev.Source.IP) {
		return
	}
	if cp, ok := e.compromised[compromiseKey(id, ev.Source.IP)]; ok && t.UnixNano() <= cp.Until {
		if inc := e.incidents[cp.Key]; inc != nil {
			inc.LastSeen = t
			inc.Events++
			inc.addEvidence(ev.ID, mark(firstSubject(ev)))
			if inc.Events&(inc.Events-1) == 0 || e.stale(cp.Key, inc) {
				e.report(cp.Key, inc)
			}
		}
	}
}

// compromiseKey names an account taken over through one source: each
// source's take-over is its own incident, held where the source is.
func compromiseKey(account, ip string) string { return account + "|" + ip }

// firstSubject is the event's first sealed subject (the one alerts show).
func firstSubject(ev *custos.AccessEvent) custos.Subject {
	for _, s := range ev.Subjects {
		if s.Hash != "" {
			return s
		}
	}
	return custos.Subject{}
}

// actorAccess runs the access rules keyed by actor.
func (e *Engine) actorAccess(ev *custos.AccessEvent) {
	c := &e.cfg
	t := ev.Time
	id := ev.Actor.ID
	a := e.actor(id, t)
	if len(ev.Actor.Roles) > 0 {
		a.Role = ev.Actor.Roles[0]
	}
	day, hour := e.dayHour(t)
	e.roll(a, day)
	div := 1.0
	if ev.Actor.Attributes["leaving"] == "true" {
		div = c.LeavingDivisor
	}

	sensitive, credit := false, false
	for _, cat := range ev.Categories {
		if custos.Sensitive(cat) {
			sensitive = true
		}
		if cat == custos.CategoryCredit || cat == custos.CategoryFinancial {
			credit = true
		}
	}
	var first custos.Subject
	related := true
	for i, s := range ev.Subjects {
		if s.Hash == "" {
			continue
		}
		if first.Hash == "" {
			first = ev.Subjects[i]
		}
		if listed(e.honey, s.Hash) {
			e.fire(RuleHoneytoken, SeverityCritical, id, ev.Source.IP, t, ev.ID, mark(s), 1, 1, "honeytoken record opened: nobody has a reason to see it")
		}
	}
	if c.Relations != nil && first.Hash != "" && ev.Action != custos.ActionCreate {
		related = false
		for _, s := range ev.Subjects {
			if s.Hash != "" && c.Relations.Related(id, s.Type, s.Hash, t) {
				related = true
				break
			}
		}
	}
	if !related || c.Relations == nil {
		for _, s := range ev.Subjects {
			if s.Hash != "" && listed(e.watch, s.Hash) {
				e.fire(RuleWatchlist, SeverityHigh, id, ev.Source.IP, t, ev.ID, mark(s), 1, 1, "watchlisted person opened without a business relationship")
			}
		}
	}

	if !a.LastSeen.IsZero() && t.Sub(a.LastSeen) > c.DormantAfter && sensitive {
		e.fire(RuleDormant, SeverityMedium, id, ev.Source.IP, t, ev.ID, mark(first), c.DormantAfter.Hours()/24, t.Sub(a.LastSeen).Hours()/24, "dormant account accessed sensitive data (days idle)")
	}
	if t.After(a.LastSeen) {
		a.LastSeen = t
	}

	if a.ActiveDays >= c.LearningDays {
		for _, cat := range ev.Categories {
			if custos.Sensitive(cat) && !a.Categories[cat] {
				e.fire(RuleFirstCategory, SeverityLow, id, ev.Source.IP, t, ev.ID, mark(first), 0, 1, "first access to sensitive category "+cat)
			}
		}
	}
	for _, cat := range ev.Categories {
		if !a.Categories[cat] {
			a.Categories[cat] = true
		}
	}

	// Off-hours against the actor's own hour-of-day profile.
	profiled := a.ActiveDays >= c.LearningDays && a.HoursTotal >= 200
	offHours := false
	if profiled {
		p := float64(a.Hours[hour]) / float64(a.HoursTotal)
		offHours = p < c.OffHoursProb
	}

	if sensitiveAction[ev.Action] && first.Hash != "" {
		a.Accesses++
		key := subjectKey(first.Hash)
		if a.Distinct == nil {
			a.Distinct = map[uint64]struct{}{}
		}
		if _, seen := a.Distinct[key]; !seen && len(a.Distinct) <= c.BulkHardStop {
			a.Distinct[key] = struct{}{}
			if credit {
				a.CreditDistinct++
			}
			e.checkBulk(a, ev, id, t, div, first)
		}
		if !related {
			a.Unrelated++
			ratio := float64(a.Unrelated) / float64(a.Accesses)
			if float64(a.Unrelated) >= float64(c.NoRelMin)/div && ratio > c.NoRelRatio {
				e.fire(RuleNoRelationship, SeverityMedium, id, ev.Source.IP, t, ev.ID, mark(first), float64(c.NoRelMin), float64(a.Unrelated), "accesses without a booking, ticket or application today")
			}
		}
		e.checkCadence(a, ev, id, t, first)
		e.checkEnumeration(a, ev, id, t, key, related, first)
		if offHours && ev.Purpose.Ticket == "" {
			a.OffHours++
			if a.OffHours >= c.OffHoursMin {
				e.fire(RuleOffHours, SeverityMedium, id, ev.Source.IP, t, ev.ID, mark(first), c.OffHoursProb, float64(a.OffHours), fmt.Sprintf("accesses without a ticket at %02d:00, an hour this actor almost never works", hour))
			}
		}
	}

	if ev.Action == custos.ActionExport {
		e.checkExport(a, ev, id, t, hour, div, profiled, offHours)
	}
	// A query or search whose result is a bulk of rows is an export by
	// another name (a SELECT through the database gateway, a report
	// screen): after hours it is the same signal.
	if sensitiveAction[ev.Action] && c.BulkResultRows > 0 && ev.Records >= c.BulkResultRows && afterHours(hour, profiled, offHours) {
		e.fire(RuleExportAfterHours, SeverityMedium, id, ev.Source.IP, t, ev.ID, mark(first), float64(c.BulkResultRows), float64(ev.Records), fmt.Sprintf("bulk result of %d rows at %02d:00, outside this actor's hours", ev.Records, hour))
	}
	if doc, ok := RegistrationDocument(ev); ok {
		e.checkRegistrations(a, ev, id, t, doc)
	}
	if ev.Source.Session != "" && ev.Source.IP != "" {
		e.checkSession(a, ev, id, t, credit, first)
	}

	if sensitiveAction[ev.Action] || ev.Action == custos.ActionExport {
		a.Hours[hour]++
		a.HoursTotal++
	}
}

func (e *Engine) checkBulk(a *actorState, ev *custos.AccessEvent, id string, t time.Time, div float64, first custos.Subject) {
	c := &e.cfg
	n := len(a.Distinct)
	floor := float64(c.BulkFloor)
	count := n
	if a.CreditDistinct > 0 && a.CreditDistinct*2 >= n {
		floor = float64(c.BulkCreditFloor)
		count = a.CreditDistinct
	}
	thr := floor
	if p := e.peers[a.Role]; p != nil {
		thr = math.Max(thr, c.BulkPeerFactor*p.Median)
	}
	if len(a.History) >= c.LearningDays {
		own := 0
		for _, h := range a.History {
			own = max(own, h)
		}
		thr = math.Max(thr, float64(own))
	}
	thr /= div
	switch {
	case count > c.BulkHardStop:
		e.fire(RuleBulk, SeverityCritical, id, ev.Source.IP, t, ev.ID, mark(first), float64(c.BulkHardStop), float64(count), "distinct people's records today passed the hard stop")
	case float64(count) > thr && a.BulkFiredDay != a.Day:
		a.BulkFiredDay = a.Day
		e.fire(RuleBulk, SeverityHigh, id, ev.Source.IP, t, ev.ID, mark(first), thr, float64(count), "distinct people's records today above own baseline, peers and floor")
	}
}

func (e *Engine) checkCadence(a *actorState, ev *custos.AccessEvent, id string, t time.Time, first custos.Subject) {
	c := &e.cfg
	ring := &a.Times
	ring[a.TimesN%len(ring)] = t.UnixNano()
	a.TimesN++
	// Rate: RatePerMinute+1 requests within a minute.
	if c.RatePerMinute > 0 && c.RatePerMinute < len(ring) && a.TimesN > c.RatePerMinute {
		old := ring[(a.TimesN-1-c.RatePerMinute)%len(ring)]
		if t.UnixNano()-old < int64(time.Minute) {
			e.fire(RuleRate, SeverityHigh, id, ev.Source.IP, t, ev.ID, mark(first), float64(c.RatePerMinute), float64(c.RatePerMinute+1), "more record views per minute than a person can make")
		}
	}
	w := c.CadenceWindow
	if w <= 1 || w >= len(ring) || a.TimesN <= w {
		return
	}
	var sum, sq float64
	prev := ring[(a.TimesN-1-w)%len(ring)]
	for k := a.TimesN - w; k < a.TimesN; k++ {
		cur := ring[k%len(ring)]
		d := float64(cur - prev)
		sum += d
		sq += d * d
		prev = cur
	}
	mean := sum / float64(w)
	if mean <= 0 || mean > float64(c.CadenceMaxGap) {
		return
	}
	sd := math.Sqrt(math.Max(0, sq/float64(w)-mean*mean))
	if cv := sd / mean; cv < c.CadenceCV {
		e.fire(RuleMachineCadence, SeverityHigh, id, ev.Source.IP, t, ev.ID, mark(first), c.CadenceCV, math.Round(cv*1000)/1000, fmt.Sprintf("requests at a machine's regular pace (every %.1f s)", mean/1e9))
	}
}

func (e *Engine) checkEnumeration(a *actorState, ev *custos.AccessEvent, id string, t time.Time, key uint64, related bool, first custos.Subject) {
	c := &e.cfg
	if c.EnumWindow <= 0 {
		return
	}
	// The masked form keeps the leading and trailing characters of the
	// identifier (110101********0012, 138****5678, 张*), so walking a
	// table in key or name order shows as masked forms that keep rising
	// (or falling) — the only order left once subjects are blind-indexed.
	var dir int8
	if first.Masked != "" && a.EnumLast != "" {
		dir = int8(strings.Compare(first.Masked, a.EnumLast))
	}
	a.EnumLast = first.Masked
	if len(a.Enum) < c.EnumWindow {
		a.Enum = append(a.Enum, enumEntry{})
	}
	a.Enum[a.EnumPos%len(a.Enum)] = enumEntry{T: t.UnixNano(), Key: key, Related: related, Dir: dir}
	a.EnumPos++
	if len(a.Enum) < c.EnumWindow {
		return
	}
	oldest := a.Enum[a.EnumPos%len(a.Enum)]
	span := t.UnixNano() - oldest.T
	fast := span <= int64(c.EnumSpan)
	if !fast && (c.EnumOrdered <= 0 || span > int64(c.EnumSweepSpan)) {
		return
	}
	unrelated, up, down := 0, 0, 0
	var buf [128]uint64
	keys := buf[:0]
	for _, x := range a.Enum {
		keys = append(keys, x.Key)
		if !x.Related {
			unrelated++
		}
		switch x.Dir {
		case 1:
			up++
		case -1:
			down++
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	distinct := float64(len(keys)) / float64(len(a.Enum))
	if distinct < c.EnumDistinct {
		return
	}
	if c.Relations != nil && float64(unrelated)/float64(len(a.Enum)) < c.EnumUnrelated {
		return
	}
	// A sorted sweep needs most steps to change the masked form (a few
	// visible characters repeat) and nine in ten of those to go one way:
	// random look-ups go either way about equally.
	ordered := 0.0
	if steps := up + down; c.EnumOrdered > 0 && steps*5 >= len(a.Enum)*3 {
		ordered = float64(max(up, down)) / float64(steps)
	}
	sorted := c.EnumOrdered > 0 && ordered >= c.EnumOrdered
	elapsed := time.Duration(span).Round(time.Second)
	switch {
	case sorted:
		e.fire(RuleEnumeration, SeverityHigh, id, ev.Source.IP, t, ev.ID, mark(first), c.EnumOrdered, math.Round(ordered*1000)/1000, fmt.Sprintf("%d distinct unrelated records in %s, in key order: a sorted sweep of the table", len(keys), elapsed))
	case fast:
		e.fire(RuleEnumeration, SeverityHigh, id, ev.Source.IP, t, ev.ID, mark(first), c.EnumDistinct, distinct, fmt.Sprintf("%d distinct unrelated records in %s: walking the table", len(keys), elapsed))
	}
}

func (e *Engine) checkExport(a *actorState, ev *custos.AccessEvent, id string, t time.Time, hour int, div float64, profiled, offHours bool) {
	c := &e.cfg
	rows := ev.Records
	approved := ev.Decision == custos.DecisionApprovalRequired
	limit := float64(c.ExportRows) / div
	switch {
	case !approved && float64(rows) > limit:
		e.fire(RuleExportVolume, SeverityHigh, id, ev.Source.IP, t, ev.ID, "", limit, float64(rows), "export without approval above the row limit")
	case len(a.Exports) >= 5:
		s := slices.Clone(a.Exports)
		slices.Sort(s)
		p95 := float64(s[int(float64(len(s)-1)*0.95)])
		if float64(rows) > c.ExportFactor*p95/div && rows >= 1000 {
			e.fire(RuleExportVolume, SeverityHigh, id, ev.Source.IP, t, ev.ID, "", c.ExportFactor*p95/div, float64(rows), "export far above this actor's usual size")
		}
	}
	if afterHours(hour, profiled, offHours) && rows >= c.ExportMinRows {
		e.fire(RuleExportAfterHours, SeverityMedium, id, ev.Source.IP, t, ev.ID, "", float64(c.ExportMinRows), float64(rows), fmt.Sprintf("bulk export at %02d:00, outside this actor's hours", hour))
	}
	a.Exports = append(a.Exports, rows)
	if len(a.Exports) > 20 {
		a.Exports = a.Exports[1:]
	}
}

// afterHours says whether hour is outside the actor's working hours: its
// own profile once learned, 20:00 to 07:00 before.
func afterHours(hour int, profiled, offHours bool) bool {
	if !profiled {
		return hour < 7 || hour >= 20
	}
	return offHours
}

// identityTypes are the documents a registration is made on.
var identityTypes = map[string]bool{custos.TypeCNID: true, custos.TypeCNPassport: true, custos.TypeHKMOPermit: true, custos.TypeHKID: true, custos.TypeTWID: true}

// RegistrationDocument returns the identity document a registration (a
// create on a registration object or for the purpose "registration") is
// made on: its first sealed subject of an identity type. The cluster
// routes such events to the partition of the document too.
func RegistrationDocument(ev *custos.AccessEvent) (custos.Subject, bool) {
	if ev.Action != custos.ActionCreate || !(strings.Contains(ev.Resource.Object, "registration") || ev.Purpose.Name == "registration") {
		return custos.Subject{}, false
	}
	for _, s := range ev.Subjects {
		if identityTypes[s.Type] && s.Hash != "" {
			return s, true
		}
	}
	return custos.Subject{}, false
}

// checkDocument counts a registration against its document, across
// agents. Its incidents are one per agent and document, and add nothing
// to the agent's risk: they are raised where the document's registrations
// are, not where the agent's other events are (see Part).
func (e *Engine) checkDocument(ev *custos.AccessEvent, id string, t time.Time, doc custos.Subject) {
	c := &e.cfg
	now := t.UnixNano()
	k := subjectKey(doc.Hash)
	ts := e.docs[k]
	for len(ts) > 0 && now-ts[0].T > int64(c.DocWindow) {
		ts = ts[1:]
	}
	ts = append(ts, docEntry{T: now, Actor: id})
	e.docs[k] = ts
	mine := 0
	for _, x := range ts {
		if x.Actor == id {
			mine++
		}
	}
	// A customer may come back to another clerk; it is one clerk
	// registering the same document again and again that matters.
	if len(ts) > c.DocReuse && mine >= 2 {
		key := RuleDocumentReuse + "|" + id + "|doc:" + strconv.FormatUint(k, 16)
		e.fireOn(key, false, RuleDocumentReuse, SeverityHigh, id, ev.Source.IP, t, ev.ID, mark(doc), float64(c.DocReuse), float64(len(ts)), "one identity document used for many registrations")
	}
}

// checkRegistrations counts the distinct documents one agent registers
// on within an hour.
func (e *Engine) checkRegistrations(a *actorState, ev *custos.AccessEvent, id string, t time.Time, doc custos.Subject) {
	c := &e.cfg
	now := t.UnixNano()
	k := subjectKey(doc.Hash)
	for len(a.Regs) > 0 && now-a.Regs[0].T > int64(time.Hour) {
		a.Regs = a.Regs[1:]
	}
	a.Regs = append(a.Regs, regEntry{T: now, Doc: k})
	docs := map[uint64]bool{}
	for _, r := range a.Regs {
		docs[r.Doc] = true
	}
	if len(docs) > c.DocsPerHour {
		e.fire(RuleDocumentReuse, SeverityMedium, id, ev.Source.IP, t, ev.ID, mark(doc), float64(c.DocsPerHour), float64(len(docs)), "registrations on many different documents within an hour")
	}
}

func (e *Engine) checkSession(a *actorState, ev *custos.AccessEvent, id string, t time.Time, credit bool, first custos.Subject) {
	c := &e.cfg
	// Sessions are the actor's own: a session id another actor also uses
	// is another session, so the rule's state stays with the actor.
	s := a.Sessions[ev.Source.Session]
	if s == nil {
		if a.Sessions == nil {
			a.Sessions = map[string]*sessionState{}
		}
		s = &sessionState{Actor: id, IP: ev.Source.IP, Start: t.UnixNano()}
		a.Sessions[ev.Source.Session] = s
	} else if s.IP != ev.Source.IP {
		n1, ok1 := c.locate(s.IP)
		n2, ok2 := c.locate(ev.Source.IP)
		if (ok1 && ok2 && distanceKM(n1, n2) > c.SessionKM) || ok1 != ok2 {
			km := 0.0
			if ok1 && ok2 {
				km = distanceKM(n1, n2)
			}
			e.fire(RuleSessionSources, SeverityHigh, id, ev.Source.IP, t, ev.ID, mark(first), c.SessionKM, math.Round(km), "one session used from two distant sources")
		}
	}
	if credit && first.Hash != "" && t.UnixNano()-s.Start <= int64(time.Hour) {
		if s.Credit == nil {
			s.Credit = map[uint64]struct{}{}
		}
		s.Credit[subjectKey(first.Hash)] = struct{}{}
		if len(s.Credit) > c.VelocityFirstHr {
			e.fire(RuleVelocity, SeverityHigh, id, ev.Source.IP, t, ev.ID, mark(first), float64(c.VelocityFirstHr), float64(len(s.Credit)), "credit reports pulled in a session's first hour")
		}
	}
}

// ProcessLogin evaluates one login event.
func (e *Engine) ProcessLogin(ev *custos.LoginEvent) []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.out = e.out[:0]
	e.advance(ev.Time, true)
	if e.cfg.Part != PartActor && e.ownsSource(ev.Source.IP) {
		e.sourceLogin(ev)
	}
	if e.cfg.Part != PartCross {
		e.accountLogin(ev)
	}
	return e.flush()
}

// sourceLogin runs the login rules keyed by source: failures across many
// accounts, and a success from a source in such a burst. The take-over's
// incident is one per account and source and adds nothing to the
// account's risk (it is raised where the source's logins are, see Part).
func (e *Engine) sourceLogin(ev *custos.LoginEvent) {
	c := &e.cfg
	t := ev.Time
	now := t.UnixNano()
	ip := ev.Source.IP
	src := e.sources[ip]
	if src == nil {
		if len(e.sources) >= c.MaxSources {
			e.sweepSources(now)
		}
		src = &sourceState{LevelAt: now}
		e.sources[ip] = src
	}
	src.LastSeen = now
	if src.CountAt != 0 && now > src.CountAt {
		f := math.Exp2(-float64(now-src.CountAt) / float64(c.StuffWindow))
		src.OK, src.Failures = src.OK*f, src.Failures*f
	}
	src.CountAt = now
	if ev.Outcome == custos.OutcomeSuccess {
		src.OK++
	} else {
		src.Failures++
	}
	if ev.Outcome != custos.OutcomeSuccess {
		src.Level = math.Max(0, src.Level-float64(now-src.LevelAt)/float64(c.StuffLeak)) + 1
		src.LevelAt = now
		if src.Failed == nil {
			src.Failed = map[string]int64{}
		}
		src.Failed[ev.Account] = now
		if len(src.Failed) > 4*c.StuffUsers {
			for k, ft := range src.Failed {
				if now-ft > int64(c.StuffWindow) {
					delete(src.Failed, k)
				}
			}
		}
		users := 0
		for _, ft := range src.Failed {
			if now-ft <= int64(c.StuffWindow) {
				users++
			}
		}
		// Many people behind one office address also mistype passwords;
		// stuffing is failures with few successes among them.
		lowSuccess := src.OK <= c.StuffMaxSuccess*(src.OK+src.Failures)
		if lowSuccess && (src.Level > c.StuffBucket || users >= c.StuffUsers) {
			src.BurstUntil = now + int64(time.Hour)
			e.fire(RuleStuffingSource, SeverityHigh, "", ip, t, ev.ID, "", c.StuffBucket, float64(users), "login failures across many accounts from one source")
		}
		return
	}
	if src.BurstUntil >= now {
		ck := compromiseKey(ev.Account, ip)
		key := e.fireOn(RuleSuccessAfterStuff+"|"+ck, false, RuleSuccessAfterStuff, SeverityCritical, ev.Account, ip, t, ev.ID, "", 1, 1, "successful login from a source in a credential-stuffing burst; accesses that follow are attached")
		if key != "" {
			e.compromised[ck] = compromise{IP: ip, Until: now + int64(24*time.Hour), Key: key}
		}
	}
}

// accountLogin runs the login rules keyed by account.
func (e *Engine) accountLogin(ev *custos.LoginEvent) {
	c := &e.cfg
	t := ev.Time
	now := t.UnixNano()
	ip := ev.Source.IP
	a := e.actor(ev.Account, t)
	if ev.Outcome != custos.OutcomeSuccess {
		if ip != "" {
			if a.FailSrcs == nil {
				a.FailSrcs = map[string]int64{}
			}
			a.FailSrcs[ip] = now
			n := 0
			for k, ft := range a.FailSrcs {
				if now-ft > int64(c.StuffWindow) {
					delete(a.FailSrcs, k)
					continue
				}
				n++
			}
			if n >= c.AccountSources {
				e.fire(RuleStuffingAccount, SeverityHigh, ev.Account, ip, t, ev.ID, "", float64(c.AccountSources), float64(n), "login failures on one account from many sources")
			}
		}
		return
	}
	known := ip == "" || slices.Contains(a.Known, ip)
	if c.Breached != nil && ev.CredentialFingerprint != "" && !known && a.Logins >= 3 && c.Breached.Breached(ev.CredentialFingerprint) {
		e.fire(RuleBreachedPassword, SeverityHigh, ev.Account, ip, t, ev.ID, "", 0, 1, "login with a known-breached password from a new source")
	}
	if n, ok := c.locate(ip); ok {
		if a.HasNet && t.After(a.LoginAt) {
			km := distanceKM(a.LastNet, n)
			h := t.Sub(a.LoginAt).Hours()
			if km > 100 && km/math.Max(h, 1.0/3600) > c.TravelKMH {
				e.fire(RuleImpossibleTravel, SeverityHigh, ev.Account, ip, t, ev.ID, "", c.TravelKMH, math.Round(km/math.Max(h, 1.0/3600)), fmt.Sprintf("logins %.0f km apart in %s", km, t.Sub(a.LoginAt).Round(time.Minute)))
			}
		}
		a.LastNet, a.HasNet = n, true
	}
	a.LoginAt = t
	a.Logins++
	if !known {
		a.Known = append(a.Known, ip)
		if len(a.Known) > c.KnownSourcesMax {
			a.Known = a.Known[1:]
		}
	}
}

func (e *Engine) sweepSources(now int64) {
	for ip, s := range e.sources {
		if now-s.LastSeen > int64(e.cfg.StuffWindow) && s.BurstUntil < now {
			delete(e.sources, ip)
		}
	}
}

func (e *Engine) flush() []Alert {
	if len(e.out) == 0 {
		return nil
	}
	return slices.Clone(e.out)
}

func clone(a *Alert) Alert {
	c := *a
	c.Evidence = slices.Clone(a.Evidence)
	c.Subjects = slices.Clone(a.Subjects)
	if a.Actor != nil {
		s := *a.Actor
		c.Actor = &s
	}
	return c
}

var severityRank = map[Severity]int{SeverityLow: 1, SeverityMedium: 2, SeverityHigh: 3, SeverityCritical: 4}

// fire opens or updates the incident of rule on actor (or, for
// source-only rules, on ip) and returns the incident key.
func (e *Engine) fire(rule string, sev Severity, actor, ip string, t time.Time, evID, subject string, threshold, observed float64, summary string) string {
	key := rule + "|" + actor
	if actor == "" {
		key = rule + "|ip:" + ip
	}
	return e.fireOn(key, true, rule, sev, actor, ip, t, evID, subject, threshold, observed, summary)
}

// fireOn is fire with the incident key given, and risk saying whether a
// new incident adds to its actor's risk (and may escalate).
func (e *Engine) fireOn(key string, risk bool, rule string, sev Severity, actor, ip string, t time.Time, evID, subject string, threshold, observed float64, summary string) string {
	if e.cfg.Disabled[rule] {
		return ""
	}
	if inc := e.incidents[key]; inc != nil && t.Sub(inc.LastSeen) <= e.cfg.IncidentGap && inc.Status != StatusResolved {
		inc.LastSeen = t
		inc.Events++
		inc.addEvidence(evID, subject)
		changed := false
		if severityRank[sev] > severityRank[inc.Severity] {
			inc.Severity, inc.Summary, inc.Threshold, changed = sev, summary, threshold, true
		}
		if observed > inc.Observed {
			inc.Observed = observed
		}
		if changed || inc.Events&(inc.Events-1) == 0 || e.stale(key, inc) {
			e.report(key, inc)
		}
		return key
	}
	inc := &Alert{
		ID: alertID(rule, key, evID), Rule: rule, Severity: sev, SourceIP: ip,
		FirstSeen: t, LastSeen: t, DetectedAt: t, Summary: summary,
		Threshold: threshold, Observed: observed, Events: 1, Status: StatusOpen,
	}
	inc.addEvidence(evID, subject)
	if actor != "" {
		s := actor
		inc.Actor = &s
		if risk {
			inc.Risk = e.addRisk(actor, rule, sev, t, ip, evID)
		}
	}
	e.incidents[key] = inc
	e.report(key, inc)
	return key
}

// stale says whether an incident has moved on by ReportEvery of event
// time since its state was last returned.
func (e *Engine) stale(key string, inc *Alert) bool {
	return e.cfg.ReportEvery > 0 && inc.LastSeen.UnixNano()-e.reported[key] >= int64(e.cfg.ReportEvery)
}

// report returns an incident's current state from this Process call.
func (e *Engine) report(key string, inc *Alert) {
	e.reported[key] = inc.LastSeen.UnixNano()
	e.out = append(e.out, clone(inc))
}

// addRisk adds an alert's points to its actor's decayed risk and
// escalates when risk or the number of distinct rules in a day is high.
func (e *Engine) addRisk(actor, rule string, sev Severity, t time.Time, ip, evID string) float64 {
	a := e.actor(actor, t)
	// An alert from a stream that lags (see accessAt) is older than the
	// risk's reference time: its points are added decayed to it.
	p := points[sev]
	switch {
	case a.RiskAt.IsZero() || !t.Before(a.RiskAt):
		if !a.RiskAt.IsZero() {
			a.Risk *= math.Exp2(-float64(t.Sub(a.RiskAt)) / float64(e.cfg.RiskHalfLife))
		}
		a.RiskAt = t
	default:
		p *= math.Exp2(-float64(a.RiskAt.Sub(t)) / float64(e.cfg.RiskHalfLife))
	}
	if rule == RuleEscalation {
		return a.Risk
	}
	a.Risk += p
	if a.Fired == nil {
		a.Fired = map[string]time.Time{}
	}
	if ft, ok := a.Fired[rule]; !ok || t.After(ft) {
		a.Fired[rule] = t
	}
	// Rules count when they fired within 24 h of this alert either way
	// (the same as "in the last 24 h" when events come in time order).
	recent := 0
	for r, ft := range a.Fired {
		d := t.Sub(ft)
		switch {
		case d > 24*time.Hour:
			delete(a.Fired, r)
		case d >= -24*time.Hour:
			recent++
		}
	}
	if recent >= e.cfg.EscalateRules || a.Risk > e.cfg.EscalateRisk {
		e.fire(RuleEscalation, SeverityCritical, actor, ip, t, evID, "", e.cfg.EscalateRisk, math.Round(a.Risk), fmt.Sprintf("%d distinct rules in 24 h, risk %.0f", recent, a.Risk))
	}
	return math.Round(a.Risk*10) / 10
}

// SetWatchlist replaces the watchlisted and honeytoken subject hashes
// while the engine runs (the API's /watchlist changes them).
func (e *Engine) SetWatchlist(watch, honey map[string]bool) {
	w, h := keyed(watch), keyed(honey)
	e.mu.Lock()
	e.watch, e.honey = w, h
	e.cfg.Watchlist, e.cfg.Honeytokens = watch, honey
	e.mu.Unlock()
}
