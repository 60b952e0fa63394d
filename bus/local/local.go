// Package local delivers events to consumers inside one process.
//
// It is an outbox: the event store is the durable log, and each consumer
// keeps its position (the sequence number of the last event it handled)
// in the store. A consumer that fails is handed the same events again; a
// process that crashes resumes every consumer where its saved offset
// says, which may be up to SaveEvery behind what it had handled. That is
// at-least-once delivery, so consumers must be idempotent (they key by
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
	// SaveEvery is how often a consumer's position is written to the
	// store; it is also written when Run ends. Writing it after every
	// batch put a second durable commit behind every event at low rates
	// (a gateway's statement: one event, one batch).
	SaveEvery time.Duration // default 1s

	mu    sync.Mutex
	wakes []chan struct{}
}

// New returns a bus reading from src.
func New(src Source, log *slog.Logger) *Bus {
	return &Bus{src: src, log: log, BatchSize: 1000, Poll: time.Second, Retry: time.Second, SaveEvery: time.Second}
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
	pos := map[string]*position{}
	defer func() {
		// Save what was handled, whatever ended the run.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for name, p := range pos {
			if err := p.save(sctx, b.src, name); err != nil {
				b.log.Warn("bus: save offset at stop", "consumer", name, "err", err)
			}
		}
	}()
	for {
		busy, err := b.deliver(ctx, c, pos)
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

// position is where one consumer's stream stands: handled is in memory,
// saved is what the store holds.
type position struct {
	loaded         bool
	handled, saved int64
	savedAt        time.Time
}

func (p *position) save(ctx context.Context, src Source, name string) error {
	if !p.loaded || p.handled == p.saved {
		return nil
	}
	if err := src.SetOffset(ctx, name, p.handled); err != nil {
		return fmt.Errorf("bus: save offset of %s: %w", name, err)
	}
	p.saved, p.savedAt = p.handled, time.Now()
	return nil
}

// deliver hands each stream's next batch to c. busy reports that a full
// batch was delivered, so more may be waiting.
func (b *Bus) deliver(ctx context.Context, c Consumer, pos map[string]*position) (busy bool, err error) {
	stream := func(name string) *position {
		if pos[name] == nil {
			pos[name] = &position{}
		}
		return pos[name]
	}
	if c.Access != nil {
		name := c.Name + ":access"
		n, err := deliverStream(ctx, b.src, name, stream(name), b.SaveEvery, b.BatchSize, b.src.AccessSince, c.Access, func(e custos.StoredAccess) int64 { return e.Seq })
		if err != nil {
			return false, err
		}
		busy = busy || n == b.BatchSize
	}
	if c.Logins != nil {
		name := c.Name + ":logins"
		n, err := deliverStream(ctx, b.src, name, stream(name), b.SaveEvery, b.BatchSize, b.src.LoginsSince, c.Logins, func(e custos.StoredLogin) int64 { return e.Seq })
		if err != nil {
			return false, err
		}
		busy = busy || n == b.BatchSize
	}
	return busy, nil
}

func deliverStream[E any](ctx context.Context, src Source, name string, pos *position, saveEvery time.Duration, limit int,
	since func(context.Context, int64, int) ([]E, error),
	handle func(context.Context, []E) error,
	seq func(E) int64,
) (int, error) {
	if !pos.loaded {
		off, err := src.Offset(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("bus: offset of %s: %w", name, err)
		}
		*pos = position{loaded: true, handled: off, saved: off, savedAt: time.Now()}
	}
	events, err := since(ctx, pos.handled, limit)
	if err != nil {
		return 0, fmt.Errorf("bus: read %s after %d: %w", name, pos.handled, err)
	}
	if len(events) > 0 {
		if err := handle(ctx, events); err != nil {
			return 0, fmt.Errorf("bus: %s: %w", name, err)
		}
		pos.handled = seq(events[len(events)-1])
	}
	if time.Since(pos.savedAt) >= saveEvery {
		if err := pos.save(ctx, src, name); err != nil {
			return 0, err
		}
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
