package policy

import (
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/mask"
)

// Request is what a gateway asks the policy about: who wants which data,
// from where, for what, and how much of it.
type Request struct {
	Time     time.Time       `json:"time" yaml:"time"`
	Actor    custos.Actor    `json:"actor" yaml:"actor"`
	Source   custos.Source   `json:"source,omitzero" yaml:"source,omitempty"`
	Channel  custos.Channel  `json:"channel,omitempty" yaml:"channel,omitempty"`
	Action   custos.Action   `json:"action" yaml:"action"`
	Resource custos.Resource `json:"resource" yaml:"resource"`
	Purpose  custos.Purpose  `json:"purpose,omitzero" yaml:"purpose,omitempty"`
	// DataTypes and Categories are what the response holds. When both are
	// empty the engine asks its catalogue; categories missing for a type
	// are filled from the type's default category.
	DataTypes  []string `json:"data_types,omitempty" yaml:"data_types,omitempty"`
	Categories []string `json:"categories,omitempty" yaml:"categories,omitempty"`
	// Subjects are the blind-index hashes of the data subjects touched.
	Subjects []string `json:"subjects,omitempty" yaml:"subjects,omitempty"`
	// Records is how many records (rows, list items) the response holds.
	Records int64 `json:"records,omitempty" yaml:"records,omitempty"`
}

// Decision is the policy's answer. Its slices and maps may be shared with
// the compiled policy: read them, never modify them.
type Decision struct {
	Effect custos.Decision `json:"decision"`
	// Mask is the transform per data type for a mask decision; types not
	// listed use Transform's fallback.
	Mask map[string]mask.Transform `json:"mask,omitempty"`
	// Limit caps the number of records returned (0: no cap).
	Limit int64 `json:"limit,omitempty"`
	// Rules are the ids of the rules that produced the decision, in the
	// order they applied: limit rules, then the deciding rule (or
	// "default:<category>", "quota:<id>", "watchlist", "honeytoken").
	Rules  []string `json:"rules"`
	Reason string   `json:"reason,omitempty"`
	// Alert asks detection to raise an alert for this access (watchlist).
	Alert bool `json:"alert,omitempty"`
	// Alarm marks access to a honeytoken subject: always an incident. The
	// effect is left as the rules decided so the insider is not tipped off.
	Alarm bool `json:"alarm,omitempty"`
}

// Transform returns the transform for a value of type t under this
// decision: none when allowed, the rule's choice or partial when masked,
// and redact for anything else (a denied response should not be sent at
// all; redact is the safe answer if it is).
func (d Decision) Transform(t string) mask.Transform {
	switch d.Effect {
	case custos.DecisionAllow:
		return mask.TransformNone
	case custos.DecisionMask:
		if tr, ok := d.Mask[t]; ok {
			return tr
		}
		return mask.TransformPartial
	}
	return mask.TransformRedact
}

// strictness orders effects for combining: the larger wins.
func strictness(e custos.Decision) int {
	switch e {
	case custos.DecisionAllow:
		return 1
	case custos.DecisionMask:
		return 2
	case custos.DecisionApprovalRequired:
		return 3
	case custos.DecisionDeny:
		return 4
	}
	return 5
}
