package policy

import (
	"context"
)

// Classifier says which data types and categories a resource holds; the
// catalogue implements it (catalog.Catalog.Classify).
type Classifier interface {
	Classify(system, object string) (types, categories []string)
}

// Engine makes the full decision for a request: the policy's rules, then
// quotas, watchlists and honeytokens. Fields left nil are skipped.
type Engine struct {
	Policies *Holder
	// Catalog fills a request's data types and categories when the gateway
	// sent none.
	Catalog Classifier
}

// Decide returns the decision for r. It fills r.DataTypes and
// r.Categories from the catalogue when both are empty.
func (e *Engine) Decide(ctx context.Context, r *Request) Decision {
	if e.Catalog != nil && len(r.DataTypes) == 0 && len(r.Categories) == 0 {
		obj := r.Resource.Object
		if obj == "" {
			obj = r.Resource.Route
		}
		r.DataTypes, r.Categories = e.Catalog.Classify(r.Resource.System, obj)
	}
	return e.Policies.Policy().Decide(r)
}
