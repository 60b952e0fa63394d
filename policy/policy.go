package policy

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cel.dev/cel-go/cel"
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/mask"
)

// Version is the policy file format this build reads.
const Version = 1

// DecisionLimit is the effect of a limit rule: it caps the number of
// records and lets evaluation continue to the rule that decides.
const DecisionLimit custos.Decision = "limit"

// document is a policy file as written.
type document struct {
	Version  int         `yaml:"version"`
	Name     string      `yaml:"name"`
	Timezone string      `yaml:"timezone"`
	Defaults defaultsDoc `yaml:"defaults"`
	Rules    []ruleDoc   `yaml:"rules"`
	Quotas   []quotaDoc  `yaml:"quotas"`
}

type defaultsDoc struct {
	// Sensitive is the effect for PIPL sensitive categories no rule
	// matched: deny unless set.
	Sensitive custos.Decision `yaml:"sensitive"`
	// Other is the effect for other personal data: mask unless set.
	Other custos.Decision `yaml:"other"`
	// Unclassified is the effect for requests with no personal data
	// known: allow unless set.
	Unclassified custos.Decision `yaml:"unclassified"`
	// Categories overrides the effect per category.
	Categories map[string]custos.Decision `yaml:"categories"`
	// Mask is the transform per data type for mask decisions that do not
	// name one (partial otherwise).
	Mask map[string]mask.Transform `yaml:"mask"`
}

type ruleDoc struct {
	ID          string                    `yaml:"id"`
	Description string                    `yaml:"description"`
	Match       matchDoc                  `yaml:"match"`
	When        string                    `yaml:"when"`
	Decision    custos.Decision           `yaml:"decision"`
	Mask        map[string]mask.Transform `yaml:"mask"`
	Limit       int64                     `yaml:"limit"`
	Reason      string                    `yaml:"reason"`
}

type matchDoc struct {
	Systems    []string `yaml:"systems"`
	Objects    []string `yaml:"objects"`
	Channels   []string `yaml:"channels"`
	Actions    []string `yaml:"actions"`
	Roles      []string `yaml:"roles"`
	OrgUnits   []string `yaml:"org_units"`
	Purposes   []string `yaml:"purposes"`
	DataTypes  []string `yaml:"data_types"`
	Categories []string `yaml:"categories"`
}

// Options are what a policy is compiled against.
type Options struct {
	// Relationships answers has_relationship; nil means no relationships.
	Relationships RelationshipChecker
}

// Policy is a compiled policy: read-only and safe for concurrent use.
type Policy struct {
	name          string
	file          string
	loaded        time.Time
	loc           *time.Location
	rules         []*rule
	bySystem      map[string][]*rule
	anySys        []*rule
	defaults      defaults
	quotas        []*QuotaRule
	doc           document
	combos        sync.Map // limit-rule combinations → shared rule id lists
	defaultCombos [65]atomic.Pointer[combo]
}

type defaults struct {
	catEffect    [64]custos.Decision
	catIDs       [64][]string
	unclassified custos.Decision
	mask         map[string]mask.Transform
}

// rule is a compiled rule.
type rule struct {
	id     string
	pos    Pos
	effect custos.Decision
	limit  int64
	reason string
	mask   map[string]mask.Transform
	ids    []string

	systems  []string
	objects  []string
	channels uint64
	actions  uint64
	roles    []string
	orgUnits []string
	purposes []string
	typeBits uint64
	catBits  uint64
	when     string
	whenPos  Pos
	prg      cel.Program
	// limited is prg with run-time cost tracking, for requests larger
	// than the sizes the load-time estimate assumed (see MaxCost).
	limited   cel.Program
	constWhen *bool
	lastCombo atomic.Pointer[combo]
	// native, when set, evaluates the condition without CEL; it is set only
	// for forms whose meaning is plain (see nativeCondition).
	native func(*Request) bool
}

// Pos is a place in a policy file.
type Pos struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column) }

// Problem is one finding about a policy: an error stops it from loading, a
// warning is reported by lint.
type Problem struct {
	Pos      Pos    `json:"pos"`
	Severity string `json:"severity"` // "error" or "warning"
	Rule     string `json:"rule,omitempty"`
	Message  string `json:"message"`
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s: %s: %s", p.Pos, p.Severity, p.Message)
	if p.Rule != "" {
		s += " (rule " + p.Rule + ")"
	}
	return s
}

// LoadError is returned when a policy has errors; it lists them all.
type LoadError struct{ Problems []Problem }

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString("policy: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Name is the policy's name (or its file name).
func (p *Policy) Name() string { return p.name }

// Loaded is when the policy was compiled.
func (p *Policy) Loaded() time.Time { return p.loaded }

// Rules returns the rule ids in order.
func (p *Policy) Rules() []string {
	ids := make([]string, len(p.rules))
	for i, r := range p.rules {
		ids[i] = r.id
	}
	return ids
}

// Load reads and compiles a policy file.
func Load(path string, opts Options) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse compiles a policy. Any error — YAML, unknown field, unknown type,
// category or transform, CEL that does not compile or is not boolean —
// fails the whole policy with a *LoadError naming file:line:column.
func Parse(name string, data []byte, opts Options) (*Policy, error) {
	p, problems := compile(name, data, opts)
	var errs []Problem
	for _, pr := range problems {
		if pr.Severity == "error" {
			errs = append(errs, pr)
		}
	}
	if len(errs) > 0 {
		return nil, &LoadError{Problems: errs}
	}
	return p, nil
}

// compile parses and compiles, returning every problem found (errors and
// the warnings lint reports). p is nil when there are errors.
func compile(name string, data []byte, opts Options) (*Policy, []Problem) {
	c := &compiler{file: name}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		c.yamlErr(err)
		return nil, c.problems
	}
	c.ast = f
	var doc document
	if len(f.Docs) > 0 && f.Docs[0].Body != nil {
		c.unknownFields(f.Docs[0].Body, reflect.TypeFor[document]())
		if c.failed() {
			return nil, c.problems
		}
		if err := decodeNode(f.Docs[0].Body, &doc); err != nil {
			c.yamlErr(err)
			return nil, c.problems
		}
	}
	env, err := newEnv(opts.Relationships)
	if err != nil {
		c.errorf(Pos{File: name}, "", "cel environment: %v", err)
		return nil, c.problems
	}
	p := c.build(doc, env, opts.Relationships)
	if c.failed() {
		return nil, c.problems
	}
	lint(p, c)
	return p, c.problems
}

// decodeNode decodes strictly, turning a panic inside the YAML library
// (go-yaml v1.19.2 panics on some tagged empty nodes, found by FuzzParse)
// into an error: a bad policy file must never crash the server.
func decodeNode(n ast.Node, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed YAML (decoder failure: %v)", r)
		}
	}()
	return yaml.NodeToValue(n, v, yaml.Strict())
}

type compiler struct {
	file     string
	ast      *ast.File
	problems []Problem
}

func (c *compiler) failed() bool {
	for _, p := range c.problems {
		if p.Severity == "error" {
			return true
		}
	}
	return false
}

func (c *compiler) errorf(pos Pos, rule, format string, args ...any) {
	c.problems = append(c.problems, Problem{Pos: pos, Severity: "error", Rule: rule, Message: fmt.Sprintf(format, args...)})
}

func (c *compiler) warnf(pos Pos, rule, format string, args ...any) {
	c.problems = append(c.problems, Problem{Pos: pos, Severity: "warning", Rule: rule, Message: fmt.Sprintf(format, args...)})
}

func (c *compiler) yamlErr(err error) {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		pos := ye.GetToken().Position
		c.errorf(Pos{File: c.file, Line: pos.Line, Column: pos.Column}, "", "%s", ye.GetMessage())
		return
	}
	c.errorf(Pos{File: c.file}, "", "%v", err)
}

// pos returns where the YAML path is in the file (its key's value), or
// the file alone when the path is absent.
func (c *compiler) pos(path string) Pos {
	tk := c.token(path)
	if tk == nil {
		return Pos{File: c.file}
	}
	return Pos{File: c.file, Line: tk.Position.Line, Column: tk.Position.Column}
}

func (c *compiler) token(path string) *token.Token {
	if n := c.node(path); n != nil {
		return n.GetToken()
	}
	return nil
}

func (c *compiler) node(path string) ast.Node {
	if c.ast == nil {
		return nil
	}
	pp, err := yaml.PathString(path)
	if err != nil {
		return nil
	}
	n, err := pp.FilterFile(c.ast)
	if err != nil {
		return nil
	}
	return n
}

// itemPos is where a mapping in a list starts: its first key, which is
// where a reader looks for "the rule on line N".
func (c *compiler) itemPos(path string) Pos {
	var tk *token.Token
	switch m := c.node(path).(type) {
	case *ast.MappingNode:
		if len(m.Values) > 0 {
			tk = m.Values[0].Key.GetToken()
		}
	case *ast.MappingValueNode:
		tk = m.Key.GetToken()
	}
	if tk == nil {
		return c.pos(path)
	}
	return Pos{File: c.file, Line: tk.Position.Line, Column: tk.Position.Column}
}

var effects = []custos.Decision{custos.DecisionAllow, custos.DecisionMask, custos.DecisionDeny, custos.DecisionApprovalRequired}

func validEffect(e custos.Decision) bool { return slices.Contains(effects, e) }

// bit positions of the vocabularies, for the rule index.
func typeBit(t string) uint64 {
	if i := slices.Index(custos.DataTypes, t); i >= 0 {
		return 1 << uint(i)
	}
	return 1 << 63 // outside the vocabulary
}

func catBit(c string) uint64 {
	if i := slices.Index(custos.Categories, c); i >= 0 {
		return 1 << uint(i)
	}
	return 1 << 63
}

var actionNames = []custos.Action{custos.ActionRead, custos.ActionSearch, custos.ActionExport, custos.ActionUpdate, custos.ActionDelete, custos.ActionCreate}
var channelNames = []custos.Channel{custos.ChannelPostgres, custos.ChannelMySQL, custos.ChannelHTTP, custos.ChannelIngest}

func actionBit(a custos.Action) uint64 {
	if i := slices.Index(actionNames, a); i >= 0 {
		return 1 << uint(i)
	}
	return 1 << 63
}

func channelBit(ch custos.Channel) uint64 {
	if i := slices.Index(channelNames, ch); i >= 0 {
		return 1 << uint(i)
	}
	return 1 << 63
}

func (c *compiler) build(doc document, env *cel.Env, rel RelationshipChecker) *Policy {
	p := &Policy{name: doc.Name, file: c.file, loaded: time.Now(), doc: doc, bySystem: map[string][]*rule{}}
	if p.name == "" {
		p.name = c.file
	}
	if doc.Version != 0 && doc.Version != Version {
		c.errorf(c.pos("$.version"), "", "version %d, this build reads %d", doc.Version, Version)
	}
	p.loc = time.UTC
	if doc.Timezone != "" {
		loc, err := time.LoadLocation(doc.Timezone)
		if err != nil {
			c.errorf(c.pos("$.timezone"), "", "unknown timezone %q", doc.Timezone)
		} else {
			p.loc = loc
		}
	}
	c.buildDefaults(p, doc.Defaults)
	seen := map[string]int{}
	for i, rd := range doc.Rules {
		at := fmt.Sprintf("$.rules[%d]", i)
		r := &rule{id: rd.ID, pos: c.itemPos(at), effect: rd.Decision, limit: rd.Limit, reason: rd.Reason, when: strings.TrimSpace(rd.When)}
		if r.id == "" {
			c.errorf(r.pos, "", "rules[%d]: id required", i)
			r.id = fmt.Sprintf("rules[%d]", i)
		} else if j, dup := seen[r.id]; dup {
			c.errorf(c.pos(at+".id"), r.id, "duplicate rule id, first at line %d", p.rules[j].pos.Line)
		}
		seen[r.id] = i
		r.ids = []string{r.id}
		switch {
		case rd.Decision == DecisionLimit:
			if rd.Limit <= 0 {
				c.errorf(c.pos(at+".limit"), r.id, "a limit rule needs limit > 0")
			}
		case validEffect(rd.Decision):
			if rd.Limit != 0 {
				c.errorf(c.pos(at+".limit"), r.id, "limit is only for decision: limit")
			}
		case rd.Decision == "":
			c.errorf(r.pos, r.id, "decision required (allow, mask, deny, approval_required, limit)")
		default:
			c.errorf(c.pos(at+".decision"), r.id, "unknown decision %q (allow, mask, deny, approval_required, limit)", rd.Decision)
		}
		if len(rd.Mask) > 0 && rd.Decision != custos.DecisionMask {
			c.errorf(c.pos(at+".mask"), r.id, "mask transforms given for decision %q", rd.Decision)
		}
		if rd.Decision == custos.DecisionMask {
			r.mask = make(map[string]mask.Transform, len(rd.Mask)+len(p.defaults.mask))
			for t, tr := range p.defaults.mask {
				r.mask[t] = tr
			}
			c.checkMask(at+".mask", r.id, rd.Mask)
			for t, tr := range rd.Mask {
				r.mask[t] = tr
			}
		}
		c.buildMatch(r, at+".match", rd.Match)
		if r.when != "" {
			c.compileWhen(env, r, at+".when")
			r.native = nativeCondition(r.when, rel)
		}
		p.rules = append(p.rules, r)
	}
	c.buildQuotas(p, doc.Quotas)
	// Index by system: each system's list holds the rules naming it and
	// the rules naming no system, in policy order.
	systems := map[string]bool{}
	for _, r := range p.rules {
		for _, s := range r.systems {
			systems[s] = true
		}
		if len(r.systems) == 0 {
			p.anySys = append(p.anySys, r)
		}
	}
	for s := range systems {
		for _, r := range p.rules {
			if len(r.systems) == 0 || slices.Contains(r.systems, s) {
				p.bySystem[s] = append(p.bySystem[s], r)
			}
		}
	}
	return p
}

func (c *compiler) checkMask(at, ruleID string, m map[string]mask.Transform) {
	for t, tr := range m {
		switch {
		case !custos.KnownType(t):
			c.errorf(c.pos(at), ruleID, "mask: unknown data type %q", t)
		case !mask.Known(string(tr)):
			c.errorf(c.pos(at+"."+t), ruleID, "mask: unknown transform %q for %s", tr, t)
		case !mask.Supports(tr, t):
			c.errorf(c.pos(at+"."+t), ruleID, "mask: transform %q cannot mask %s", tr, t)
		}
	}
}

func (c *compiler) buildDefaults(p *Policy, d defaultsDoc) {
	sensitive, other, uncl := d.Sensitive, d.Other, d.Unclassified
	if sensitive == "" {
		sensitive = custos.DecisionDeny
	}
	if other == "" {
		other = custos.DecisionMask
	}
	if uncl == "" {
		uncl = custos.DecisionAllow
	}
	for path, e := range map[string]custos.Decision{"$.defaults.sensitive": sensitive, "$.defaults.other": other, "$.defaults.unclassified": uncl} {
		if !validEffect(e) {
			c.errorf(c.pos(path), "", "unknown decision %q", e)
		}
	}
	p.defaults.unclassified = uncl
	for i, cat := range custos.Categories {
		e := other
		if custos.Sensitive(cat) {
			e = sensitive
		}
		p.defaults.catEffect[i] = e
	}
	p.defaults.catEffect[63] = other
	for cat, e := range d.Categories {
		if !custos.KnownCategory(cat) {
			c.errorf(c.pos("$.defaults.categories"), "", "unknown category %q", cat)
			continue
		}
		if !validEffect(e) {
			c.errorf(c.pos("$.defaults.categories."+cat), "", "unknown decision %q", e)
			continue
		}
		p.defaults.catEffect[slices.Index(custos.Categories, cat)] = e
	}
	for i, cat := range custos.Categories {
		p.defaults.catIDs[i] = []string{"default:" + cat}
	}
	p.defaults.catIDs[63] = []string{"default:unknown_category"}
	c.checkMask("$.defaults.mask", "", d.Mask)
	p.defaults.mask = d.Mask
}

func (c *compiler) buildMatch(r *rule, at string, m matchDoc) {
	r.systems, r.objects = m.Systems, m.Objects
	r.roles, r.orgUnits, r.purposes = m.Roles, m.OrgUnits, m.Purposes
	for _, t := range m.DataTypes {
		if !custos.KnownType(t) {
			c.errorf(c.pos(at+".data_types"), r.id, "unknown data type %q", t)
		}
		r.typeBits |= typeBit(t)
	}
	for _, cat := range m.Categories {
		if !custos.KnownCategory(cat) {
			c.errorf(c.pos(at+".categories"), r.id, "unknown category %q", cat)
		}
		r.catBits |= catBit(cat)
	}
	for _, a := range m.Actions {
		if !slices.Contains(actionNames, custos.Action(a)) {
			c.errorf(c.pos(at+".actions"), r.id, "unknown action %q", a)
		}
		r.actions |= actionBit(custos.Action(a))
	}
	for _, ch := range m.Channels {
		if !slices.Contains(channelNames, custos.Channel(ch)) {
			c.errorf(c.pos(at+".channels"), r.id, "unknown channel %q", ch)
		}
		r.channels |= channelBit(custos.Channel(ch))
	}
}

func (c *compiler) compileWhen(env *cel.Env, r *rule, at string) {
	r.whenPos = c.pos(at)
	checked, iss := env.Compile(r.when)
	if iss != nil && iss.Err() != nil {
		for _, e := range iss.Errors() {
			loc := e.Location
			pos := r.whenPos
			if loc != nil && loc.Line() > 0 {
				tk := c.token(at)
				pos = celPos(r.whenPos, tk, loc.Line(), loc.Column())
			}
			c.errorf(pos, r.id, "when: %s", e.Message)
		}
		return
	}
	if !checked.OutputType().IsExactType(cel.BoolType) {
		c.errorf(r.whenPos, r.id, "when: must be a boolean, is %s", checked.OutputType())
		return
	}
	if est, err := env.EstimateCost(checked, celSizes{}); err == nil && est.Max > MaxCost {
		c.errorf(r.whenPos, r.id, "when: may cost up to %d to evaluate (limit %d); avoid nested comprehensions over subjects", est.Max, MaxCost)
		return
	}
	prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize))
	if err == nil {
		r.limited, err = env.Program(checked, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(MaxCost))
	}
	if err != nil {
		c.errorf(r.whenPos, r.id, "when: %v", err)
		return
	}
	r.prg = prg
	switch r.when {
	case "true", "false":
		b := r.when == "true"
		r.constWhen = &b
	}
}

// celPos maps a CEL issue (line and 0-based column inside the expression)
// to the file: on the value's own line for a one-line scalar (after its
// opening quote), on the following lines for a block scalar.
func celPos(start Pos, tk *token.Token, line, col int) Pos {
	if tk == nil {
		return start
	}
	switch tk.Type {
	case token.LiteralType, token.FoldedType:
		// Block content starts on the next line, indented past the key.
		return Pos{File: start.File, Line: start.Line + line, Column: start.Column + col + 2}
	case token.DoubleQuoteType, token.SingleQuoteType:
		return Pos{File: start.File, Line: start.Line + line - 1, Column: start.Column + col + 1}
	}
	return Pos{File: start.File, Line: start.Line + line - 1, Column: start.Column + col}
}
