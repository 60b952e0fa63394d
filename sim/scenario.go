package sim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/custos-dev/custos"
)

// Scenario is an organization, a period and something injected into it:
// an insider or attacker (Malicious) or a benign surprise that a detector
// should not alert on. Truth is filled in while generating.
type Scenario struct {
	Name        string
	Description string
	Kind        Kind
	Seed        uint64
	Employees   int
	Days        int
	Malicious   bool
	// Catches lists the rules expected to fire (documentation, not a
	// requirement: any alert on the culprit counts).
	Catches []string
	Truth   Truth

	setup  func(sc *Scenario, g *Generator)
	inject func(sc *Scenario, g *Generator, day int, midnight time.Time, add func(Event))
	// Combo is the leaked combo list of a stuffing scenario: passwords a
	// breached-password store would know (synthetic).
	Combo []string
}

// Truth is who did it and when it started.
type Truth struct {
	Actor    string    // employee account used, "" if none
	SourceIP string    // attacker's address, "" if an inside job
	Start    time.Time // first injected event
	End      time.Time // last injected event
}

func (t *Truth) saw(ts time.Time) {
	if t.Start.IsZero() || ts.Before(t.Start) {
		t.Start = ts
	}
	if ts.After(t.End) {
		t.End = ts
	}
}

// Org builds the scenario's organization.
func (sc *Scenario) Org() *Org {
	return NewOrg(Config{Kind: sc.Kind, Seed: sc.Seed, Employees: sc.Employees})
}

// SuiteStart is the first day of every suite scenario (a Monday).
var SuiteStart = time.Date(2026, 3, 2, 0, 0, 0, 0, Zone)

// Suite returns the scenario suite that `custos eval` runs. The seeds are
// part of the suite: changing one changes the published results.
// employees and days scale every scenario (0 means 60 employees, 30 days);
// attacks happen in the last third of the period so baselines exist.
func Suite(employees, days int) []*Scenario {
	if employees <= 0 {
		employees = 60
	}
	if days <= 0 {
		days = 30
	}
	late := days * 2 / 3
	mk := func(name, desc string, kind Kind, seed uint64, mal bool, catches []string) *Scenario {
		return &Scenario{Name: name, Description: desc, Kind: kind, Seed: seed, Employees: employees, Days: days, Malicious: mal, Catches: catches}
	}
	var out []*Scenario

	sc := mk("celebrity_lookup", "An airline agent opens the records of celebrities who have no booking with them.", Airline, 101, true, []string{"watchlist", "no_relationship"})
	sc.inject = func(sc *Scenario, g *Generator, d int, mid time.Time, add func(Event)) {
		if d != late+1 {
			return
		}
		i := g.pickWorking(d, "agent", 0)
		e := &g.Org.Employees[i]
		sc.Truth.Actor = e.ID
		_, h := g.Working(i, d)
		celebs := 0
		for k, p := range g.Org.People {
			if !p.Celebrity || celebs == 4 {
				continue
			}
			celebs++
			t := mid.Add(time.Duration(h+3)*time.Hour + time.Duration(k*7)*time.Minute)
			sc.Truth.saw(t)
			add(Event{Time: t, Access: g.access(e, i, t, fmt.Sprintf("s-%s-%d", e.ID, d), officeIP(e, i), custos.Resource{System: "reservations", Object: "passenger"}, custos.ActionRead, subjectsOf(p, []string{custos.TypeCNID, custos.TypeCNMobile}), []string{custos.CategoryIdentity, custos.CategoryWhereabouts}, []string{custos.TypeCNID, custos.TypeCNMobile}, custos.Purpose{Name: "booking"}, 1)})
		}
	}
	out = append(out, sc)

	sc = mk("proxy_lookup", "A call-center agent looks up people for an outsider: a handful of unrelated passengers a day among normal calls.", Airline, 102, true, []string{"no_relationship"})
	sc.inject = func(sc *Scenario, g *Generator, d int, mid time.Time, add func(Event)) {
		if d < late || d > late+1 {
			return
		}
		i := g.pickWorking(late, "call_center", 1)
		g.unrelatedLookups(sc, i, d, mid, 6, add)
	}
	out = append(out, sc)

	sc = mk("slow_exfiltration", "An agent takes 25 extra passengers a day for ten days, far below bulk thresholds.", Airline, 103, true, []string{"no_relationship"})
	sc.inject = func(sc *Scenario, g *Generator, d int, mid time.Time, add func(Event)) {
		from := max(late-8, 0)
		if d < from {
			return
		}
		i := g.pickWorking(from, "agent", 2)
		g.unrelatedLookups(sc, i, d, mid, 25, add)
	}
	out = append(out, sc)

	sc = mk("planted_crawler", "A crawler planted under a ground-staff session walks the passenger table every two seconds.", Airline, 104, true, []string{"machine_cadence", "enumeration"})
	sc.inject = func(sc *Scenario, g *Generator, d int, mid time.Time, add func(Event)) {
		if d != late+2 {
			return
		}
		i := g.pickWorking(d, "ground_staff", 0)
		e := &g.Org.Employees[i]
		sc.Truth.Actor = e.ID
		_, h := g.Working(i, d)
		t := mid.Add(time.Duration(h+2)*time.Hour + 17*time.Minute)
		r := rand.New(rand.NewPCG(sc.Seed, uint64(d)))
		for k := 0; k < 3000 && k < len(g.Org.People); k++ {
			p := g.Org.People[(k*7+3)%len(g.Org.People)]
			sc.Truth.saw(t)
			add(Event{Time: t, Access: g.access(e, i, t, fmt.Sprintf("s-%s-%d", e.ID, d), officeIP(e, i), custos.Resource{System: "departure", Object: "passenger"}, custos.ActionRead, subjectsOf(p, []string{custos.TypeCNID}), []string{custos.CategoryIdentity, custos.CategoryWhereabouts}, []string{custos.TypeCNID}, custos.Purpose{Name: "check_in"}, 1)})
			t = t.Add(2*time.Second + time.Duration(r.IntN(200))*time.Millisecond)
		}
	}
	out = append(out, sc)

	sc = mk("export_before_resignation", "A supervisor on notice exports tens of thousands of rows in the evening.", Airline, 105, true, []string{"export_volume", "export_after_hours"})
	sc.inject = func(sc *Scenario, g *Generator, d int, mid time.Time, add func(Event)) {
		if d != late+3 {
			return
		}
		i := g.pickWorking(d, "supervisor", 0)
		e := &g.Org.Employees[i]
		sc.Truth.Actor = e.ID
		for k, rows := range []int64{20000, 8000} {
			t := mid.Add(21*time.Hour + time.Duration(40+k*30)*time.Minute)
			sc.Truth.saw(t)
			ev := g.access(e, i, t, fmt.Sprintf("s-%s-%d-late", e.ID, d), officeIP(e, i), custos.Resource{System: "reservations", Object: "report"}, custos.ActionExport, nil, []string{custos.CategoryIdentity, custos.CategoryWhereabouts, custos.CategoryContact}, []string{custos.TypeCNID, custos.TypeCNMobile}, custos.Purpose{Name: "weekly_report"}, rows)
			ev.Actor.Attributes = map[string]string{"leaving": "true"}
			add(Event{Time: t, Access: ev})
		}
	}
	out = append(out, sc)

	sc = mk("credential_stuffing", "At night an outside address tries a leaked combo list against the credit system, gets in with reused passwords and pulls credit reports.", Bank, 106, true, []string{"stuffing_source", "success_after_stuffing", "breached_password", "post_login_velocity"})
	sc.setup = func(sc *Scenario, g *Generator) {
		// Three staff reuse a password that leaked elsewhere.
		for k := 0; k < 3 && k*5+1 < len(g.Org.Employees); k++ {
			sc.Combo = append(sc.Combo, g.Org.Employees[k*5+1].Password)
		}
	}
	sc.inject = func(sc *Scenario, g *Generator, d int, mid time.Time, add func(Event)) {
		if d != late+1 {
			return
		}
		ip := externalIP(0, 7)
		sc.Truth.SourceIP = ip
		r := rand.New(rand.NewPCG(sc.Seed, 9))
		t := mid.Add(2*time.Hour + 10*time.Minute)
		victims := map[int]bool{1: true, 6: true, 11: true}
		var first string
		for k := 0; k < 400; k++ {
			acct := fmt.Sprintf("u%05d", r.IntN(100000))
			out, pw := custos.OutcomeFailure, fmt.Sprintf("leaked-%d", k)
			if k%10 == 3 && k/10 < len(g.Org.Employees) {
				e := &g.Org.Employees[k/10]
				acct = e.ID
				if victims[k/10] {
					out, pw = custos.OutcomeSuccess, e.Password
					if first == "" {
						first = e.ID
					}
				}
			}
			sc.Truth.saw(t)
			reason := ""
			if out == custos.OutcomeFailure {
				reason = "bad-credentials"
			}
			add(Event{Time: t, Login: &custos.LoginEvent{ID: g.nextID("l"), Time: t.UTC(), Account: acct, Source: custos.Source{IP: ip, UserAgent: "python-requests/2.31"}, System: "bank-sso", Method: "password", Outcome: out, Reason: reason, CredentialFingerprint: PasswordFingerprint(pw)}})
			t = t.Add(time.Duration(800+r.IntN(1400)) * time.Millisecond)
		}
		sc.Truth.Actor = first
		var vi int
		for i := range g.Org.Employees {
			if g.Org.Employees[i].ID == first {
				vi = i
			}
		}
		e := &g.Org.Employees[vi]
		t = t.Add(3 * time.Minute)
		for k := 0; k < 80; k++ {
			p := g.Org.ordinary(r)
			ev := g.access(e, vi, t, "s-stolen", ip, custos.Resource{System: "credit", Object: "credit_report"}, custos.ActionRead, subjectsOf(p, []string{custos.TypeCNID}), []string{custos.CategoryCredit, custos.CategoryIdentity}, []string{custos.TypeCNID}, custos.Purpose{Name: "loan_application"}, 1)
			ev.Source.Device = ""
			ev.Source.UserAgent = "python-requests/2.31"
			add(Event{Time: t, Access: ev})
			t = t.Add(time.Duration(5+r.IntN(20)) * time.Second)
		}
	}
	out = append(out, sc)

	sc = mk("id_document_abuse", "A telecom store clerk registers many numbers on a few customers' ID documents for a fraud ring.", Telecom, 107, true, []string{"id_document_reuse"})
	sc.inject = func(sc *Scenario, g *Generator, d int, mid time.Time, add func(Event)) {
		if d != late+1 {
			return
		}
		i := g.pickWorking(d, "store_staff", 0)
		e := &g.Org.Employees[i]
		sc.Truth.Actor = e.ID
		r := rand.New(rand.NewPCG(sc.Seed, 7))
		_, h := g.Working(i, d)
		t := mid.Add(time.Duration(h+4) * time.Hour)
		for doc := 0; doc < 3; doc++ {
			p := g.Org.ordinary(r)
			for k := 0; k < 4; k++ {
				sc.Truth.saw(t)
				add(Event{Time: t, Access: g.access(e, i, t, fmt.Sprintf("s-%s-%d", e.ID, d), officeIP(e, i), custos.Resource{System: "crm", Object: "sim_registration"}, custos.ActionCreate,
					[]custos.Subject{{Type: custos.TypeCNID, Value: p.ID}, {Type: custos.TypeCNMobile, Value: RandomMobile(r)}},
					[]string{custos.CategoryIdentity, custos.CategoryContact}, []string{custos.TypeCNID, custos.TypeCNMobile}, custos.Purpose{Name: "registration", Ticket: "walk-in"}, 1)})
				t = t.Add(time.Duration(4+r.IntN(8)) * time.Minute)
			}
		}
	}
	out = append(out, sc)

	sc = mk("new_hire", "Three people join mid-period with no history (benign).", Airline, 201, false, nil)
	sc.setup = func(sc *Scenario, g *Generator) {
		for k := 0; k < 3 && k*7 < len(g.Org.Employees); k++ {
			g.Org.Employees[k*7].Joined = late
		}
	}
	out = append(out, sc)

	sc = mk("legitimate_peak", "A holiday rush: everyone handles two and a half times the usual passengers for three days (benign).", Airline, 202, false, nil)
	sc.setup = func(sc *Scenario, g *Generator) {
		for d := late; d < late+3; d++ {
			g.peak[d] = 2.5
		}
	}
	out = append(out, sc)

	sc = mk("on_call_night", "A supervisor covers a week of night shifts, with tickets (benign).", Airline, 203, false, nil)
	sc.setup = func(sc *Scenario, g *Generator) {
		for i, e := range g.Org.Employees {
			if e.Role == "supervisor" {
				for d := late; d < late+7 && d < days; d++ {
					g.shift[[2]int{i, d}] = 22
				}
				break
			}
		}
	}
	out = append(out, sc)

	for _, k := range []Kind{Telecom, Bank, Courier, Exam} {
		out = append(out, mk("baseline_"+string(k), "Ordinary work at a "+string(k)+" (benign).", k, 300+uint64(len(out)), false, nil))
	}
	return out
}

// pickWorking returns the nth employee of role working on day d.
func (g *Generator) pickWorking(d int, role string, nth int) int {
	seen := 0
	for i, e := range g.Org.Employees {
		if e.Role != role {
			continue
		}
		if ok, _ := g.Working(i, d); ok {
			if seen == nth {
				return i
			}
			seen++
		}
	}
	return 0
}

// unrelatedLookups has employee i open n ordinary subjects with no
// relationship during their shift on day d (if they work that day).
func (g *Generator) unrelatedLookups(sc *Scenario, i, d int, mid time.Time, n int, add func(Event)) {
	works, h := g.Working(i, d)
	if !works {
		return
	}
	e := &g.Org.Employees[i]
	m := g.Org.roles[e.Role]
	sc.Truth.Actor = e.ID
	r := rand.New(rand.NewPCG(sc.Seed, uint64(d)))
	for k := 0; k < n; k++ {
		t := mid.Add(time.Duration(h)*time.Hour + 10*time.Minute + time.Duration(r.Int64N(int64(7*time.Hour))))
		p := g.Org.ordinary(r)
		sc.Truth.saw(t)
		add(Event{Time: t, Access: g.access(e, i, t, fmt.Sprintf("s-%s-%d", e.ID, d), officeIP(e, i), m.Resource, m.Action, subjectsOf(p, m.Types), m.Categories, m.Types, custos.Purpose{Name: m.Purpose}, 1)})
	}
}
