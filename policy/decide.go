package policy

import (
	"slices"

	"cel.dev/cel-go/common/types"

	"github.com/custos-dev/custos"
)

// features are the request's index keys, computed once per decision.
type features struct {
	typeBits, catBits uint64
	action, channel   uint64
}

func featuresOf(r *Request) features {
	f := features{action: actionBit(r.Action), channel: channelBit(r.Channel)}
	for _, t := range r.DataTypes {
		f.typeBits |= typeBit(t)
		if c := custos.CategoryOf(t); c != "" {
			f.catBits |= catBit(c)
		}
	}
	for _, c := range r.Categories {
		f.catBits |= catBit(c)
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
	var act *activation
	var limit int64
	var limitIDs []string
	for _, ru := range rules {
		if !ru.matches(r, &f) {
			continue
		}
		if ru.prg != nil {
			if act == nil {
				act = &activation{r: r, loc: p.loc}
			}
			out, _, err := ru.prg.Eval(act)
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
			limitIDs = append(limitIDs, ru.id)
			continue
		}
		d := Decision{Effect: ru.effect, Mask: ru.mask, Rules: ru.ids, Reason: ru.reason}
		if limitIDs != nil {
			d.Rules = append(limitIDs, ru.id)
			d.Limit = limit
		}
		return d
	}
	d := p.defaultDecision(&f)
	if limitIDs != nil {
		d.Rules = append(limitIDs, d.Rules...)
		d.Limit = limit
	}
	return d
}

// defaultDecision applies the per-category defaults: the strictest effect
// over the request's categories, named after the category that set it.
func (p *Policy) defaultDecision(f *features) Decision {
	if f.catBits == 0 {
		if f.typeBits == 0 {
			return Decision{Effect: p.defaults.unclassified, Rules: unclassifiedIDs}
		}
		// Types outside the vocabulary with no category: treat as other
		// personal data.
		return Decision{Effect: p.defaults.catEffect[63], Mask: p.defaults.mask, Rules: p.defaults.catIDs[63]}
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
	return Decision{Effect: p.defaults.catEffect[best], Mask: p.defaults.mask, Rules: p.defaults.catIDs[best]}
}

var unclassifiedIDs = []string{"default:unclassified"}
