package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/custos-dev/custos"
)

// Sink is one delivery channel.
type Sink interface {
	Name() string
	Deliver(ctx context.Context, a custos.AlertRecord) error
}

// Source is the part of the store the notifier uses.
type Source interface {
	AlertsDue(ctx context.Context, limit int) ([]custos.AlertRecord, error)
	MarkNotified(ctx context.Context, id, severity string) error
}

// Notifier moves due alerts from the store to the sinks.
type Notifier struct {
	Source Source
	Sinks  []Sink
	// MinSeverity is the lowest severity delivered (default medium).
	MinSeverity string
	Log         *slog.Logger
	// Poll is how often the store is asked for due alerts (default 2s);
	// Retry how long to wait after a failed delivery (default 10s).
	Poll, Retry time.Duration
}

var severityRank = map[string]int{"low": 1, "medium": 2, "high": 3, "critical": 4}

// Run delivers until ctx ends, then closes the sinks that hold
// connections.
func (n *Notifier) Run(ctx context.Context) {
	defer func() {
		for _, s := range n.Sinks {
			if c, ok := s.(io.Closer); ok {
				c.Close()
			}
		}
	}()
	deliverLoop(ctx, n.Poll, n.Retry, n.Log, "alert delivery", n.Once)
}

// deliverLoop calls once every poll (default 2 s) until ctx ends, and
// after a failure logs it and waits retry (default 10 s) instead.
func deliverLoop(ctx context.Context, poll, retry time.Duration, log *slog.Logger, what string, once func(context.Context) (int, error)) {
	if poll <= 0 {
		poll = 2 * time.Second
	}
	if retry <= 0 {
		retry = 10 * time.Second
	}
	for {
		wait := poll
		if _, err := once(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn(what+" failed; will retry", "err", err, "retry_in", retry)
			wait = retry
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// Once delivers every alert due now and returns how many were sent. It
// stops at the first alert a sink refuses, leaving it (and those after
// it) due.
func (n *Notifier) Once(ctx context.Context) (int, error) {
	min := severityRank[n.MinSeverity]
	if min == 0 {
		min = severityRank["medium"]
	}
	sent := 0
	for {
		due, err := n.Source.AlertsDue(ctx, 100)
		if err != nil || len(due) == 0 {
			return sent, err
		}
		for _, a := range due {
			if deliverable(a.Status) && severityRank[a.Severity] >= min {
				var errs []error
				for _, s := range n.Sinks {
					if err := s.Deliver(ctx, a); err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", s.Name(), err))
					}
				}
				if err := errors.Join(errs...); err != nil {
					return sent, fmt.Errorf("notify: alert %s: %w", a.ID, err)
				}
				sent++
			}
			if err := n.Source.MarkNotified(ctx, a.ID, a.Severity); err != nil {
				return sent, fmt.Errorf("notify: %w", err)
			}
		}
	}
}

func deliverable(s custos.AlertStatus) bool {
	return s == custos.AlertOpen || s == custos.AlertAcknowledged || s == ""
}
