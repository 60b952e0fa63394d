// Package policy decides, for every request a gateway sees, whether an
// employee may see the personal data it touches, and how: allow, mask
// (with a transform per data type), deny, or require approval, possibly
// with a limit on the number of records.
//
// A policy is a YAML file of ordered rules. Each rule narrows the requests
// it applies to with cheap equality matches (systems, objects, roles, data
// types, categories, actions …), which the engine indexes, and may add a CEL
// condition over the whole request (actor, resource, purpose and ticket,
// time, source, counts, and need-to-know relationships through
// has_relationship). The first matching rule decides; limit rules only add
// a record limit and let evaluation continue; when no rule matches, the
// defaults decide by category, denying PIPL sensitive categories unless the
// policy says otherwise. Every decision names the rules that produced it.
//
// CEL is compiled once when a policy loads; a policy with any error does
// not load at all, and a Holder keeps the last good policy active when a
// reload is rejected. See docs/policy.md for the language.
package policy
