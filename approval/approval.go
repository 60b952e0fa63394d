package approval

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/policy"
)

// Kind is what a request asks for.
type Kind string

const (
	KindUnmask     Kind = "unmask"      // see data unmasked that policy masks or holds for approval
	KindExport     Kind = "export"      // export personal data
	KindQuotaRaise Kind = "quota_raise" // go past a quota for a while
	KindBreakGlass Kind = "break_glass" // emergency access to everything in scope
)

var kinds = []Kind{KindUnmask, KindExport, KindQuotaRaise, KindBreakGlass}

// Status is where a request stands.
type Status string

const (
	StatusPending Status = "pending"
	StatusGranted Status = "granted"
	StatusDenied  Status = "denied"
	StatusRevoked Status = "revoked"
	StatusExpired Status = "expired"
)

// Scope is the data a request and its grant cover. Empty fields cover
// everything: a grant for system pss with no object covers all of pss.
type Scope struct {
	System     string   `json:"system,omitempty" yaml:"system,omitempty"`
	Object     string   `json:"object,omitempty" yaml:"object,omitempty"`
	Categories []string `json:"categories,omitempty" yaml:"categories,omitempty"`
	// Subjects are blind-index hashes.
	Subjects []string `json:"subjects,omitempty" yaml:"subjects,omitempty"`
}

// Identity is an authenticated person: the requester or an approver.
type Identity struct {
	ID    string   `json:"id"`
	Roles []string `json:"roles,omitempty"`
}

// Step is one approval or denial.
type Step struct {
	Actor   string    `json:"actor"`
	At      time.Time `json:"at"`
	Comment string    `json:"comment,omitempty"`
}

// Request is an approval request and, once granted, its grant.
type Request struct {
	ID        string         `json:"id"`
	Kind      Kind           `json:"kind"`
	Requester string         `json:"requester"`
	Scope     Scope          `json:"scope"`
	Reason    string         `json:"reason"`
	Purpose   custos.Purpose `json:"purpose,omitzero"`
	// Duration is how long the grant lasts once given (capped by the rule).
	Duration  time.Duration `json:"duration"`
	Created   time.Time     `json:"created"`
	Status    Status        `json:"status"`
	Rule      string        `json:"rule"`
	Required  int           `json:"required"`
	Approvals []Step        `json:"approvals,omitempty"`
	Denial    *Step         `json:"denial,omitempty"`
	Revoked   *Step         `json:"revoked,omitempty"`
	// GrantFrom and GrantUntil bound the grant once given.
	GrantFrom  time.Time `json:"grant_from,omitzero"`
	GrantUntil time.Time `json:"grant_until,omitzero"`
	// Notified is when the approvers were told of the request
	// (approvals.notify); zero until then.
	Notified time.Time `json:"notified,omitzero"`
}

// Rule says who may approve which requests. The first rule whose kinds,
// systems and categories match a request governs it.
type Rule struct {
	ID         string   `json:"id" yaml:"id"`
	Kinds      []Kind   `json:"kinds,omitempty" yaml:"kinds,omitempty"`
	Systems    []string `json:"systems,omitempty" yaml:"systems,omitempty"`
	Categories []string `json:"categories,omitempty" yaml:"categories,omitempty"`
	// ApproverRoles and Approvers (actor ids) may approve; at least one of
	// them must be given.
	ApproverRoles []string `json:"approver_roles,omitempty" yaml:"approver_roles,omitempty"`
	Approvers     []string `json:"approvers,omitempty" yaml:"approvers,omitempty"`
	// Required distinct approvals (default 1; break-glass at least 2).
	Required int `json:"required,omitempty" yaml:"required,omitempty"`
	// MaxDuration caps grants (default 8h; break-glass 4h).
	MaxDuration time.Duration `json:"max_duration,omitempty" yaml:"max_duration,omitempty"`
}

// EventType names a step of an approval's life.
type EventType string

const (
	EventRequested EventType = "approval.requested"
	EventApproved  EventType = "approval.approved"
	EventDenied    EventType = "approval.denied"
	EventGranted   EventType = "approval.granted"
	EventRevoked   EventType = "approval.revoked"
	EventExpired   EventType = "approval.expired"
)

// Event reports one step. Request is a copy of the request after the step.
type Event struct {
	Type    EventType `json:"type"`
	Actor   string    `json:"actor"`
	At      time.Time `json:"at"`
	Request Request   `json:"request"`
}

// Store persists requests (the lead's event store); Save is called after
// every step, before the step's event, and a failed Save undoes the step.
type Store interface {
	SaveApproval(ctx context.Context, r Request) error
}

// Errors callers can test for.
var (
	ErrNotFound     = errors.New("approval request not found")
	ErrSelfApproval = errors.New("requesters cannot approve their own requests")
	ErrNotApprover  = errors.New("not an approver for this request")
	ErrNotPending   = errors.New("request is no longer pending")
	ErrTwice        = errors.New("already approved by this approver")
	ErrNoRule       = errors.New("no approver rule covers this request")
	ErrReason       = errors.New("a reason of at least 10 characters is required")
)

// Service keeps requests and grants in memory (persisted through Store)
// and answers grant checks. Safe for concurrent use.
type Service struct {
	rules []Rule
	// OnEvent receives every step; nil drops them.
	OnEvent func(context.Context, Event)
	Store   Store
	Now     func() time.Time
	Log     *slog.Logger
	// PendingTTL is how long a request waits for approvers (default 24h).
	PendingTTL time.Duration

	mu      sync.Mutex
	reqs    map[string]*Request
	byActor map[string][]*Request // granted, by requester
}

// New validates the approver rules and returns a Service.
func New(rules []Rule) (*Service, error) {
	seen := map[string]bool{}
	for i, r := range rules {
		if r.ID == "" {
			return nil, fmt.Errorf("approval: rules[%d]: id required", i)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("approval: rule %s: duplicate id", r.ID)
		}
		seen[r.ID] = true
		if len(r.ApproverRoles) == 0 && len(r.Approvers) == 0 {
			return nil, fmt.Errorf("approval: rule %s: approver_roles or approvers required", r.ID)
		}
		for _, k := range r.Kinds {
			if !slices.Contains(kinds, k) {
				return nil, fmt.Errorf("approval: rule %s: unknown kind %q", r.ID, k)
			}
		}
		for _, c := range r.Categories {
			if !custos.KnownCategory(c) {
				return nil, fmt.Errorf("approval: rule %s: unknown category %q", r.ID, c)
			}
		}
		if r.Required < 0 || r.MaxDuration < 0 {
			return nil, fmt.Errorf("approval: rule %s: negative required or max_duration", r.ID)
		}
	}
	return &Service{rules: slices.Clone(rules), reqs: map[string]*Request{}, byActor: map[string][]*Request{}}, nil
}

// Restore loads requests persisted by an earlier run (from Store), so that
// pending requests and active grants survive a restart. Call it before
// the service is used.
func (s *Service) Restore(reqs []Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range reqs {
		r := &reqs[i]
		s.reqs[r.ID] = r
		if r.Status == StatusGranted {
			s.byActor[r.Requester] = append(s.byActor[r.Requester], r)
		}
	}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// NewRequest is what a requester submits.
type NewRequest struct {
	Kind     Kind           `json:"kind"`
	Scope    Scope          `json:"scope"`
	Reason   string         `json:"reason"`
	Purpose  custos.Purpose `json:"purpose,omitzero"`
	Duration string         `json:"duration,omitempty"` // Go duration; default 1h
}

func (s *Service) ruleFor(k Kind, sc Scope) (Rule, bool) {
	for _, r := range s.rules {
		if len(r.Kinds) > 0 && !slices.Contains(r.Kinds, k) {
			continue
		}
		if len(r.Systems) > 0 && !slices.Contains(r.Systems, sc.System) {
			continue
		}
		if len(r.Categories) > 0 {
			// Every requested category must be one the rule governs, and
			// a request for all categories needs a rule for all.
			if len(sc.Categories) == 0 {
				continue
			}
			ok := true
			for _, c := range sc.Categories {
				if !slices.Contains(r.Categories, c) {
					ok = false
				}
			}
			if !ok {
				continue
			}
		}
		return r, true
	}
	return Rule{}, false
}

// Submit files a request from requester.
func (s *Service) Submit(ctx context.Context, requester Identity, in NewRequest) (Request, error) {
	if requester.ID == "" {
		return Request{}, errors.New("approval: requester required")
	}
	if !slices.Contains(kinds, in.Kind) {
		return Request{}, fmt.Errorf("approval: unknown kind %q (unmask, export, quota_raise, break_glass)", in.Kind)
	}
	if utf8.RuneCountInString(strings.TrimSpace(in.Reason)) < 10 {
		return Request{}, ErrReason
	}
	for _, c := range in.Scope.Categories {
		if !custos.KnownCategory(c) {
			return Request{}, fmt.Errorf("approval: unknown category %q", c)
		}
	}
	dur := time.Hour
	if in.Duration != "" {
		d, err := time.ParseDuration(in.Duration)
		if err != nil || d <= 0 {
			return Request{}, fmt.Errorf("approval: duration %q: want a positive duration like 2h", in.Duration)
		}
		dur = d
	}
	rule, ok := s.ruleFor(in.Kind, in.Scope)
	if !ok {
		return Request{}, ErrNoRule
	}
	required, maxDur := max(rule.Required, 1), rule.MaxDuration
	if maxDur == 0 {
		maxDur = 8 * time.Hour
	}
	if in.Kind == KindBreakGlass {
		required = max(required, 2)
		if rule.MaxDuration == 0 {
			maxDur = 4 * time.Hour
		}
	}
	r := &Request{
		ID: newID(), Kind: in.Kind, Requester: requester.ID, Scope: in.Scope, Reason: strings.TrimSpace(in.Reason),
		Purpose: in.Purpose, Duration: min(dur, maxDur), Created: s.now(), Status: StatusPending,
		Rule: rule.ID, Required: required,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.save(ctx, r); err != nil {
		return Request{}, err
	}
	s.reqs[r.ID] = r
	s.emit(ctx, EventRequested, requester.ID, r)
	return *r, nil
}

func newID() string {
	var b [10]byte
	rand.Read(b[:])
	return "apr_" + hex.EncodeToString(b[:])
}

func (s *Service) save(ctx context.Context, r *Request) error {
	if s.Store == nil {
		return nil
	}
	if err := s.Store.SaveApproval(ctx, *r); err != nil {
		return &StoreError{ID: r.ID, Err: err}
	}
	return nil
}

// StoreError is a failure to persist a step; the step did not happen.
type StoreError struct {
	ID  string
	Err error
}

func (e *StoreError) Error() string { return "approval: save " + e.ID + ": " + e.Err.Error() }
func (e *StoreError) Unwrap() error { return e.Err }

func (s *Service) emit(ctx context.Context, t EventType, actor string, r *Request) {
	if s.OnEvent == nil {
		return
	}
	ev := Event{Type: t, Actor: actor, At: s.now(), Request: *r}
	ev.Request.Approvals = slices.Clone(r.Approvals)
	s.OnEvent(ctx, ev)
}

// refresh expires r if its time is up; call with s.mu held.
func (s *Service) refresh(ctx context.Context, r *Request, now time.Time) {
	ttl := s.PendingTTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	expired := r.Status == StatusPending && !now.Before(r.Created.Add(ttl)) ||
		r.Status == StatusGranted && !now.Before(r.GrantUntil)
	if !expired {
		return
	}
	old := r.Status
	r.Status = StatusExpired
	if err := s.save(ctx, r); err != nil {
		r.Status = old
		s.logger().Error("approval: could not record expiry", "id", r.ID, "err", err)
		return
	}
	s.dropGrant(r)
	s.emit(ctx, EventExpired, "", r)
}

func (s *Service) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Service) eligible(rule Rule, who Identity) bool {
	return slices.Contains(rule.Approvers, who.ID) || slices.ContainsFunc(who.Roles, func(r string) bool { return slices.Contains(rule.ApproverRoles, r) })
}

func (s *Service) rule(id string) Rule {
	for _, r := range s.rules {
		if r.ID == id {
			return r
		}
	}
	return Rule{}
}

// pending returns the request if approver may act on it now.
func (s *Service) pending(ctx context.Context, approver Identity, id string) (*Request, error) {
	r := s.reqs[id]
	if r == nil {
		return nil, ErrNotFound
	}
	s.refresh(ctx, r, s.now())
	if r.Status != StatusPending {
		return nil, fmt.Errorf("%w (%s)", ErrNotPending, r.Status)
	}
	if approver.ID == r.Requester {
		return nil, ErrSelfApproval
	}
	if !s.eligible(s.rule(r.Rule), approver) {
		return nil, ErrNotApprover
	}
	return r, nil
}

// Approve adds approver's approval; with enough distinct approvals the
// grant starts now and lasts the request's duration.
func (s *Service) Approve(ctx context.Context, approver Identity, id, comment string) (Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.pending(ctx, approver, id)
	if err != nil {
		return Request{}, err
	}
	for _, a := range r.Approvals {
		if a.Actor == approver.ID {
			return Request{}, ErrTwice
		}
	}
	if r.Kind == KindBreakGlass && utf8.RuneCountInString(strings.TrimSpace(comment)) == 0 {
		return Request{}, errors.New("approval: break-glass approvals need a comment")
	}
	before := *r
	now := s.now()
	r.Approvals = append(slices.Clone(r.Approvals), Step{Actor: approver.ID, At: now, Comment: comment})
	granted := len(r.Approvals) >= r.Required
	if granted {
		r.Status, r.GrantFrom, r.GrantUntil = StatusGranted, now, now.Add(r.Duration)
	}
	if err := s.save(ctx, r); err != nil {
		*r = before
		return Request{}, err
	}
	s.emit(ctx, EventApproved, approver.ID, r)
	if granted {
		s.byActor[r.Requester] = append(s.byActor[r.Requester], r)
		s.emit(ctx, EventGranted, approver.ID, r)
	}
	return *r, nil
}

// Deny ends a pending request.
func (s *Service) Deny(ctx context.Context, approver Identity, id, comment string) (Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.pending(ctx, approver, id)
	if err != nil {
		return Request{}, err
	}
	before := *r
	r.Status, r.Denial = StatusDenied, &Step{Actor: approver.ID, At: s.now(), Comment: comment}
	if err := s.save(ctx, r); err != nil {
		*r = before
		return Request{}, err
	}
	s.emit(ctx, EventDenied, approver.ID, r)
	return *r, nil
}

// Revoke ends a pending request or an active grant early: the requester
// may withdraw their own, an eligible approver anyone's.
func (s *Service) Revoke(ctx context.Context, who Identity, id, comment string) (Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reqs[id]
	if r == nil {
		return Request{}, ErrNotFound
	}
	s.refresh(ctx, r, s.now())
	if r.Status != StatusPending && r.Status != StatusGranted {
		return Request{}, fmt.Errorf("%w (%s)", ErrNotPending, r.Status)
	}
	if who.ID != r.Requester && !s.eligible(s.rule(r.Rule), who) {
		return Request{}, ErrNotApprover
	}
	before := *r
	r.Status, r.Revoked = StatusRevoked, &Step{Actor: who.ID, At: s.now(), Comment: comment}
	if err := s.save(ctx, r); err != nil {
		*r = before
		return Request{}, err
	}
	s.dropGrant(r)
	s.emit(ctx, EventRevoked, who.ID, r)
	return *r, nil
}

func (s *Service) dropGrant(r *Request) {
	gs := s.byActor[r.Requester]
	if i := slices.Index(gs, r); i >= 0 {
		s.byActor[r.Requester] = slices.Delete(slices.Clone(gs), i, i+1)
	}
}

// Get returns a request.
func (s *Service) Get(ctx context.Context, id string) (Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reqs[id]
	if r == nil {
		return Request{}, ErrNotFound
	}
	s.refresh(ctx, r, s.now())
	return *r, nil
}

// List returns the requests viewer may see — their own and those they may
// approve — optionally of one status, newest first.
func (s *Service) List(ctx context.Context, viewer Identity, status Status) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []Request
	for _, r := range s.reqs {
		s.refresh(ctx, r, now)
		if status != "" && r.Status != status {
			continue
		}
		if r.Requester != viewer.ID && !s.eligible(s.rule(r.Rule), viewer) {
			continue
		}
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Created.After(out[j].Created) || out[i].Created.Equal(out[j].Created) && out[i].ID > out[j].ID
	})
	return out
}

// Unnotified returns the pending requests whose approvers have not been
// told yet, oldest first, each with the rule that names its approvers.
func (s *Service) Unnotified(ctx context.Context) ([]Request, []Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []Request
	for _, r := range s.reqs {
		s.refresh(ctx, r, now)
		if r.Status == StatusPending && r.Notified.IsZero() {
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Created.Before(out[j].Created) || out[i].Created.Equal(out[j].Created) && out[i].ID < out[j].ID
	})
	rules := make([]Rule, len(out))
	for i, r := range out {
		rules[i] = s.rule(r.Rule)
	}
	return out, rules
}

// MarkNotified records, durably, that the approvers of a request were
// told, so that a restart does not tell them again.
func (s *Service) MarkNotified(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reqs[id]
	if !ok {
		return ErrNotFound
	}
	prev := r.Notified
	r.Notified = s.now()
	if err := s.save(ctx, r); err != nil {
		r.Notified = prev
		return err
	}
	return nil
}

// Sweep expires what is due, emitting the events; call it now and then so
// expiries are recorded even when nobody looks.
func (s *Service) Sweep(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, r := range s.reqs {
		s.refresh(ctx, r, now)
	}
}

// ActiveGrant implements policy.GrantChecker: it returns the id of an
// active grant of kind (or a break-glass grant) to the request's actor
// that covers the request's system, object, categories and subjects.
func (s *Service) ActiveGrant(r *policy.Request, kind string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gs := s.byActor[r.Actor.ID]
	if len(gs) == 0 {
		return "", false
	}
	now := s.now()
	for _, g := range gs {
		if g.Kind != Kind(kind) && g.Kind != KindBreakGlass {
			continue
		}
		if now.Before(g.GrantFrom) || !now.Before(g.GrantUntil) || g.Status != StatusGranted {
			continue
		}
		if covers(g.Scope, r) {
			return g.ID, true
		}
	}
	return "", false
}

var _ policy.GrantChecker = (*Service)(nil)

func covers(sc Scope, r *policy.Request) bool {
	if sc.System != "" && sc.System != r.Resource.System {
		return false
	}
	if sc.Object != "" && sc.Object != r.Resource.Object && sc.Object != r.Resource.Route {
		return false
	}
	if len(sc.Categories) > 0 {
		cats := slices.Clone(r.Categories)
		for _, t := range r.DataTypes {
			if c := custos.CategoryOf(t); c != "" {
				cats = append(cats, c)
			}
		}
		for _, c := range cats {
			if !slices.Contains(sc.Categories, c) {
				return false
			}
		}
	}
	if len(sc.Subjects) > 0 {
		if len(r.Subjects) == 0 {
			return false
		}
		for _, sub := range r.Subjects {
			if !slices.Contains(sc.Subjects, sub) {
				return false
			}
		}
	}
	return true
}
