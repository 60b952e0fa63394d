package sqlite

import (
	"slices"
	"sync"
)

// tailRows is how many of the latest rows of a table a tail keeps.
const tailRows = 16384

// tail keeps the rows of the last groups the writer committed to one
// table (events or logins), as stored, so that the followers reading right
// behind the writer — the ledger and the detection consumer, each calling
// AccessSince — take them from memory instead of reading the database
// again, and decode each group once for all of them (with the same
// decoder as a database read, so the answer is the same).
//
// It holds every committed row with seq > base: base is the highest seq
// at open or at the last reset, and each group the writer commits is
// pushed after its commit, in seq order. A read from before base goes to
// the database.
type tail[T any] struct {
	decode func(seq int64, doc []byte) (T, error)

	mu     sync.Mutex
	base   int64
	last   int64
	groups []*tailGroup[T]
	rows   int
}

type tailGroup[T any] struct {
	seqs []int64
	docs [][]byte

	once  sync.Once
	items []T
	err   error
}

func newTail[T any](base int64, decode func(int64, []byte) (T, error)) *tail[T] {
	return &tail[T]{decode: decode, base: base, last: base}
}

// pending collects the rows of the group being committed.
type pending struct {
	seqs []int64
	docs [][]byte
}

func (p *pending) add(seq int64, doc []byte) {
	p.seqs = append(p.seqs, seq)
	p.docs = append(p.docs, doc)
}

func (p *pending) clear() { p.seqs, p.docs = p.seqs[:0], p.docs[:0] }

// push adds a committed group's rows and drops the oldest groups beyond
// tailRows.
func (t *tail[T]) push(p *pending) {
	if len(p.seqs) == 0 {
		return
	}
	g := &tailGroup[T]{seqs: slices.Clone(p.seqs), docs: slices.Clone(p.docs)}
	t.mu.Lock()
	defer t.mu.Unlock()
	if g.seqs[0] <= t.last {
		// Not after what is held (cannot happen with one writer): start
		// over from here rather than risk an answer out of order.
		t.groups, t.rows, t.base = nil, 0, g.seqs[len(g.seqs)-1]
		t.last = t.base
		return
	}
	t.groups = append(t.groups, g)
	t.rows += len(g.seqs)
	t.last = g.seqs[len(g.seqs)-1]
	for t.rows > tailRows && len(t.groups) > 1 {
		old := t.groups[0]
		t.groups[0] = nil
		t.groups = t.groups[1:]
		t.rows -= len(old.seqs)
		t.base = old.seqs[len(old.seqs)-1]
	}
}

// reset forgets every row held, and every row up to seq: stored rows
// change (an erasure rewrites documents), so they are read from the
// database from now on.
func (t *tail[T]) reset(seq int64) {
	t.mu.Lock()
	t.groups, t.rows = nil, 0
	t.base = max(t.last, seq)
	t.last = t.base
	t.mu.Unlock()
}

// since returns up to limit rows with seq > after, in seq order, and true;
// false when rows that old are not held.
func (t *tail[T]) since(after int64, limit int) ([]T, bool, error) {
	t.mu.Lock()
	if after < t.base {
		t.mu.Unlock()
		return nil, false, nil
	}
	var groups []*tailGroup[T]
	for i := len(t.groups) - 1; i >= 0 && t.groups[i].seqs[len(t.groups[i].seqs)-1] > after; i-- {
		groups = append(groups, t.groups[i])
	}
	t.mu.Unlock()
	slices.Reverse(groups)
	var out []T
	for _, g := range groups {
		g.once.Do(func() {
			g.items = make([]T, len(g.seqs))
			for i, seq := range g.seqs {
				if g.items[i], g.err = t.decode(seq, g.docs[i]); g.err != nil {
					return
				}
			}
			g.docs = nil // decoded: the documents are not needed any more
		})
		if g.err != nil {
			return nil, false, g.err
		}
		i, _ := slices.BinarySearch(g.seqs, after+1)
		for ; i < len(g.items) && len(out) < limit; i++ {
			out = append(out, g.items[i])
		}
		if len(out) == limit {
			break
		}
	}
	return out, true, nil
}
