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
	res, err := p.Store.AppendAccess(ctx, events)
	if err != nil {
		return res, fmt.Errorf("ingest: append %d access events: %w", len(events), err)
	}
	p.notify()
	return res, nil
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
