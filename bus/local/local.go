// Package local delivers events to consumers inside one process.
//
// It is an outbox: the event store is the durable log, and each consumer
// keeps its position (the sequence number of the last event it handled)
// in the store. A consumer that fails is handed the same events again; a
// process that crashes resumes every consumer where its offset says. That
// is at-least-once delivery, so consumers must be idempotent (they key by
// event id). Notify only shortens the wait; nothing is lost without it.
package local

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/custos-dev/custos"
)

// Source is the part of the event store the bus reads from.
type Source interface {
	AccessSince(ctx context.Context, seq int64, limit int) ([]custos.StoredAccess, error)
	LoginsSince(ctx context.Context, seq int64, limit int) ([]custos.StoredLogin, error)
	Offset(ctx context.Context, consumer string) (int64, error)
	SetOffset(ctx context.Context, consumer string, seq int64) error
}

// Consumer receives stored events in sequence order. Either handler may be
// nil. A handler that returns an error gets the same batch again later.
type Consumer struct {
	Name   string
	Access func(ctx context.Context, events []custos.StoredAccess) error
	Logins func(ctx context.Context, events []custos.StoredLogin) error
}

// Bus runs consumers over a Source.
type Bus struct {
	src       Source
	log       *slog.Logger
	BatchSize int           // events handed to a consumer at once; default 1000
	Poll      time.Duration // wait between checks when not notified; default 1s
	Retry     time.Duration // wait after a failed handler; default 1s

	mu    sync.Mutex
	wakes []chan struct{}
}

// New returns a bus reading from src.
func New(src Source, log *slog.Logger) *Bus {
	return &Bus{src: src, log: log, BatchSize: 1000, Poll: time.Second, Retry: time.Second}
}

// Notify tells every consumer that new events may be waiting. It never
// blocks.
func (b *Bus) Notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, w := range b.wakes {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// Run delivers events to each consumer until ctx is done, then returns
// once every consumer has finished its current batch.
func (b *Bus) Run(ctx context.Context, consumers ...Consumer) {
	var wg sync.WaitGroup
	for _, c := range consumers {
		wake := make(chan struct{}, 1)
		b.mu.Lock()
		b.wakes = append(b.wakes, wake)
		b.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.loop(ctx, c, wake)
		}()
	}
	wg.Wait()
}

func (b *Bus) loop(ctx context.Context, c Consumer, wake <-chan struct{}) {
	for {
		busy, err := b.deliver(ctx, c)
		if err != nil && ctx.Err() == nil {
			b.log.Warn("bus: consumer failed; retrying the same events", "consumer", c.Name, "err", err)
			busy = false
			if !sleep(ctx, b.Retry) {
				return
			}
			continue
		}
		if busy {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-time.After(b.Poll):
		}
	}
}

// deliver hands each stream's next batch to c. busy reports that a full
// batch was delivered, so more may be waiting.
func (b *Bus) deliver(ctx context.Context, c Consumer) (busy bool, err error) {
	if c.Access != nil {
		n, err := deliverStream(ctx, b.src, c.Name+":access", b.BatchSize, b.src.AccessSince, c.Access, func(e custos.StoredAccess) int64 { return e.Seq })
		if err != nil {
			return false, err
		}
		busy = busy || n == b.BatchSize
	}
	if c.Logins != nil {
		n, err := deliverStream(ctx, b.src, c.Name+":logins", b.BatchSize, b.src.LoginsSince, c.Logins, func(e custos.StoredLogin) int64 { return e.Seq })
		if err != nil {
			return false, err
		}
		busy = busy || n == b.BatchSize
	}
	return busy, nil
}

func deliverStream[E any](ctx context.Context, src Source, name string, limit int,
	since func(context.Context, int64, int) ([]E, error),
	handle func(context.Context, []E) error,
	seq func(E) int64,
) (int, error) {
	off, err := src.Offset(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("bus: offset of %s: %w", name, err)
	}
	events, err := since(ctx, off, limit)
	if err != nil {
		return 0, fmt.Errorf("bus: read %s after %d: %w", name, off, err)
	}
	if len(events) == 0 {
		return 0, nil
	}
	if err := handle(ctx, events); err != nil {
		return 0, fmt.Errorf("bus: %s: %w", name, err)
	}
	last := seq(events[len(events)-1])
	if err := src.SetOffset(ctx, name, last); err != nil {
		return 0, fmt.Errorf("bus: save offset of %s: %w", name, err)
	}
	return len(events), nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
