package policy

import (
	"slices"
	"sync/atomic"

	"cel.dev/cel-go/common/types"

	"github.com/custos-dev/custos"
)

// features are the request's index keys, computed once per decision.
type features struct {
	typeBits, catBits uint64
	action, channel   uint64
}

// typeBits maps each data type to its bit and its default category's bit.
var typeBits = func() map[string][2]uint64 {
	m := make(map[string][2]uint64, len(custos.DataTypes))
	for _, t := range custos.DataTypes {
		m[t] = [2]uint64{typeBit(t), catBit(custos.CategoryOf(t))}
	}
	return m
}()

var catBits = func() map[string]uint64 {
	m := make(map[string]uint64, len(custos.Categories))
	for _, c := range custos.Categories {
		m[c] = catBit(c)
	}
	return m
}()

func featuresOf(r *Request) features {
	f := features{action: actionBit(r.Action), channel: channelBit(r.Channel)}
	for _, t := range r.DataTypes {
		if b, ok := typeBits[t]; ok {
			f.typeBits |= b[0]
			f.catBits |= b[1]
		} else {
			f.typeBits |= 1 << 63
		}
	}
	for _, c := range r.Categories {
		if b, ok := catBits[c]; ok {
			f.catBits |= b
		} else {
			f.catBits |= 1 << 63
		}
	}
	return f
}

func (r *rule) matches(req *Request, f *features) bool {
	if r.actions != 0 && r.actions&f.action == 0 ||
		r.channels != 0 && r.channels&f.channel == 0 ||
		r.typeBits != 0 && r.typeBits&f.typeBits == 0 ||
		r.catBits != 0 && r.catBits&f.catBits == 0 {
		return false
	}
	if len(r.objects) > 0 && !matchObject(r.objects, req.Resource) {
		return false
	}
	if len(r.roles) > 0 && !anyIn(r.roles, req.Actor.Roles) {
		return false
	}
	if len(r.orgUnits) > 0 && !slices.Contains(r.orgUnits, req.Actor.OrgUnit) {
		return false
	}
	if len(r.purposes) > 0 && !slices.Contains(r.purposes, req.Purpose.Name) {
		return false
	}
	return true
}

// matchObject matches the resource's object or route against patterns; a
// pattern ending in * matches by prefix.
func matchObject(patterns []string, res custos.Resource) bool {
	for _, p := range patterns {
		for _, o := range [2]string{res.Object, res.Route} {
			if o == "" {
				continue
			}
			if n := len(p) - 1; n >= 0 && p[n] == '*' {
				if len(o) >= n && o[:n] == p[:n] {
					return true
				}
			} else if o == p {
				return true
			}
		}
	}
	return false
}

func anyIn(want, have []string) bool {
	for _, h := range have {
		if slices.Contains(want, h) {
			return true
		}
	}
	return false
}

// exceedsEstimate reports whether r is larger than the inputs the
// load-time cost estimate assumed (celSizes).
func exceedsEstimate(r *Request) bool {
	if len(r.Subjects) > maxSubjects || len(r.DataTypes) > maxSmallList || len(r.Categories) > maxSmallList ||
		len(r.Actor.Roles) > maxSmallList || len(r.Actor.Attributes) > maxSmallList {
		return true
	}
	for _, s := range []string{r.Actor.ID, r.Actor.OrgUnit, r.Resource.System, r.Resource.Object, r.Resource.Route,
		r.Purpose.Name, r.Purpose.Ticket, r.Source.IP, r.Source.Device, r.Source.Session} {
		if len(s) > maxString {
			return true
		}
	}
	for _, s := range r.Subjects {
		if len(s) > maxString {
			return true
		}
	}
	return false
}

// Decide evaluates the rules for r. It does not apply quotas, watchlists
// or honeytokens; Engine.Decide does.
//
// A condition that fails to evaluate (a missing attribute, say) fails
// closed: it counts as matching for deny and approval rules and as not
// matching for the others.
func (p *Policy) Decide(r *Request) Decision {
	f := featuresOf(r)
	rules, ok := p.bySystem[r.Resource.System]
	if !ok {
		rules = p.anySys
	}
	// Within the sizes celSizes assumes, a loaded condition's cost is
	// bounded by MaxCost already; beyond them, count it as it runs.
	oversized := exceedsEstimate(r)
	var act *activation
	defer func() {
		if act != nil {
			*act = activation{}
			activations.Put(act)
		}
	}()
	var limit int64
	var limits uint64 // bits of the limit rules that applied, by index
	for i, ru := range rules {
		if !ru.matches(r, &f) {
			continue
		}
		if ru.native != nil {
			if !ru.native(r) {
				continue
			}
		} else if ru.prg != nil {
			if act == nil {
				act = activations.Get().(*activation)
				act.r, act.loc = r, p.loc
			}
			prg := ru.prg
			if oversized {
				prg = ru.limited
			}
			out, _, err := prg.Eval(act)
			if err != nil {
				if ru.effect != custos.DecisionDeny && ru.effect != custos.DecisionApprovalRequired {
					continue
				}
			} else if out != types.True {
				continue
			}
		}
		if ru.effect == DecisionLimit {
			if limit == 0 || ru.limit < limit {
				limit = ru.limit
			}
			if i < 64 {
				limits |= 1 << uint(i)
			} else {
				// Past 64 candidates the bit set cannot say which limit
				// rules applied; name them all rather than drop one.
				limits |= 1 << 63
			}
			continue
		}
		d := Decision{Effect: ru.effect, Mask: ru.mask, Rules: ru.ids, Reason: ru.reason}
		if limits != 0 {
			d.Rules = p.ruleList(rules, limits, ru.ids, &ru.lastCombo)
			d.Limit = limit
		}
		return d
	}
	d, cat := p.defaultDecision(&f)
	if limits != 0 {
		d.Rules = p.ruleList(rules, limits, d.Rules, &p.defaultCombos[cat])
		d.Limit = limit
	}
	return d
}

// ruleList returns the ids of the limit rules in limits (bits into rules)
// followed by tail. The few combinations a policy produces are built once
// and shared, so that a decision allocates nothing for its explanation.
func (p *Policy) ruleList(rules []*rule, limits uint64, tail []string, last *atomic.Pointer[combo]) []string {
	type key struct {
		list   **rule // the candidate list's backing array: one per system
		limits uint64
		tail   *string
	}
	k := key{&rules[0], limits, &tail[0]}
	// One-entry cache per deciding rule in front of the map: a rule's
	// requests mostly meet the same limits.
	if c := last.Load(); c != nil && c.list == k.list && c.limits == limits && c.tail == k.tail {
		return c.ids
	}
	if v, ok := p.combos.Load(k); ok {
		last.Store(&combo{k.list, limits, k.tail, v.([]string)})
		return v.([]string)
	}
	var ids []string
	for i, ru := range rules {
		bit := uint64(1) << uint(min(i, 63))
		if limits&bit != 0 && (i < 63 || rules[i].effect == DecisionLimit) {
			ids = append(ids, ru.id)
		}
	}
	ids = append(ids, tail...)
	v, _ := p.combos.LoadOrStore(k, ids)
	last.Store(&combo{k.list, limits, k.tail, v.([]string)})
	return v.([]string)
}

type combo struct {
	list   **rule
	limits uint64
	tail   *string
	ids    []string
}

// defaultDecision applies the per-category defaults: the strictest effect
// over the request's categories, named after the category that set it.
// The second result indexes the category that decided (64 for
// unclassified).
func (p *Policy) defaultDecision(f *features) (Decision, int) {
	if f.catBits == 0 {
		if f.typeBits == 0 {
			return Decision{Effect: p.defaults.unclassified, Rules: unclassifiedIDs}, 64
		}
		// Types outside the vocabulary with no category: treat as other
		// personal data.
		return Decision{Effect: p.defaults.catEffect[63], Mask: p.defaults.mask, Rules: p.defaults.catIDs[63]}, 63
	}
	best := -1
	for i := 0; i < 64; i++ {
		if f.catBits&(1<<uint(i)) == 0 {
			continue
		}
		if best < 0 || strictness(p.defaults.catEffect[i]) > strictness(p.defaults.catEffect[best]) {
			best = i
		}
	}
	return Decision{Effect: p.defaults.catEffect[best], Mask: p.defaults.mask, Rules: p.defaults.catIDs[best]}, best
}

var unclassifiedIDs = []string{"default:unclassified"}
