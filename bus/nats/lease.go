package nats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Work processes one partition for as long as its ctx lives. It is
// cancelled when the lease is lost or handed over, and must then return
// promptly (after saving what it wants the next owner to start from). A
// Work that returns an error while still holding the lease is started
// again after a pause.
type Work func(ctx context.Context, partition int) error

// RunPartitions takes part in sharing the units of work (actor and cross
// partitions, see Units) among the detectors named by node ids: it
// announces node, claims and renews a fair share of unit leases
// (ceil(units / live nodes)), releases units beyond its share when other
// nodes join, and runs work on each unit it holds. It returns when ctx is done, after every work has returned
// and its leases have been released for the others to take at once.
//
// Owned reports the partitions held at any moment (for /readyz and
// metrics); it may be nil.
func (b *Bus) RunPartitions(ctx context.Context, node string, work Work, owned func([]int)) error {
	if node == "" || strings.ContainsAny(node, ". *>") {
		return fmt.Errorf("nats: node id %q must be non-empty without '.', '*', '>' or spaces", node)
	}
	r := &runner{b: b, node: node, work: work, held: map[int]*held{}}
	tick := b.opts.LeaseTTL / 4
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if err := r.round(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn("nats: lease round", "node", node, "err", err)
		}
		if owned != nil {
			owned(r.owned())
		}
		select {
		case <-ctx.Done():
			r.releaseAll()
			if owned != nil {
				owned(nil)
			}
			return nil
		case <-t.C:
		}
	}
}

type held struct {
	rev     uint64
	renewed time.Time // last successful claim or renewal
	cancel  context.CancelFunc
	done    chan struct{}
}

type runner struct {
	b    *Bus
	node string
	work Work

	mu   sync.Mutex
	held map[int]*held
}

// leaseKey is unit u's lease: "p.<n>" for actor partition n, "x.<n>" for
// cross partition n.
func (b *Bus) leaseKey(u int) string {
	if p, cross := b.Unit(u); cross {
		return "x." + strconv.Itoa(p)
	}
	return "p." + strconv.Itoa(u)
}

// leaseUnit parses a lease key back into its unit.
func (b *Bus) leaseUnit(k string) (int, bool) {
	if len(k) < 3 || (k[:2] != "p." && k[:2] != "x.") {
		return 0, false
	}
	p, err := strconv.Atoi(k[2:])
	if err != nil || p < 0 || p >= b.opts.Partitions {
		return 0, false
	}
	if k[0] == 'x' {
		p += b.opts.Partitions
	}
	return p, true
}

func memberKey(n string) string { return "m." + n }

// round renews, balances and claims once.
func (r *runner) round(ctx context.Context) error {
	kv := r.b.leases
	r.renew(ctx)
	rctx, cancel := context.WithTimeout(ctx, r.b.opts.LeaseTTL/2)
	defer cancel()
	if _, err := kv.Put(rctx, memberKey(r.node), []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
		return fmt.Errorf("announce: %w", err)
	}

	keys, err := kv.Keys(rctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return fmt.Errorf("list leases: %w", err)
	}
	members, taken := 0, map[int]bool{}
	for _, k := range keys {
		if strings.HasPrefix(k, "m.") {
			members++
		} else if u, ok := r.b.leaseUnit(k); ok {
			taken[u] = true
		}
	}
	if members == 0 {
		members = 1
	}
	n := r.b.Units()
	fair := (n + members - 1) / members
	mine := r.owned()
	if len(mine) > fair {
		// Hand the highest-numbered extras over; the newcomer claims
		// them when the leases are gone.
		for _, p := range mine[fair:] {
			r.release(p)
		}
		return nil
	}
	// Claim free partitions, starting at a node-specific offset so that
	// nodes starting together do not all race for partition 0.
	start := Partition(r.node, n)
	for i := 0; i < n && len(r.owned()) < fair; i++ {
		p := (start + i) % n
		if taken[p] {
			continue
		}
		rev, err := kv.Create(rctx, r.b.leaseKey(p), []byte(r.node))
		if err != nil {
			continue // someone else was quicker
		}
		r.start(ctx, p, rev)
	}
	return nil
}

// renew extends every held lease, all at once. A lease another node now
// holds (or that expired and was deleted) stops its work at once; a lease
// that could not be renewed for another reason (a timeout on a loaded
// server, a reconnect) is kept while its last renewal is younger than
// three quarters of the TTL, and stopped after, since another node may
// then claim it.
func (r *runner) renew(ctx context.Context) {
	type result struct {
		rev  uint64
		lost bool // another owner for sure
		err  error
	}
	r.mu.Lock()
	revs := make(map[int]uint64, len(r.held))
	for p, h := range r.held {
		revs[p] = h.rev
	}
	r.mu.Unlock()
	results := make(map[int]result, len(revs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for p, rev := range revs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, r.b.opts.LeaseTTL/2)
			defer cancel()
			res := result{}
			res.rev, res.err = r.b.leases.Update(rctx, r.b.leaseKey(p), []byte(r.node), rev)
			if res.err != nil {
				// A conflict may be our own earlier update that timed out
				// on the client but succeeded on the server: the newest
				// value tells.
				e, err := r.b.leases.Get(rctx, r.b.leaseKey(p))
				switch {
				case err == nil && e.Operation() == jetstream.KeyValuePut && string(e.Value()) == r.node:
					res.rev, res.err = e.Revision(), nil
				case err == nil, errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
					res.lost = true
				}
			}
			mu.Lock()
			results[p] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	now := time.Now()
	for p, res := range results {
		r.mu.Lock()
		h, ok := r.held[p]
		if ok && res.err == nil {
			h.rev, h.renewed = res.rev, now
		}
		stale := ok && now.Sub(h.renewed) > r.b.opts.LeaseTTL*3/4
		r.mu.Unlock()
		if res.err == nil || !ok {
			continue
		}
		if res.lost || stale {
			r.b.log.Warn("nats: lease lost", "partition", p, "err", res.err)
			r.stop(p, false)
			continue
		}
		r.b.log.Debug("nats: lease renewal failed; retrying", "partition", p, "err", res.err)
	}
}

func (r *runner) owned() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int, 0, len(r.held))
	for p := range r.held {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func (r *runner) start(ctx context.Context, p int, rev uint64) {
	wctx, cancel := context.WithCancel(ctx)
	h := &held{rev: rev, renewed: time.Now(), cancel: cancel, done: make(chan struct{})}
	r.mu.Lock()
	r.held[p] = h
	r.mu.Unlock()
	r.b.log.Info("nats: partition acquired", "partition", p)
	go func() {
		defer close(h.done)
		for {
			err := r.work(wctx, p)
			if wctx.Err() != nil {
				return
			}
			r.b.log.Warn("nats: partition work failed; restarting", "partition", p, "err", err)
			select {
			case <-wctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
}

// stop cancels a partition's work and waits for it; with release, the
// lease is deleted afterwards so another node can claim it at once.
func (r *runner) stop(p int, release bool) {
	r.mu.Lock()
	h, ok := r.held[p]
	delete(r.held, p)
	r.mu.Unlock()
	if !ok {
		return
	}
	h.cancel()
	<-h.done
	if release {
		ctx, cancel := context.WithTimeout(context.Background(), r.b.opts.LeaseTTL/2)
		defer cancel()
		if err := r.b.leases.Delete(ctx, r.b.leaseKey(p), jetstream.LastRevision(h.rev)); err != nil {
			r.b.log.Warn("nats: release lease", "partition", p, "err", err)
		}
	}
	r.b.log.Info("nats: partition released", "partition", p)
}

func (r *runner) release(p int) { r.stop(p, true) }

func (r *runner) releaseAll() {
	for _, p := range r.owned() {
		r.release(p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.b.opts.LeaseTTL/2)
	defer cancel()
	r.b.leases.Delete(ctx, memberKey(r.node))
}

// Owners returns which node holds each leased unit (see Units) now.
func (b *Bus) Owners(ctx context.Context) (map[int]string, error) {
	keys, err := b.leases.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return map[int]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nats: leases: %w", err)
	}
	out := map[int]string{}
	for _, k := range keys {
		p, ok := b.leaseUnit(k)
		if !ok {
			continue
		}
		e, err := b.leases.Get(ctx, k)
		if err != nil {
			continue // released meanwhile
		}
		out[p] = string(e.Value())
	}
	return out, nil
}
