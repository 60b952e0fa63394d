package detect

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos"
)

// hashOf is a local stand-in for the blind index: HMAC-SHA256 under a
// test key, hex.
func hashOf(t, v string) string {
	m := hmac.New(sha256.New, []byte("detect-test-key"))
	m.Write([]byte(t + ":" + v))
	return hex.EncodeToString(m.Sum(nil))
}

func subj(v string) custos.Subject {
	return custos.Subject{Type: custos.TypeCNID, Hash: hashOf(custos.TypeCNID, v), Masked: v[:2] + "****"}
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type relSet map[string]bool

func (r relSet) Related(actor, _ string, hash string, _ time.Time) bool { return r[actor+"|"+hash] }

func access(id, actor string, at time.Time, act custos.Action, s ...custos.Subject) *custos.AccessEvent {
	return &custos.AccessEvent{ID: id, Time: at, Actor: custos.Actor{ID: actor, Roles: []string{"agent"}}, Source: custos.Source{IP: "10.1.0.5", Session: "s1"},
		Channel: custos.ChannelHTTP, Action: act, Resource: custos.Resource{System: "res", Object: "passenger"}, Subjects: s,
		Categories: []string{custos.CategoryIdentity}, Records: 1}
}

func login(id, acct, ip string, at time.Time, ok bool, fp string) *custos.LoginEvent {
	out := custos.OutcomeFailure
	if ok {
		out = custos.OutcomeSuccess
	}
	return &custos.LoginEvent{ID: id, Time: at, Account: acct, Source: custos.Source{IP: ip}, Outcome: out, CredentialFingerprint: fp}
}

func rulesOf(as []Alert) []string {
	var out []string
	for _, a := range as {
		if !slices.Contains(out, a.Rule) {
			out = append(out, a.Rule)
		}
	}
	slices.Sort(out)
	return out
}

func run(e *Engine, evs []Event) []Alert {
	var out []Alert
	for _, ev := range evs {
		out = append(out, e.Process(context.Background(), ev)...)
	}
	return out
}

// learnedAgent is ten weeks of ordinary days (09-17, 30 related
// subjects a day) for agent a1, which every rule test starts from.
func learnedAgent(rel relSet) []Event {
	var evs []Event
	n := 0
	for d := 0; d < 20; d++ {
		day := t0.AddDate(0, 0, d)
		evs = append(evs, Event{Login: login(fmt.Sprintf("l%d", d), "a1", "10.1.0.5", day.Add(-5*time.Minute), true, "")})
		for k := 0; k < 30; k++ {
			n++
			v := fmt.Sprintf("1101011980%08d", n)
			rel["a1|"+hashOf(custos.TypeCNID, v)] = true
			// Irregular human spacing: 7 to 23 minutes.
			at := day.Add(time.Duration(k*15+(k*k*7)%16-8) * time.Minute)
			evs = append(evs, Event{Access: access(fmt.Sprintf("a%d", n), "a1", at, custos.ActionRead, subj(v))})
		}
	}
	return evs
}

// sweep is n unrelated reads of consecutive resident ids (masked as the
// blind index masks them, first six and last four kept) taken in the
// order given by at, at a human pace of two to five minutes.
func sweep(start time.Time, n int, order func(k int) int) []Event {
	var evs []Event
	at := start
	for k := 0; k < n; k++ {
		v := fmt.Sprintf("44010619850101%03d%d", order(k), order(k)%10)
		s := subj(v)
		s.Masked = v[:6] + "********" + v[14:]
		evs = append(evs, Event{Access: access(fmt.Sprintf("w%d", k), "a1", at, custos.ActionRead, s)})
		at = at.Add(time.Duration(120+(k*k*53)%180) * time.Second)
	}
	return evs
}

func TestRules(t *testing.T) {
	day := t0.AddDate(0, 0, 20)
	tests := []struct {
		name string
		cfg  func(*Config)
		evs  func(rel relSet) []Event
		want []string
	}{
		{
			name: "ordinary day raises nothing",
			evs: func(rel relSet) []Event {
				return nil
			},
			want: nil,
		},
		{
			name: "honeytoken is critical at one",
			cfg:  func(c *Config) { c.Honeytokens = map[string]bool{hashOf(custos.TypeCNID, "110101199001010000"): true} },
			evs: func(rel relSet) []Event {
				return []Event{{Access: access("x1", "a1", day.Add(time.Hour), custos.ActionRead, subj("110101199001010000"))}}
			},
			want: []string{RuleHoneytoken},
		},
		{
			name: "watchlisted person without relationship",
			cfg:  func(c *Config) { c.Watchlist = map[string]bool{hashOf(custos.TypeCNID, "110101199001010001"): true} },
			evs: func(rel relSet) []Event {
				return []Event{{Access: access("x1", "a1", day.Add(time.Hour), custos.ActionRead, subj("110101199001010001"))}}
			},
			want: []string{RuleWatchlist},
		},
		{
			name: "watchlisted person with a booking is fine",
			cfg:  func(c *Config) { c.Watchlist = map[string]bool{hashOf(custos.TypeCNID, "110101199001010001"): true} },
			evs: func(rel relSet) []Event {
				rel["a1|"+hashOf(custos.TypeCNID, "110101199001010001")] = true
				return []Event{{Access: access("x1", "a1", day.Add(time.Hour), custos.ActionRead, subj("110101199001010001"))}}
			},
		},
		{
			name: "unrelated look-ups",
			evs: func(rel relSet) []Event {
				var evs []Event
				for k := 0; k < 6; k++ {
					evs = append(evs, Event{Access: access(fmt.Sprintf("x%d", k), "a1", day.Add(time.Duration(k)*20*time.Minute), custos.ActionRead, subj(fmt.Sprintf("3101011970%08d", k)))})
				}
				return evs
			},
			want: []string{RuleNoRelationship},
		},
		{
			name: "crawler cadence and enumeration",
			evs: func(rel relSet) []Event {
				var evs []Event
				for k := 0; k < 120; k++ {
					evs = append(evs, Event{Access: access(fmt.Sprintf("x%d", k), "a1", day.Add(time.Hour+time.Duration(k)*2*time.Second), custos.ActionRead, subj(fmt.Sprintf("4401031970%08d", k)))})
				}
				return evs
			},
			want: []string{RuleEnumeration, RuleMachineCadence, RuleNoRelationship, RuleEscalation},
		},
		{
			name: "slow sweep in key order",
			evs: func(rel relSet) []Event {
				return sweep(day.Add(time.Hour), 60, func(k int) int { return k })
			},
			want: []string{RuleEnumeration, RuleNoRelationship},
		},
		{
			name: "slow sweep in descending key order",
			evs: func(rel relSet) []Event {
				return sweep(day.Add(time.Hour), 60, func(k int) int { return 59 - k })
			},
			want: []string{RuleEnumeration, RuleNoRelationship},
		},
		{
			name: "the same look-ups in no order are not a sweep",
			evs: func(rel relSet) []Event {
				return sweep(day.Add(time.Hour), 60, func(k int) int { return k * 37 % 60 })
			},
			want: []string{RuleNoRelationship},
		},
		{
			name: "off-hours without a ticket",
			evs: func(rel relSet) []Event {
				var evs []Event
				for k := 0; k < 3; k++ {
					v := fmt.Sprintf("1101011981%08d", k)
					rel["a1|"+hashOf(custos.TypeCNID, v)] = true
					evs = append(evs, Event{Access: access(fmt.Sprintf("x%d", k), "a1", day.Add(-6*time.Hour+time.Duration(k)*time.Minute), custos.ActionRead, subj(v))})
				}
				return evs
			},
			want: []string{RuleOffHours},
		},
		{
			name: "big export in the evening",
			evs: func(rel relSet) []Event {
				ev := access("x1", "a1", day.Add(12*time.Hour), custos.ActionExport)
				ev.Records = 20000
				return []Event{{Access: ev}}
			},
			want: []string{RuleExportAfterHours, RuleExportVolume},
		},
		{
			name: "bulk query result in the evening",
			evs: func(rel relSet) []Event {
				// A SELECT through the database gateway returning 5,000
				// rows at 21:00.
				v := "110101198000000003"
				rel["a1|"+hashOf(custos.TypeCNID, v)] = true
				big := access("x1", "a1", day.Add(12*time.Hour), custos.ActionRead, subj(v))
				big.Records = 5000
				return []Event{{Access: big}}
			},
			want: []string{RuleExportAfterHours},
		},
		{
			name: "query result below the bulk size in the evening",
			evs: func(rel relSet) []Event {
				v := "110101198000000003"
				rel["a1|"+hashOf(custos.TypeCNID, v)] = true
				small := access("x2", "a1", day.Add(12*time.Hour), custos.ActionSearch, subj(v))
				small.Records = 999
				return []Event{{Access: small}}
			},
		},
		{
			name: "bulk query result in working hours",
			evs: func(rel relSet) []Event {
				v := "110101198000000003"
				rel["a1|"+hashOf(custos.TypeCNID, v)] = true
				big := access("x1", "a1", day.Add(2*time.Hour), custos.ActionRead, subj(v))
				big.Records = 5000
				return []Event{{Access: big}}
			},
		},
		{
			name: "one document, many registrations",
			evs: func(rel relSet) []Event {
				var evs []Event
				for k := 0; k < 4; k++ {
					ev := access(fmt.Sprintf("x%d", k), "a1", day.Add(time.Duration(k)*5*time.Minute), custos.ActionCreate, subj("110101199001010002"))
					ev.Resource.Object = "sim_registration"
					evs = append(evs, Event{Access: ev})
				}
				return evs
			},
			want: []string{RuleDocumentReuse},
		},
		{
			name: "session moves to a distant network",
			evs: func(rel relSet) []Event {
				v := "110101198000000001"
				rel["a1|"+hashOf(custos.TypeCNID, v)] = true
				a := access("x1", "a1", day.Add(time.Hour), custos.ActionRead, subj(v))
				b := access("x2", "a1", day.Add(time.Hour+time.Minute), custos.ActionRead, subj(v))
				b.Source.IP = "203.0.113.9"
				return []Event{{Access: a}, {Access: b}}
			},
			want: []string{RuleSessionSources},
		},
		{
			name: "stuffing, success after it, breached password, velocity",
			evs: func(rel relSet) []Event {
				var evs []Event
				at := day.Add(-7 * time.Hour)
				for k := 0; k < 30; k++ {
					evs = append(evs, Event{Login: login(fmt.Sprintf("s%d", k), fmt.Sprintf("u%d", k), "203.0.113.7", at, false, "")})
					at = at.Add(1500 * time.Millisecond)
				}
				evs = append(evs, Event{Login: login("s-ok", "a1", "203.0.113.7", at, true, strings.Repeat("AB", 20))})
				for k := 0; k < 25; k++ {
					at = at.Add(time.Duration(10+k%7*3) * time.Second)
					a := access(fmt.Sprintf("p%d", k), "a1", at, custos.ActionRead, subj(fmt.Sprintf("5101041975%08d", k)))
					a.Source = custos.Source{IP: "203.0.113.7", Session: "stolen"}
					a.Categories = []string{custos.CategoryCredit}
					evs = append(evs, Event{Access: a})
				}
				return evs
			},
			want: []string{RuleBreachedPassword, RuleEscalation, RuleNoRelationship, RuleFirstCategory, RuleOffHours, RuleVelocity, RuleStuffingSource, RuleSuccessAfterStuff},
		},
		{
			name: "impossible travel between logins",
			evs: func(rel relSet) []Event {
				return []Event{
					{Login: login("t1", "a1", "10.1.0.5", day.Add(-20*time.Minute), true, "")},
					{Login: login("t2", "a1", "203.0.113.50", day.Add(40*time.Minute), true, "")},
				}
			},
			want: []string{RuleImpossibleTravel},
		},
		{
			name: "dormant account opens sensitive data",
			evs: func(rel relSet) []Event {
				// a1 last worked on day 19; 31 days later.
				v := "110101198000000002"
				rel["a1|"+hashOf(custos.TypeCNID, v)] = true
				return []Event{{Access: access("x1", "a1", day.AddDate(0, 0, 30).Add(time.Hour), custos.ActionRead, subj(v))}}
			},
			want: []string{RuleDormant},
		},
		{
			name: "29 idle days are not dormant",
			evs: func(rel relSet) []Event {
				v := "110101198000000002"
				rel["a1|"+hashOf(custos.TypeCNID, v)] = true
				return []Event{{Access: access("x1", "a1", day.AddDate(0, 0, 28).Add(time.Hour), custos.ActionRead, subj(v))}}
			},
		},
		{
			name: "more record views in a minute than a person makes",
			evs: func(rel relSet) []Event {
				// 61 related records in 58 s at irregular gaps (no cadence).
				var evs []Event
				at := day.Add(time.Hour)
				for k := 0; k < 61; k++ {
					v := fmt.Sprintf("1101011982%08d", k)
					rel["a1|"+hashOf(custos.TypeCNID, v)] = true
					evs = append(evs, Event{Access: access(fmt.Sprintf("x%d", k), "a1", at, custos.ActionRead, subj(v))})
					at = at.Add(time.Duration(300+(k*k*37)%1300) * time.Millisecond)
				}
				if at.Sub(day.Add(time.Hour)) >= time.Minute {
					panic("rate case spans a minute")
				}
				return evs
			},
			want: []string{RuleRate},
		},
		{
			name: "registrations on many documents within an hour",
			evs: func(rel relSet) []Event {
				var evs []Event
				for k := 0; k < 7; k++ {
					ev := access(fmt.Sprintf("x%d", k), "a1", day.Add(time.Duration(k)*8*time.Minute), custos.ActionCreate, subj(fmt.Sprintf("1101011990010100%02d", 10+k)))
					ev.Resource.Object = "sim_registration"
					evs = append(evs, Event{Access: ev})
				}
				return evs
			},
			want: []string{RuleDocumentReuse},
		},
		{
			name: "a busy office address mistyping is not stuffing",
			evs: func(rel relSet) []Event {
				// 30 accounts fail once each among 300 successful logins
				// in ten minutes through one NAT address.
				var evs []Event
				at := day.Add(-10 * time.Minute)
				for k := 0; k < 330; k++ {
					ok := k%11 != 5
					evs = append(evs, Event{Login: login(fmt.Sprintf("n%d", k), fmt.Sprintf("staff%d", k), "10.1.0.1", at, ok, "")})
					at = at.Add(1800 * time.Millisecond)
				}
				return evs
			},
		},
		{
			name: "per-account failures from many sources",
			evs: func(rel relSet) []Event {
				var evs []Event
				for k := 0; k < 5; k++ {
					evs = append(evs, Event{Login: login(fmt.Sprintf("f%d", k), "a1", fmt.Sprintf("198.51.100.%d", k+1), day.Add(time.Duration(k)*time.Minute), false, "")})
				}
				return evs
			},
			want: []string{RuleStuffingAccount},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rel := relSet{}
			cfg := DefaultConfig()
			cfg.Relations = rel
			cfg.Networks = []Network{
				{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Name: "Beijing", Lat: 39.9, Lon: 116.4},
				{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Name: "Remote", Lat: 1.35, Lon: 103.8},
			}
			cfg.Breached = NewBreachedStore()
			if err := cfg.Breached.Add(strings.Repeat("AB", 20)); err != nil {
				t.Fatal(err)
			}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			e := New(cfg)
			if got := run(e, learnedAgent(rel)); len(got) != 0 {
				t.Fatalf("learning period raised %v", rulesOf(got))
			}
			got := rulesOf(run(e, tc.evs(rel)))
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("rules = %v, want %v", got, want)
			}
		})
	}
}

func TestAlertsGroupAndCarryNoRawValues(t *testing.T) {
	e := New(DefaultConfig())
	var evs []Event
	for k := 0; k < 500; k++ {
		a := access(fmt.Sprintf("x%d", k), "a1", t0.Add(time.Duration(k)*2*time.Second), custos.ActionRead, subj(fmt.Sprintf("4401031970%08d", k)))
		a.Subjects[0].Value = fmt.Sprintf("4401031970%08d", k) // must never surface
		evs = append(evs, Event{Access: a})
	}
	final := map[string]Alert{}
	for _, a := range run(e, evs) {
		final[a.ID] = a
	}
	perRule := map[string]int{}
	for _, a := range final {
		perRule[a.Rule]++
		b, _ := json.Marshal(a)
		if bytes.Contains(b, []byte("4401031970")) {
			t.Fatalf("alert carries a raw value: %s", b)
		}
		if len(a.Evidence) == 0 || len(a.Evidence) > MaxEvidence {
			t.Fatalf("alert %s has %d evidence ids", a.Rule, len(a.Evidence))
		}
	}
	for r, n := range perRule {
		if n != 1 {
			t.Fatalf("rule %s opened %d alerts for one incident", r, n)
		}
	}
	if perRule[RuleMachineCadence] != 1 {
		t.Fatalf("crawler not caught: %v", perRule)
	}
}

func TestRiskDecays(t *testing.T) {
	e := New(DefaultConfig())
	e.mu.Lock()
	r1 := e.addRisk("a1", RuleWatchlist, SeverityHigh, t0, "", "x")
	r2 := e.addRisk("a1", RuleHoneytoken, SeverityLow, t0.Add(48*time.Hour), "", "y")
	e.mu.Unlock()
	if r1 != 50 || r2 != 22.5 {
		t.Fatalf("risk %v then %v, want 50 then 50/4+10", r1, r2)
	}
}

// TestLaggingStreamKeepsState feeds a stuffing take-over with the login
// stream two days ahead of the access stream — what a consumer reading
// the two streams in batches sees during a backfill — and expects the
// alerts of the time-ordered feed: the take-over's incident must still be
// there when the accesses made with the stolen login arrive.
func TestLaggingStreamKeepsState(t *testing.T) {
	at := t0.AddDate(0, 0, 20).Add(-7 * time.Hour)
	// The access stream has started (the bus delivers a batch of each
	// stream in turn): until both have events the engine cannot tell a
	// lagging stream from one that is not used.
	v := "110101198000000004"
	rel := relSet{"a1|" + hashOf(custos.TypeCNID, v): true}
	accesses := []Event{{Access: access("early", "a1", at.Add(-time.Hour), custos.ActionRead, subj(v))}}
	var logins []Event
	for k := 0; k < 30; k++ {
		logins = append(logins, Event{Login: login(fmt.Sprintf("s%d", k), fmt.Sprintf("u%d", k), "203.0.113.7", at, false, "")})
		at = at.Add(1500 * time.Millisecond)
	}
	logins = append(logins, Event{Login: login("s-ok", "a1", "203.0.113.7", at, true, "")})
	for k := 0; k < 25; k++ {
		at = at.Add(time.Duration(10+k%7*3) * time.Second)
		a := access(fmt.Sprintf("p%d", k), "a1", at, custos.ActionRead, subj(fmt.Sprintf("5101041975%08d", k)))
		a.Source = custos.Source{IP: "203.0.113.7", Session: "stolen"}
		accesses = append(accesses, Event{Access: a})
	}
	// The office's ordinary logins over the next two days.
	for h := 1; h <= 48; h++ {
		logins = append(logins, Event{Login: login(fmt.Sprintf("o%d", h), fmt.Sprintf("staff%d", h%7), "10.1.0.9", at.Add(time.Duration(h)*time.Hour), true, "")})
	}
	ordered := byTime(append(slices.Clone(logins), accesses...))
	lagging := append(append(accesses[:1:1], logins...), accesses[1:]...)

	cfg := DefaultConfig()
	cfg.Relations = rel
	want := map[string]Alert{}
	for _, a := range run(New(cfg), ordered) {
		want[a.ID] = a
	}
	got := map[string]Alert{}
	for _, a := range run(New(cfg), lagging) {
		got[a.ID] = a
	}
	var take Alert
	for _, a := range want {
		if a.Rule == RuleSuccessAfterStuff {
			take = a
		}
	}
	// Updates are returned at powers of two: 16 of the 26 events.
	if take.Events != 16 {
		t.Fatalf("time order: take-over alert has %d events, want the login and the accesses attached", take.Events)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("logins two days ahead: %d alerts, take-over %+v; time order: %d alerts, take-over %+v", len(got), got[take.ID], len(want), take)
	}
}
