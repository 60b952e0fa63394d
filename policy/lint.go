package policy

import (
	"slices"
	"sort"

	"github.com/custos-dev/custos"
)

// Lint compiles a policy and returns every problem found: the errors that
// stop it from loading and the warnings about rules that can never apply
// (shadowed by an earlier rule) or that overlap an earlier rule with a
// different decision, so that only their order decides. Problems are
// sorted by position.
func Lint(name string, data []byte, opts Options) []Problem {
	_, problems := compile(name, data, opts)
	sort.SliceStable(problems, func(i, j int) bool {
		a, b := problems[i].Pos, problems[j].Pos
		return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
	})
	return problems
}

// lint adds the warnings about rule order to c.
func lint(p *Policy, c *compiler) {
	unreachable := map[*rule]bool{}
	for j, b := range p.rules {
		if b.constWhen != nil && !*b.constWhen {
			c.warnf(b.whenPos, b.id, "condition is always false: the rule never applies")
			unreachable[b] = true
			continue
		}
		conflict := false
		for _, a := range p.rules[:j] {
			if a.effect == DecisionLimit || unreachable[a] {
				continue
			}
			if a.covers(b) && (a.unconditional() || a.when == b.when) {
				c.warnf(b.pos, b.id, "unreachable: every request it matches is decided first by rule %s (line %d)", a.id, a.pos.Line)
				unreachable[b] = true
				break
			}
			// An earlier exception inside a later general rule is the
			// usual pattern; only overlaps where neither rule contains
			// the other leave the outcome to order alone.
			if !conflict && b.effect != DecisionLimit && a.effect != b.effect && a.unconditional() && b.unconditional() &&
				a.overlaps(b) && !b.covers(a) {
				c.warnf(b.pos, b.id, "conflicts with rule %s (line %d): requests matching both get %s from %s, not %s", a.id, a.pos.Line, a.effect, a.id, b.effect)
				conflict = true
			}
		}
		if b.effect == custos.DecisionAllow && b.unconditional() && b.catBits == 0 && b.typeBits == 0 && len(b.objects) == 0 && len(b.systems) == 0 && len(b.roles) == 0 {
			c.warnf(b.pos, b.id, "allows every category on every system with no condition")
		}
	}
}

func (r *rule) unconditional() bool {
	return r.when == "" || r.constWhen != nil && *r.constWhen
}

// covers reports whether every request r2 matches also matches r (as far
// as the match sections tell).
func (r *rule) covers(r2 *rule) bool {
	return coversSet(r.systems, r2.systems) && coversObjects(r.objects, r2.objects) &&
		coversBits(r.channels, r2.channels) && coversBits(r.actions, r2.actions) &&
		coversSet(r.roles, r2.roles) && coversSet(r.orgUnits, r2.orgUnits) &&
		coversSet(r.purposes, r2.purposes) && coversBits(r.typeBits, r2.typeBits) &&
		coversBits(r.catBits, r2.catBits)
}

// overlaps reports whether some request could match both rules.
func (r *rule) overlaps(r2 *rule) bool {
	return overlapSet(r.systems, r2.systems) && overlapObjects(r.objects, r2.objects) &&
		overlapBits(r.channels, r2.channels) && overlapBits(r.actions, r2.actions) &&
		overlapSet(r.roles, r2.roles) && overlapSet(r.orgUnits, r2.orgUnits) &&
		overlapSet(r.purposes, r2.purposes)
	// Types and categories are "any of", and a request can carry several:
	// two rules on different categories still overlap on a request with
	// both, so they do not narrow the overlap.
}

func coversSet(a, b []string) bool {
	if len(a) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

func coversBits(a, b uint64) bool { return a == 0 || b != 0 && b&^a == 0 }

func coversObjects(a, b []string) bool {
	if len(a) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	for _, x := range b {
		// A prefix pattern in b is covered by the same pattern or a
		// shorter prefix in a, which is what matching it as an object does.
		if !matchObject(a, custos.Resource{Object: x}) {
			return false
		}
	}
	return true
}

func overlapSet(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range b {
		if slices.Contains(a, x) {
			return true
		}
	}
	return false
}

func overlapBits(a, b uint64) bool { return a == 0 || b == 0 || a&b != 0 }

func overlapObjects(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range b {
		if matchObject(a, custos.Resource{Object: x}) {
			return true
		}
	}
	for _, x := range a {
		if matchObject(b, custos.Resource{Object: x}) {
			return true
		}
	}
	return false
}
