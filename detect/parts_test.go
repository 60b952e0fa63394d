package detect_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/detect"
)

// part is the cluster's partition function (bus/nats.Partition).
func part(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// docReuse appends registrations of one identity document by four agents
// in different actor partitions (each alone registers it at most twice),
// so that only an engine that sees the document's registrations across
// agents raises id_document_reuse.
func docReuse(t *testing.T, evs []detect.Event, n int) []detect.Event {
	t.Helper()
	var agents []string
	used := map[int]bool{}
	var at time.Time
	for _, ev := range evs {
		if ev.Access == nil {
			continue
		}
		at = ev.Access.Time
		if p := part(ev.Access.Actor.ID, n); !used[p] && len(agents) < 3 {
			used[p] = true
			agents = append(agents, ev.Access.Actor.ID)
		}
	}
	if len(agents) < 3 {
		t.Fatalf("need three agents in different partitions, have %v", agents)
	}
	doc := custos.Subject{Type: custos.TypeCNID, Hash: "5f0c4b2e9a7d6c1b3e8f0a2d4c6b8e1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b", Masked: "11**************02"}
	at = at.Add(time.Hour)
	for k, who := range []string{agents[0], agents[1], agents[2], agents[0], agents[1]} {
		ev := &custos.AccessEvent{ID: fmt.Sprintf("reg-%d", k), Time: at.Add(time.Duration(k) * 7 * time.Minute),
			Actor: custos.Actor{ID: who, Roles: []string{"store_staff"}}, Source: custos.Source{IP: "10.9.0." + fmt.Sprint(k+1)},
			Channel: custos.ChannelHTTP, Action: custos.ActionCreate, Resource: custos.Resource{System: "crm", Object: "sim_registration"},
			Subjects: []custos.Subject{doc}, Categories: []string{custos.CategoryIdentity}, Records: 1}
		evs = append(evs, detect.Event{Access: ev})
	}
	return evs
}

// TestPartsEqualWhole: engines of PartActor fed by actor (logins by
// account) and engines of PartCross fed by source address and by
// registration document give, together, the alerts of one engine over
// every event: the cluster's routing is exact for these rules.
func TestPartsEqualWhole(t *testing.T) {
	evs, cfg := sealedStream(t, 20, 12)
	const n = 4
	evs = docReuse(t, evs, n)
	ctx := context.Background()

	whole := detect.New(cfg)
	var want []detect.Alert
	actorEng := make([]*detect.Engine, n)
	crossEng := make([]*detect.Engine, n)
	for p := range n {
		ac := cfg
		ac.Part = detect.PartActor
		actorEng[p] = detect.New(ac)
		cc := cfg
		cc.Part = detect.PartCross
		cc.OwnsSource = func(ip string) bool { return part(ip, n) == p }
		cc.OwnsDocument = func(h string) bool { return part(h, n) == p }
		crossEng[p] = detect.New(cc)
	}
	var got []detect.Alert
	for _, ev := range evs {
		want = append(want, whole.Process(ctx, ev)...)
		// Each engine gets its own copy, as each detector decodes its own.
		key, cross := "", map[int]bool{}
		if ev.Access != nil {
			key = ev.Access.Actor.ID
			if ip := ev.Access.Source.IP; ip != "" {
				cross[part(ip, n)] = true
			}
			if d, ok := detect.RegistrationDocument(ev.Access); ok {
				cross[part(d.Hash, n)] = true
			}
		} else {
			key = ev.Login.Account
			if ip := ev.Login.Source.IP; ip != "" {
				cross[part(ip, n)] = true
			}
		}
		got = append(got, actorEng[part(key, n)].Process(ctx, cp(ev))...)
		for p := range cross {
			got = append(got, crossEng[p].Process(ctx, cp(ev))...)
		}
	}
	w, g := final(want), final(got)
	rules := map[string]int{}
	for _, a := range w {
		rules[a.Rule]++
	}
	for _, r := range []string{detect.RuleStuffingSource, detect.RuleSuccessAfterStuff, detect.RuleDocumentReuse, detect.RuleMachineCadence} {
		if rules[r] == 0 {
			t.Fatalf("the whole engine raised no %s (%v): the comparison would prove little", r, rules)
		}
	}
	for id, a := range w {
		b, ok := g[id]
		if !ok {
			t.Errorf("alert %s (%s) missing from the parts", id, a.Rule)
			continue
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("alert %s (%s) differs:\n parts %+v\n whole %+v", id, a.Rule, b, a)
		}
	}
	for id, b := range g {
		if _, ok := w[id]; !ok {
			t.Errorf("parts raised %s (%s) the whole engine did not", id, b.Rule)
		}
	}
	t.Logf("%d alerts, by rule %v", len(w), rules)
}

func cp(ev detect.Event) detect.Event {
	if ev.Access != nil {
		a := *ev.Access
		a.Subjects = slices.Clone(a.Subjects)
		return detect.Event{Access: &a}
	}
	l := *ev.Login
	return detect.Event{Login: &l}
}
