package policy

import (
	"reflect"
	"regexp"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/decls"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// RelationshipChecker answers need-to-know questions: does actor have a
// relationship of kind with the subject (a blind-index hash) right now.
// Implementations must be safe for concurrent use and fast: the policy
// calls it inline on every request whose rules ask.
type RelationshipChecker interface {
	HasRelationship(actor, subject, kind string) bool
}

// celVariables are the names a condition can use. Dotted names are
// declared as variables of their own so that the activation resolves each
// with one switch and no maps are built per request. `actor` alone is the
// actor id, so that has_relationship(actor, subject, "booking") reads as
// the sentence it is.
var celVariables = []cel.EnvOption{
	cel.Variable("actor", cel.StringType),
	cel.Variable("actor.id", cel.StringType),
	cel.Variable("actor.roles", cel.ListType(cel.StringType)),
	cel.Variable("actor.org_unit", cel.StringType),
	cel.Variable("actor.attributes", cel.MapType(cel.StringType, cel.StringType)),
	cel.Variable("resource.system", cel.StringType),
	cel.Variable("resource.object", cel.StringType),
	cel.Variable("resource.route", cel.StringType),
	cel.Variable("purpose.name", cel.StringType),
	cel.Variable("purpose.ticket", cel.StringType),
	cel.Variable("source.ip", cel.StringType),
	cel.Variable("source.device", cel.StringType),
	cel.Variable("source.session", cel.StringType),
	cel.Variable("action", cel.StringType),
	cel.Variable("channel", cel.StringType),
	cel.Variable("data_types", cel.ListType(cel.StringType)),
	cel.Variable("categories", cel.ListType(cel.StringType)),
	cel.Variable("subjects", cel.ListType(cel.StringType)),
	cel.Variable("subject", cel.StringType),
	cel.Variable("subject_count", cel.IntType),
	cel.Variable("records", cel.IntType),
	cel.Variable("time", cel.TimestampType),
	cel.Variable("hour", cel.IntType),
	cel.Variable("weekday", cel.IntType),
}

// newEnv builds the CEL environment with has_relationship bound to rel
// (nil: no relationship exists).
func newEnv(rel RelationshipChecker) (*cel.Env, error) {
	// Arguments are asserted to types.String rather than read through
	// Value(), which would box each string: this runs on the hot path.
	has := func(actor, subject, kind ref.Val) bool {
		if rel == nil {
			return false
		}
		a, _ := actor.(types.String)
		s, _ := subject.(types.String)
		k, _ := kind.(types.String)
		return s != "" && rel.HasRelationship(string(a), string(s), string(k))
	}
	opts := append([]cel.EnvOption{}, celVariables...)
	opts = append(opts, cel.Function("has_relationship",
		// The checker has proven the argument types; the run-time guard
		// would re-check every list element on every call.
		decls.DisableTypeGuards(true),
		cel.Overload("has_relationship_string_string_string",
			[]*cel.Type{cel.StringType, cel.StringType, cel.StringType}, cel.BoolType,
			cel.FunctionBinding(func(args ...ref.Val) ref.Val {
				return types.Bool(has(args[0], args[1], args[2]))
			})),
		// With a list of subjects: true only if every one is related, and
		// there is at least one.
		cel.Overload("has_relationship_string_list_string",
			[]*cel.Type{cel.StringType, cel.ListType(cel.StringType), cel.StringType}, cel.BoolType,
			cel.FunctionBinding(func(args ...ref.Val) ref.Val {
				if sl, ok := args[1].(*stringList); ok {
					// The request's own subjects: iterate the Go strings.
					if rel == nil || len(sl.elems) == 0 {
						return types.False
					}
					a, _ := args[0].(types.String)
					k, _ := args[2].(types.String)
					for _, s := range sl.elems {
						if s == "" || !rel.HasRelationship(string(a), s, string(k)) {
							return types.False
						}
					}
					return types.True
				}
				l, ok := args[1].(traits.Lister)
				if !ok {
					return types.False
				}
				n := l.Size().(types.Int)
				if n == 0 {
					return types.False
				}
				for i := types.Int(0); i < n; i++ {
					if !has(args[0], l.Get(i), args[2]) {
						return types.False
					}
				}
				return types.True
			})),
	))
	return cel.NewEnv(opts...)
}

// stringList is a CEL list of the request's strings that has_relationship
// reads as Go strings. The general CEL list behind it is built only when a
// condition uses it otherwise (size(), in, indexing), which the common
// has_relationship(actor, subjects, kind) never does.
type stringList struct {
	elems []string
	list  traits.Lister
}

func newStringList(elems []string) *stringList { return &stringList{elems: elems} }

func (l *stringList) inner() traits.Lister {
	if l.list == nil {
		l.list = types.NewStringList(types.DefaultTypeAdapter, l.elems)
	}
	return l.list
}

var _ traits.Lister = (*stringList)(nil)

func (l *stringList) ConvertToNative(t reflect.Type) (any, error) {
	return l.inner().ConvertToNative(t)
}
func (l *stringList) ConvertToType(t ref.Type) ref.Val { return l.inner().ConvertToType(t) }
func (l *stringList) Equal(other ref.Val) ref.Val      { return l.inner().Equal(other) }
func (l *stringList) Type() ref.Type                   { return types.ListType }
func (l *stringList) Value() any                       { return l.elems }
func (l *stringList) Add(other ref.Val) ref.Val        { return l.inner().Add(other) }
func (l *stringList) Contains(v ref.Val) ref.Val       { return l.inner().Contains(v) }
func (l *stringList) Get(i ref.Val) ref.Val            { return l.inner().Get(i) }
func (l *stringList) Iterator() traits.Iterator        { return l.inner().Iterator() }
func (l *stringList) Size() ref.Val                    { return types.Int(len(l.elems)) }

// activation resolves condition variables straight from the request,
// building each list at most once per decision. Activations are pooled.
type activation struct {
	r        *Request
	loc      *time.Location
	subjects *stringList
	roles    ref.Val
}

var activations = sync.Pool{New: func() any { return new(activation) }}

var _ interpreter.Activation = (*activation)(nil)

func (a *activation) Parent() interpreter.Activation { return nil }

func (a *activation) ResolveName(name string) (any, bool) {
	r := a.r
	switch name {
	case "actor", "actor.id":
		return types.String(r.Actor.ID), true
	case "actor.roles":
		if a.roles == nil {
			a.roles = types.NewStringList(types.DefaultTypeAdapter, r.Actor.Roles)
		}
		return a.roles, true
	case "actor.org_unit":
		return types.String(r.Actor.OrgUnit), true
	case "actor.attributes":
		m := r.Actor.Attributes
		if m == nil {
			m = map[string]string{}
		}
		return types.NewStringStringMap(types.DefaultTypeAdapter, m), true
	case "resource.system":
		return types.String(r.Resource.System), true
	case "resource.object":
		return types.String(r.Resource.Object), true
	case "resource.route":
		return types.String(r.Resource.Route), true
	case "purpose.name":
		return types.String(r.Purpose.Name), true
	case "purpose.ticket":
		return types.String(r.Purpose.Ticket), true
	case "source.ip":
		return types.String(r.Source.IP), true
	case "source.device":
		return types.String(r.Source.Device), true
	case "source.session":
		return types.String(r.Source.Session), true
	case "action":
		return types.String(r.Action), true
	case "channel":
		return types.String(r.Channel), true
	case "data_types":
		return types.NewStringList(types.DefaultTypeAdapter, r.DataTypes), true
	case "categories":
		return types.NewStringList(types.DefaultTypeAdapter, r.Categories), true
	case "subjects":
		if a.subjects == nil {
			a.subjects = newStringList(r.Subjects)
		}
		return a.subjects, true
	case "subject":
		if len(r.Subjects) == 0 {
			return types.String(""), true
		}
		return types.String(r.Subjects[0]), true
	case "subject_count":
		return types.Int(len(r.Subjects)), true
	case "records":
		return types.Int(r.Records), true
	case "time":
		return types.Timestamp{Time: r.Time}, true
	case "hour":
		return types.Int(r.Time.In(a.loc).Hour()), true
	case "weekday":
		return types.Int(r.Time.In(a.loc).Weekday()), true
	}
	return nil, false
}

// relationshipCall matches the commonest condition in need-to-know
// policies, has_relationship(actor, subjects, "kind"), written alone.
var relationshipCall = regexp.MustCompile(`^has_relationship\(\s*(actor|actor\.id)\s*,\s*(subjects|subject)\s*,\s*"([A-Za-z0-9_.:-]*)"\s*\)$`)

// nativeCondition returns a Go function equivalent to the CEL condition
// src for the forms it recognises, or nil. The CEL program is still
// compiled and checked; this only skips the interpreter on the hot path
// (TestNativeConditionMatchesCEL holds the two to the same answers).
func nativeCondition(src string, rel RelationshipChecker) func(*Request) bool {
	m := relationshipCall.FindStringSubmatch(src)
	if m == nil {
		return nil
	}
	kind, all := m[3], m[2] == "subjects"
	return func(r *Request) bool {
		if rel == nil || len(r.Subjects) == 0 {
			return false
		}
		if !all {
			return r.Subjects[0] != "" && rel.HasRelationship(r.Actor.ID, r.Subjects[0], kind)
		}
		for _, s := range r.Subjects {
			if s == "" || !rel.HasRelationship(r.Actor.ID, s, kind) {
				return false
			}
		}
		return true
	}
}

// MaxCost bounds what one condition may cost to evaluate, in CEL cost
// units (about one per operation, plus one per element a comprehension
// visits). A condition whose worst case exceeds it does not load; at run
// time evaluation stops at the limit, and a deny or approval rule whose
// condition was stopped applies (fail closed). The bound keeps a
// carelessly written policy — a nested comprehension over a
// 10,000-subject result — from turning every decision into a CPU sink.
const MaxCost = 1_000_000

// The input sizes the cost estimate assumes; a request beyond them is
// evaluated with run-time cost tracking instead.
const (
	maxSubjects  = 100_000 // a bulk result's distinct subjects
	maxSmallList = 64      // data types, categories, roles, attributes
	maxString    = 1024    // characters of one string input
)

// celSizes gives the largest size each variable-length input can have,
// so the worst case of a condition is known when the policy loads.
type celSizes struct{}

func (celSizes) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	path := n.Path()
	if len(path) == 0 {
		return nil
	}
	var max uint64
	switch path[0] {
	case "subjects":
		max = maxSubjects
	case "data_types", "categories", "actor.roles", "actor.attributes":
		max = maxSmallList
	case "actor", "actor.id", "actor.org_unit", "resource.system", "resource.object", "resource.route",
		"purpose.name", "purpose.ticket", "source.ip", "source.device", "source.session", "subject":
		max = maxString
	default:
		return nil
	}
	return &cost.SizeEstimate{Min: 0, Max: max}
}

func (celSizes) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}
