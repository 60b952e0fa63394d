package nats

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/custos-dev/custos"
)

// Spool is an append-only file of envelopes a gateway could not publish,
// each record fsync'd before Append returns, and a cursor file saying how
// far the records have been published. Records are
// [length uint32][crc32 uint32][JSON envelope batch]; a torn record at the
// end (a crash while appending, never acknowledged) is cut off on open.
type Spool struct {
	dir string

	mu      sync.Mutex
	f       *os.File
	size    int64 // bytes in the file
	cursor  int64 // bytes already published
	pending int   // envelopes not yet published
}

const (
	spoolFile  = "spool.log"
	cursorFile = "spool.pos"
)

// OpenSpool opens (creating) the spool in dir.
func OpenSpool(dir string) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, spoolFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{dir: dir, f: f}
	if b, err := os.ReadFile(filepath.Join(dir, cursorFile)); err == nil {
		s.cursor, _ = strconv.ParseInt(string(b), 10, 64)
	}
	// Scan for the end of the last whole record and count what is pending.
	end, n, err := s.scan(s.cursor, nil)
	if err != nil {
		f.Close()
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("spool: %w", err)
	}
	if st.Size() != end {
		if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, fmt.Errorf("spool: cut torn tail: %w", err)
		}
	}
	if end < s.cursor {
		s.cursor = end
	}
	s.size, s.pending = end, n
	return s, nil
}

// scan reads whole records from off, calling fn (if not nil) with each
// record's envelopes and end offset; it returns the end of the last whole
// record and the number of envelopes.
func (s *Spool) scan(off int64, fn func(envs []Envelope, end int64) error) (int64, int, error) {
	st, err := s.f.Stat()
	if err != nil {
		return off, 0, fmt.Errorf("spool: %w", err)
	}
	size := st.Size()
	r := bufio.NewReader(io.NewSectionReader(s.f, off, max(size-off, 0)))
	n := 0
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return off, n, nil
		}
		l, sum := binary.BigEndian.Uint32(hdr[:4]), binary.BigEndian.Uint32(hdr[4:])
		if int64(l) > size-off-8 {
			return off, n, nil // a torn record (or garbage): never allocate beyond the file
		}
		body := make([]byte, l)
		if _, err := io.ReadFull(r, body); err != nil || crc32.ChecksumIEEE(body) != sum {
			return off, n, nil
		}
		var envs []Envelope
		if err := json.Unmarshal(body, &envs); err != nil {
			return off, n, nil
		}
		off += 8 + int64(l)
		n += len(envs)
		if fn != nil {
			if err := fn(envs, off); err != nil {
				return off, n, err
			}
		}
	}
}

// Append writes a batch and fsyncs it.
func (s *Spool) Append(envs []Envelope) error {
	body, err := json.Marshal(envs)
	if err != nil {
		return fmt.Errorf("spool: encode: %w", err)
	}
	rec := make([]byte, 8+len(body))
	binary.BigEndian.PutUint32(rec[:4], uint32(len(body)))
	binary.BigEndian.PutUint32(rec[4:8], crc32.ChecksumIEEE(body))
	copy(rec[8:], body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.WriteAt(rec, s.size); err != nil {
		return fmt.Errorf("spool: write: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("spool: fsync: %w", err)
	}
	s.size += int64(len(rec))
	s.pending += len(envs)
	return nil
}

// Pending is the number of envelopes waiting to be published.
func (s *Spool) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// Drain publishes the spooled batches in order through publish, moving
// the cursor after each; when everything is published the file is
// emptied. It stops at the first failure, leaving the rest for later.
func (s *Spool) Drain(ctx context.Context, publish func(context.Context, []Envelope) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == 0 {
		return nil
	}
	_, _, err := s.scan(s.cursor, func(envs []Envelope, end int64) error {
		if err := publish(ctx, envs); err != nil {
			return err
		}
		if err := s.setCursor(end); err != nil {
			return err
		}
		s.pending -= len(envs)
		return nil
	})
	if err != nil {
		return err
	}
	if s.cursor == s.size {
		if err := s.f.Truncate(0); err != nil {
			return fmt.Errorf("spool: truncate: %w", err)
		}
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("spool: fsync: %w", err)
		}
		s.size, s.pending = 0, 0
		return s.setCursor(0)
	}
	return nil
}

// setCursor writes the cursor file atomically.
func (s *Spool) setCursor(off int64) error {
	tmp := filepath.Join(s.dir, cursorFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: cursor: %w", err)
	}
	_, err = f.WriteString(strconv.FormatInt(off, 10))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.dir, cursorFile))
	}
	if err != nil {
		return fmt.Errorf("spool: cursor: %w", err)
	}
	s.cursor = off
	return nil
}

// Close closes the file.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}

// ErrBusDown is returned by a fail-closed Publisher when the bus did not
// take a batch.
var ErrBusDown = errors.New("event bus unavailable; batch refused (fail-closed)")

// Publisher is what a gateway appends to (it implements ingest.Appender):
// it publishes each batch to the bus and returns once the stream has
// stored it. When the bus does not answer, the batch goes to the spool
// (fsync'd, then acknowledged) or, with FailClosed, is refused. While the
// spool holds anything, new batches are spooled behind it so that each
// actor's events stay in order; Run drains it when the bus is back.
type Publisher struct {
	Bus        *Bus
	Spool      *Spool // nil: fail closed
	FailClosed bool
	Log        *slog.Logger

	// Counters for metrics (atomic through mu).
	mu        sync.Mutex
	published int64
	spooled   int64
}

// AppendAccess publishes sealed access events.
func (p *Publisher) AppendAccess(ctx context.Context, events []custos.AccessEvent) (custos.AppendResult, error) {
	envs, err := AccessEnvelopes(events)
	if err != nil {
		return custos.AppendResult{}, err
	}
	return p.publish(ctx, envs)
}

// AppendLogins publishes login events.
func (p *Publisher) AppendLogins(ctx context.Context, events []custos.LoginEvent) (custos.AppendResult, error) {
	envs, err := LoginEnvelopes(events)
	if err != nil {
		return custos.AppendResult{}, err
	}
	return p.publish(ctx, envs)
}

func (p *Publisher) publish(ctx context.Context, envs []Envelope) (custos.AppendResult, error) {
	if len(envs) == 0 {
		return custos.AppendResult{}, nil
	}
	if err := ctx.Err(); err != nil {
		return custos.AppendResult{}, err
	}
	if p.Spool == nil || p.Spool.Pending() == 0 {
		res, err := p.Bus.Publish(ctx, envs)
		if err == nil {
			p.count(&p.published, len(envs))
			return res, nil
		}
		if p.FailClosed || p.Spool == nil {
			return custos.AppendResult{}, fmt.Errorf("%w: %v", ErrBusDown, err)
		}
		p.logger().Warn("bus did not take a batch; spooling", "events", len(envs), "err", err)
	}
	if err := p.Spool.Append(envs); err != nil {
		return custos.AppendResult{}, err
	}
	p.count(&p.spooled, len(envs))
	// Spooled events count as stored: they are durable on this node and
	// reach the stream, where duplicates by id are dropped.
	return custos.AppendResult{Stored: len(envs)}, nil
}

func (p *Publisher) count(c *int64, n int) {
	p.mu.Lock()
	*c += int64(n)
	p.mu.Unlock()
}

// Counts returns events published directly and spooled since start.
func (p *Publisher) Counts() (published, spooled int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.published, p.spooled
}

// Run drains the spool every interval until ctx is done.
func (p *Publisher) Run(ctx context.Context, interval time.Duration) {
	if p.Spool == nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p.Spool.Pending() == 0 || !p.Bus.Connected() {
			continue
		}
		err := p.Spool.Drain(ctx, func(ctx context.Context, envs []Envelope) error {
			_, err := p.Bus.Publish(ctx, envs)
			if err == nil {
				p.count(&p.published, len(envs))
			}
			return err
		})
		if err != nil && ctx.Err() == nil {
			p.logger().Warn("spool replay paused", "pending", p.Spool.Pending(), "err", err)
		}
	}
}

func (p *Publisher) logger() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}
