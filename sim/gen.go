package sim

import (
	"crypto/sha1"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/custos-dev/custos"
)

// Relationship is a business reason for one employee to see one subject:
// a booking, a call, a consented credit application, a parcel. Subject
// carries the raw value; the consumer blind-indexes it.
type Relationship struct {
	Time    time.Time      `json:"time"`
	Actor   string         `json:"actor"`
	Subject custos.Subject `json:"subject"`
	Kind    string         `json:"kind"`
	Ref     string         `json:"ref"`
	Until   time.Time      `json:"until"`
}

// Event is one generated item: exactly one of Access, Login and
// Relationship is set. Scenario names the injected scenario that produced
// it ("" for ordinary work); it is ground truth, not for the detector.
type Event struct {
	Time         time.Time
	Access       *custos.AccessEvent
	Login        *custos.LoginEvent
	Relationship *Relationship
	Scenario     string
}

// Generator produces an organization's activity day by day. It is not
// safe for concurrent use.
type Generator struct {
	Org *Org
	// Start is midnight (in Zone) of day 0.
	Start     time.Time
	scenarios []*Scenario
	customers [][]Person // per employee: subjects they have a relationship with
	seq       int
	r         *rand.Rand
	// peak multiplies everyone's volume on a day; shift overrides an
	// employee's shift start on a day (both set by benign scenarios).
	peak  map[int]float64
	shift map[[2]int]int
	// regs counts numbers registered per ID document: real customers
	// rarely hold more than two.
	regs map[string]int
}

// NewGenerator starts generating o's activity at the midnight (in Zone)
// of the day containing start, with the given scenarios injected.
func NewGenerator(o *Org, start time.Time, scenarios ...*Scenario) *Generator {
	s := start.In(Zone)
	g := &Generator{
		Org:       o,
		Start:     time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, Zone),
		customers: make([][]Person, len(o.Employees)),
		r:         rand.New(rand.NewPCG(o.Seed, 0x67656e)),
		peak:      map[int]float64{},
		shift:     map[[2]int]int{},
		regs:      map[string]int{},
		scenarios: scenarios,
	}
	for _, sc := range scenarios {
		if sc.setup != nil {
			sc.setup(sc, g)
		}
	}
	return g
}

// Generate calls fn with every event of days days from start, in time
// order. It stops at fn's first error.
func Generate(o *Org, start time.Time, days int, scenarios []*Scenario, fn func(Event) error) error {
	g := NewGenerator(o, start, scenarios...)
	for d := 0; d < days; d++ {
		for _, ev := range g.Day(d) {
			if err := fn(ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// Day returns the events of day d (counted from g.Start), sorted by time.
// Days must be requested in increasing order: employees remember the
// subjects they have worked with.
func (g *Generator) Day(d int) []Event {
	midnight := g.Start.AddDate(0, 0, d)
	var out []Event
	add := func(ev Event) { out = append(out, ev) }
	for i := range g.Org.Employees {
		g.employeeDay(i, d, midnight, add)
	}
	for _, sc := range g.scenarios {
		if sc.inject != nil {
			sc.inject(sc, g, d, midnight, func(ev Event) {
				ev.Scenario = sc.Name
				add(ev)
			})
		}
	}
	slices.SortStableFunc(out, func(a, b Event) int { return a.Time.Compare(b.Time) })
	return out
}

// nextID names events by organization, seed and start day as well as
// sequence, so that two generators over different periods (a back-fill
// and a live feed) never reuse an id — ingest is idempotent by id and
// would drop the second as a duplicate.
func (g *Generator) nextID(prefix string) string {
	g.seq++
	return fmt.Sprintf("%s-%d-%s-%s%08d", g.Org.Kind, g.Org.Seed, g.Start.Format("20060102"), prefix, g.seq)
}

// Working reports whether employee i works on day d and the local hour
// their shift starts.
func (g *Generator) Working(i, d int) (bool, int) {
	e := &g.Org.Employees[i]
	if d < e.Joined {
		return false, 0
	}
	if h, ok := g.shift[[2]int{i, d}]; ok {
		return true, h
	}
	wd := g.Start.AddDate(0, 0, d).Weekday()
	if wd == e.RestDays[0] || wd == e.RestDays[1] {
		return false, 0
	}
	return true, e.ShiftStart
}

func (g *Generator) employeeDay(i, d int, midnight time.Time, add func(Event)) {
	works, startHour := g.Working(i, d)
	if !works {
		return
	}
	e := &g.Org.Employees[i]
	m := g.Org.roles[e.Role]
	r := g.r
	shiftStart := midnight.Add(time.Duration(startHour)*time.Hour + time.Duration(r.IntN(30)-15)*time.Minute)
	shiftLen := time.Duration(e.ShiftHours) * time.Hour
	session := fmt.Sprintf("s-%s-%d", e.ID, d)
	ip := officeIP(e, i)
	// Log in; now and then after a typo.
	if r.Float64() < 0.03 {
		add(Event{Time: shiftStart.Add(-40 * time.Second), Login: g.login(e, shiftStart.Add(-40*time.Second), ip, custos.OutcomeFailure, "wrong-password")})
	}
	add(Event{Time: shiftStart, Login: g.login(e, shiftStart, ip, custos.OutcomeSuccess, "")})

	mult := 1.0
	if p, ok := g.peak[d]; ok {
		mult = p
	}
	n := int(float64(e.Volume) * mult * (0.8 + 0.4*r.Float64()))
	times := make([]time.Time, n)
	for k := range times {
		// Skip the first minutes (logging in) and spread over the shift.
		times[k] = shiftStart.Add(2*time.Minute + time.Duration(r.Int64N(int64(shiftLen-4*time.Minute))))
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	for _, t := range times {
		var p Person
		ref := ""
		fresh := false
		switch {
		case r.Float64() < 0.004:
			// A mistyped search or a look at the wrong record: no
			// relationship, happens to everyone now and then.
			p = g.Org.ordinary(r)
		case len(g.customers[i]) > 0 && r.Float64() < m.Revisit:
			p = g.customers[i][r.IntN(len(g.customers[i]))]
			ref = fmt.Sprintf("%s-%s", m.Purpose, p.ID[12:17])
		default:
			p = g.Org.ordinary(r)
			ref = fmt.Sprintf("%s-%s", m.Purpose, p.ID[12:17])
			rt := t.Add(-time.Duration(30+r.IntN(600)) * time.Second)
			for _, s := range subjectsOf(p, m.Types) {
				add(Event{Time: rt, Relationship: &Relationship{Time: rt, Actor: e.ID, Subject: s, Kind: m.Purpose, Ref: ref, Until: rt.AddDate(0, 0, 60)}})
			}
			fresh = true
			g.customers[i] = append(g.customers[i], p)
			if len(g.customers[i]) > 300 {
				g.customers[i] = g.customers[i][1:]
			}
		}
		ev := g.access(e, i, t, session, ip, m.Resource, m.Action, subjectsOf(p, m.Types), m.Categories, m.Types, custos.Purpose{Name: m.Purpose, Ticket: ref}, 1)
		if g.Org.Kind == Telecom && e.Role == "store_staff" && fresh && g.regs[p.ID] < 2 && r.Float64() < 0.2 {
			g.regs[p.ID]++
			// Register a new number for the customer.
			ev = g.access(e, i, t, session, ip, custos.Resource{System: "crm", Object: "sim_registration"}, custos.ActionCreate,
				[]custos.Subject{{Type: custos.TypeCNID, Value: p.ID}, {Type: custos.TypeCNMobile, Value: RandomMobile(r)}},
				[]string{custos.CategoryIdentity, custos.CategoryContact}, []string{custos.TypeCNID, custos.TypeCNMobile}, custos.Purpose{Name: "registration", Ticket: ref}, 1)
		}
		add(Event{Time: t, Access: ev})
	}
	// Supervisors export a weekly report in the afternoon.
	if e.Role == "supervisor" && midnight.Weekday() == time.Wednesday {
		t := midnight.Add(time.Duration(startHour+5)*time.Hour + time.Duration(r.IntN(60))*time.Minute)
		ev := g.access(e, i, t, session, ip, custos.Resource{System: m.Resource.System, Object: "report"}, custos.ActionExport, nil, m.Categories, m.Types, custos.Purpose{Name: "weekly_report"}, int64(100+r.IntN(500)))
		add(Event{Time: t, Access: ev})
	}
}

func subjectsOf(p Person, types []string) []custos.Subject {
	out := make([]custos.Subject, 0, len(types))
	for _, t := range types {
		switch t {
		case custos.TypeCNID:
			out = append(out, custos.Subject{Type: t, Value: p.ID})
		case custos.TypeCNMobile:
			out = append(out, custos.Subject{Type: t, Value: p.Mobile})
		}
	}
	return out
}

func (g *Generator) access(e *Employee, i int, t time.Time, session, ip string, res custos.Resource, act custos.Action, subjects []custos.Subject, cats, types []string, purpose custos.Purpose, records int64) *custos.AccessEvent {
	return &custos.AccessEvent{
		ID:         g.nextID("a"),
		Time:       t.UTC(),
		Actor:      custos.Actor{ID: e.ID, Roles: []string{e.Role}, OrgUnit: e.OrgUnit},
		Source:     custos.Source{IP: ip, Device: e.Device, Session: session},
		Channel:    custos.ChannelHTTP,
		Action:     act,
		Resource:   res,
		Purpose:    purpose,
		Subjects:   subjects,
		DataTypes:  types,
		Categories: cats,
		Records:    records,
		Decision:   custos.DecisionAllow,
		Outcome:    custos.OutcomeSuccess,
	}
}

func (g *Generator) login(e *Employee, t time.Time, ip string, out custos.Outcome, reason string) *custos.LoginEvent {
	pw := e.Password
	if out == custos.OutcomeFailure {
		pw += "x"
	}
	return &custos.LoginEvent{
		ID:                    g.nextID("l"),
		Time:                  t.UTC(),
		Account:               e.ID,
		Source:                custos.Source{IP: ip, Device: e.Device, Session: fmt.Sprintf("s-%s-%d", e.ID, int(t.Sub(g.Start)/(24*time.Hour)))},
		System:                string(g.Org.Kind) + "-sso",
		Method:                "password",
		Outcome:               out,
		Reason:                reason,
		CredentialFingerprint: PasswordFingerprint(pw),
	}
}

// PasswordFingerprint is the upper-case hex SHA-1 of a password, the form
// the public breached-password range files use.
func PasswordFingerprint(pw string) string {
	sum := sha1.Sum([]byte(pw))
	return fmt.Sprintf("%X", sum[:])
}
