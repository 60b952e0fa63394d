package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
)

// Appender is the part of the event store the pipeline writes to.
type Appender interface {
	AppendAccess(ctx context.Context, events []custos.AccessEvent) (custos.AppendResult, error)
	AppendLogins(ctx context.Context, events []custos.LoginEvent) (custos.AppendResult, error)
}

// Pipeline validates, seals and durably stores batches of events, then
// tells the bus that there is something new to deliver.
type Pipeline struct {
	Store  Appender
	Index  *blind.Index
	Notify func()           // called after each durable append; may be nil
	Now    func() time.Time // clock for validation; nil means time.Now
}

// Access validates and seals a batch of access events and appends it. It
// returns a *BatchError, storing nothing, if any event is invalid. The
// events are modified in place (defaults filled, subjects sealed).
func (p *Pipeline) Access(ctx context.Context, events []custos.AccessEvent) (custos.AppendResult, error) {
	now := p.now()
	be := &BatchError{}
	for i := range events {
		ev := &events[i]
		fes := ev.Validate(i, now)
		if len(fes) > 0 {
			be.addAll(fes)
			continue
		}
		ev.Normalize()
		if err := p.Index.Seal(ev); err != nil {
			var se *blind.SubjectError
			if errors.As(err, &se) {
				be.add(custos.FieldError{Index: i, Field: fmt.Sprintf("subjects[%d].value", se.Index), Reason: se.Err.Error()})
				continue
			}
			return custos.AppendResult{}, fmt.Errorf("ingest: seal event %d: %w", i, err)
		}
	}
	if err := be.errOrNil(); err != nil {
		return custos.AppendResult{}, err
	}
	return p.appendAccess(ctx, events)
}

// AccessSealed appends access events whose subjects the caller has
// already sealed with the pipeline's Index (a gateway blind-indexes every
// subject for the policy anyway; sealing again would hash each one a
// second time). Each subject must carry its type, a hash of the index's
// form (64 hex digits) and a masked form, and no raw value; everything
// else is validated as Access does. The pipeline cannot tell whether a
// hash came from its own key: only in-process callers holding the same
// Index may use this path.
func (p *Pipeline) AccessSealed(ctx context.Context, events []custos.AccessEvent) (custos.AppendResult, error) {
	now := p.now()
	be := &BatchError{}
	for i := range events {
		ev := &events[i]
		subjects := ev.Subjects
		ev.Subjects = nil // Validate asks for raw values: checked below instead
		fes := ev.Validate(i, now)
		ev.Subjects = subjects
		be.addAll(fes)
		be.addAll(validateSealed(i, subjects))
		ev.Normalize()
	}
	if err := be.errOrNil(); err != nil {
		return custos.AppendResult{}, err
	}
	return p.appendAccess(ctx, events)
}

// appendAccess stores validated, sealed events and wakes the consumers.
func (p *Pipeline) appendAccess(ctx context.Context, events []custos.AccessEvent) (custos.AppendResult, error) {
	res, err := p.Store.AppendAccess(ctx, events)
	if err != nil {
		return res, fmt.Errorf("ingest: append %d access events: %w", len(events), err)
	}
	p.notify()
	return res, nil
}

// maxSealedSubjects and maxMasked mirror the event model's limits on
// subjects (custos.AccessEvent.Validate).
const (
	maxSealedSubjects = 10000
	maxMasked         = 256
)

// validateSealed checks the subjects of event i for AccessSealed.
func validateSealed(i int, subjects []custos.Subject) []custos.FieldError {
	var fes []custos.FieldError
	fail := func(field, reason string) {
		fes = append(fes, custos.FieldError{Index: i, Field: field, Reason: reason})
	}
	if len(subjects) > maxSealedSubjects {
		fail("subjects", fmt.Sprintf("more than %d subjects in one event", maxSealedSubjects))
	}
	for j, s := range subjects {
		f := fmt.Sprintf("subjects[%d]", j)
		if !subjectType(s.Type) {
			fail(f+".type", "must be a data type such as cn_id or cn_mobile (lower-case letters, digits, _)")
		}
		if s.Value != "" {
			fail(f+".value", "must be empty in a sealed event")
		}
		if !blindHash(s.Hash) {
			fail(f+".hash", "must be a blind-index hash (64 lower-case hex digits)")
		}
		if s.Masked == "" || len(s.Masked) > maxMasked {
			fail(f+".masked", fmt.Sprintf("required, at most %d bytes", maxMasked))
		}
	}
	return fes
}

// subjectType is custos's subject type pattern, ^[a-z][a-z0-9_]{0,39}$.
func subjectType(t string) bool {
	if len(t) == 0 || len(t) > 40 || t[0] < 'a' || t[0] > 'z' {
		return false
	}
	for i := 1; i < len(t); i++ {
		if c := t[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func blindHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Logins validates a batch of login events and appends it.
func (p *Pipeline) Logins(ctx context.Context, events []custos.LoginEvent) (custos.AppendResult, error) {
	now := p.now()
	be := &BatchError{}
	for i := range events {
		be.addAll(events[i].Validate(i, now))
		events[i].Normalize()
	}
	if err := be.errOrNil(); err != nil {
		return custos.AppendResult{}, err
	}
	res, err := p.Store.AppendLogins(ctx, events)
	if err != nil {
		return res, fmt.Errorf("ingest: append %d login events: %w", len(events), err)
	}
	p.notify()
	return res, nil
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Pipeline) notify() {
	if p.Notify != nil {
		p.Notify()
	}
}
