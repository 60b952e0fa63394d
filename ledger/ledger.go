package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// Options configure a Ledger. The zero value is usable.
type Options struct {
	// Origin names the log in its checkpoints (default DefaultOrigin). It
	// is fixed when the signing key is created.
	Origin string
	// CheckpointInterval is how often a signed checkpoint is published
	// (default 1s; Tessera's minimum is 100ms on POSIX, 1s on MySQL).
	CheckpointInterval time.Duration
	// BatchMaxSize and BatchMaxAge bound a Tessera sequencing batch; each
	// batch costs a handful of fsyncs, so bigger batches mean more events
	// per second (defaults 4096 and 20ms).
	BatchMaxSize uint
	BatchMaxAge  time.Duration
	// MySQL, if set, holds the log (Tessera's MySQL driver, for MariaDB
	// or MySQL shared by several Custos instances) instead of <dir>/log.
	// The signing key and the leaf index stay in dir. The schema is
	// created if missing.
	MySQL *sql.DB
	// Witness, if set, is sent every new checkpoint with a consistency
	// proof from the last one it cosigned.
	Witness Witness
	// Logger receives operational messages (no personal data: the ledger
	// only sees sealed events and logs IDs and counts).
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Origin == "" {
		o.Origin = DefaultOrigin
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = time.Second
	}
	if o.BatchMaxSize == 0 {
		o.BatchMaxSize = 4096
	}
	if o.BatchMaxAge == 0 {
		o.BatchMaxAge = 20 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Ledger appends records to a Tessera log under dir and keeps the index
// from event ID to leaf.
type Ledger struct {
	dir      string
	opts     Options
	signer   note.Signer
	vkey     string
	verifier note.Verifier
	add      tessera.AddFn
	reader   tessera.LogReader
	shutdown func(context.Context) error
	ix       *index
	keys     *subjectKeys // data keys of subjects (crypto-shredding); nil for ledgers that predate it

	mu      sync.Mutex
	pending map[kindID]*pendingEntry

	// Store positions the follower has appended up to.
	accessSeq atomic.Int64
	loginSeq  atomic.Int64
	auditSeq  atomic.Int64

	// addMu keeps each Append's entries contiguous and in call order.
	addMu         sync.Mutex
	cancelStorage context.CancelFunc

	witnessMu   sync.Mutex
	witnessed   atomic.Uint64 // size of the last checkpoint the witness cosigned
	stop        context.CancelFunc
	bg          sync.WaitGroup
	appended    atomic.Uint64
	closeOnce   sync.Once
	closeResult error
}

type pendingEntry struct {
	done chan struct{}
	leaf uint64
	err  error
}

// Open opens (creating if needed) the ledger in dir: the signing key, the
// Tessera log in dir/log and the leaf index. It brings the index up to
// date with the log, so entries a crash left unindexed are indexed again.
func Open(ctx context.Context, dir string, opts Options) (*Ledger, error) {
	opts.setDefaults()
	// Tessera's background work (integration, checkpoints, GC) lives as
	// long as the context it is given: Close cancels this one.
	ctx, cancelStorage := context.WithCancel(ctx)
	ok := false
	defer func() {
		if !ok {
			cancelStorage()
		}
	}()
	if err := os.MkdirAll(filepath.Join(dir, logDirName), 0o700); err != nil {
		return nil, fmt.Errorf("ledger: create %s: %w", dir, err)
	}
	signer, vkey, err := loadOrCreateKey(dir, signerKeyName, signerPubName, opts.Origin)
	if err != nil {
		return nil, err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("ledger: verifier: %w", err)
	}
	var driver tessera.Driver
	if opts.MySQL != nil {
		if driver, err = OpenMySQLLog(ctx, opts.MySQL); err != nil {
			return nil, err
		}
	} else if driver, err = posix.New(ctx, posix.Config{Path: filepath.Join(dir, logDirName)}); err != nil {
		return nil, fmt.Errorf("ledger: posix driver: %w", err)
	}
	topts := tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithCheckpointInterval(opts.CheckpointInterval).
		WithBatching(opts.BatchMaxSize, opts.BatchMaxAge).
		WithPushback(1 << 20)
	appender, shutdown, reader, err := tessera.NewAppender(ctx, driver, topts)
	if err != nil {
		return nil, fmt.Errorf("ledger: tessera appender: %w", err)
	}
	ix, err := openIndex(filepath.Join(dir, indexName), false)
	if err != nil {
		shutdown(ctx)
		return nil, err
	}
	l := &Ledger{
		dir: dir, opts: opts, signer: signer, vkey: vkey, verifier: verifier,
		add: appender.Add, reader: reader, shutdown: shutdown, ix: ix,
		pending: make(map[kindID]*pendingEntry), cancelStorage: cancelStorage,
	}
	if err := l.reindex(ctx); err != nil {
		l.closeStorage(ctx)
		return nil, err
	}
	for kind, pos := range map[string]*atomic.Int64{KindAccess: &l.accessSeq, KindLogin: &l.loginSeq, KindAudit: &l.auditSeq} {
		n, err := ix.maxSeq(ctx, kind)
		if err != nil {
			l.closeStorage(ctx)
			return nil, err
		}
		pos.Store(n)
	}
	// Access events appended from now on have their subjects sealed
	// (subjectkeys.go); a ledger that already holds plain ones keeps them.
	if l.keys, err = openSubjectKeys(dir, true, l.accessSeq.Load()+1); err != nil {
		l.closeStorage(ctx)
		return nil, err
	}
	bgctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.stop = cancel
	if opts.Witness != nil {
		if latest, err := opts.Witness.Latest(ctx, opts.Origin); err == nil && latest != nil {
			l.witnessed.Store(latest.Size)
		}
		l.bg.Add(1)
		go func() {
			defer l.bg.Done()
			l.witnessLoop(bgctx)
		}()
	}
	ok = true
	return l, nil
}

// VerifierKey is the note verifier key of the ledger's checkpoints. Keep a
// copy outside the data directory: Verify trusts the key it is given.
func (l *Ledger) VerifierKey() string { return l.vkey }

// Dir is the ledger directory.
func (l *Ledger) Dir() string { return l.dir }

// reindex records in the index every integrated entry it does not have:
// the entries a crash left between the durable Tessera append and the
// index write.
func (l *Ledger) reindex(ctx context.Context) error {
	next, err := l.ix.firstGap(ctx)
	if err != nil {
		return err
	}
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return fmt.Errorf("ledger: integrated size: %w", err)
	}
	if next < size {
		l.opts.Logger.Info("ledger: indexing entries missing from the index", "from", next, "to", size)
		var rows []indexRow
		err = forEachEntry(ctx, l.reader.ReadEntryBundle, next, size, size, func(i uint64, data []byte) error {
			h, err := parseHead(data)
			if err != nil {
				return fmt.Errorf("ledger: entry %d: %w", i, err)
			}
			rows = append(rows, indexRow{Leaf: i, Kind: h.Kind, ID: h.ID, Seq: h.Seq})
			if len(rows) >= 10000 {
				err := l.ix.put(ctx, rows)
				rows = rows[:0]
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := l.ix.put(ctx, rows); err != nil {
			return err
		}
	}
	return l.ix.setComplete(ctx, size)
}

// Append adds records to the log and returns each one's leaf index once
// the entries are durable: written, fsync'd and integrated into the tree
// (the signed checkpoint that covers them follows within
// CheckpointInterval). It is idempotent by record kind and ID: a record
// already in the ledger, or being appended by another call, is not
// appended again and gets its existing leaf. (IDs are unique per kind
// only: an access and a login may share one, and both get an entry.)
func (l *Ledger) Append(ctx context.Context, recs []Record) ([]uint64, error) {
	wait, err := l.appendAsync(ctx, recs)
	if err != nil {
		return nil, err
	}
	return wait()
}

// appendAsync queues recs in Tessera, in order and contiguously, and
// returns a function that waits for their durable integration. The
// follower uses it to read the next batch from the store while the
// previous one is being written.
func (l *Ledger) appendAsync(ctx context.Context, recs []Record) (func() ([]uint64, error), error) {
	leaves := make([]uint64, len(recs))
	data := make([][]byte, len(recs))
	for i, r := range recs {
		b, err := r.Encode()
		if err != nil {
			return nil, err
		}
		data[i] = b
	}
	// Claim the IDs first, so that a concurrent call with the same ID
	// waits for this one instead of appending a duplicate.
	owned := make([]*pendingEntry, len(recs))
	waits := make(map[int]*pendingEntry)
	var claimed []kindID
	l.mu.Lock()
	for i, r := range recs {
		k := kindID{r.Kind, r.ID}
		if p, ok := l.pending[k]; ok {
			waits[i] = p
			continue
		}
		p := &pendingEntry{done: make(chan struct{})}
		l.pending[k] = p
		owned[i] = p
		claimed = append(claimed, k)
	}
	l.mu.Unlock()
	release := func(err error) {
		l.mu.Lock()
		for i, p := range owned {
			if p == nil {
				continue
			}
			if p.err == nil && err != nil {
				p.err = err
			}
			delete(l.pending, kindID{recs[i].Kind, recs[i].ID})
			close(p.done)
		}
		l.mu.Unlock()
	}
	known, err := l.ix.knownKinds(ctx, claimed)
	if err != nil {
		release(err)
		return nil, err
	}
	futures := make([]tessera.IndexFuture, len(recs))
	for i, p := range owned {
		if p == nil || !known[kindID{recs[i].Kind, recs[i].ID}] {
			continue
		}
		row, err := l.ix.lookupKind(ctx, recs[i].Kind, recs[i].ID)
		if err != nil {
			release(err)
			return nil, err
		}
		p.leaf = row.Leaf
	}
	l.addMu.Lock()
	for i, p := range owned {
		if p != nil && !known[kindID{recs[i].Kind, recs[i].ID}] {
			futures[i] = l.add(ctx, tessera.NewEntry(data[i]))
		}
	}
	l.addMu.Unlock()
	return func() ([]uint64, error) { return l.awaitAppend(ctx, recs, owned, waits, futures, leaves, release) }, nil
}

func (l *Ledger) awaitAppend(ctx context.Context, recs []Record, owned []*pendingEntry, waits map[int]*pendingEntry, futures []tessera.IndexFuture, leaves []uint64, release func(error)) ([]uint64, error) {
	var rows []indexRow
	var firstErr error
	for i, f := range futures {
		if f == nil {
			continue
		}
		idx, err := f()
		if err != nil {
			owned[i].err = fmt.Errorf("ledger: append %s: %w", recs[i].ID, err)
			if firstErr == nil {
				firstErr = owned[i].err
			}
			continue
		}
		owned[i].leaf = idx.Index
		rows = append(rows, indexRow{Leaf: idx.Index, Kind: recs[i].Kind, ID: recs[i].ID, Seq: recs[i].Seq})
	}
	if err := l.ix.put(ctx, rows); err != nil && firstErr == nil {
		// The entries are durable in the log; Open re-indexes them.
		firstErr = err
	}
	l.appended.Add(uint64(len(rows)))
	release(firstErr)
	if firstErr != nil {
		return nil, firstErr
	}
	for i, p := range owned {
		if p != nil {
			leaves[i] = p.leaf
		}
	}
	for i, p := range waits {
		select {
		case <-p.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if p.err != nil {
			return nil, p.err
		}
		leaves[i] = p.leaf
	}
	return leaves, nil
}

// Size returns the number of entries integrated into the tree, which may
// be ahead of the last published checkpoint.
func (l *Ledger) Size(ctx context.Context) (uint64, error) {
	return l.reader.IntegratedSize(ctx)
}

// Checkpoint returns the latest published signed checkpoint.
func (l *Ledger) Checkpoint(ctx context.Context) ([]byte, error) {
	return l.reader.ReadCheckpoint(ctx)
}

// Close stops the background work, lets Tessera publish a checkpoint that
// covers every appended entry, hands it to the witness and closes the
// index.
func (l *Ledger) Close(ctx context.Context) error {
	l.closeOnce.Do(func() {
		l.stop()
		l.bg.Wait()
		err := l.awaitPublished(ctx)
		if serr := l.shutdown(ctx); err == nil {
			err = serr
		}
		if err == nil && l.opts.Witness != nil {
			err = l.WitnessNow(ctx)
		}
		l.cancelStorage()
		if cerr := l.ix.Close(); err == nil {
			err = cerr
		}
		if l.keys != nil {
			if cerr := l.keys.Close(); err == nil {
				err = cerr
			}
		}
		l.closeResult = err
	})
	return l.closeResult
}

// awaitPublished waits until the published checkpoint covers every
// integrated entry. Tessera's own shutdown waits only for entries added
// by this process; entries a crashed process integrated without a
// checkpoint need this.
func (l *Ledger) awaitPublished(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*l.opts.CheckpointInterval+30*time.Second)
	defer cancel()
	for {
		size, err := l.reader.IntegratedSize(ctx)
		if err != nil {
			return fmt.Errorf("ledger: integrated size: %w", err)
		}
		raw, err := l.reader.ReadCheckpoint(ctx)
		if err == nil {
			cp, _, _, err := log.ParseCheckpoint(raw, l.opts.Origin, l.verifier)
			if err != nil {
				return fmt.Errorf("ledger: own checkpoint: %w", err)
			}
			if cp.Size >= size {
				return nil
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("ledger: read checkpoint: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ledger: checkpoint did not reach size %d: %w", size, ctx.Err())
		case <-time.After(l.opts.CheckpointInterval / 4):
		}
	}
}

func (l *Ledger) closeStorage(ctx context.Context) {
	l.shutdown(ctx)
	l.cancelStorage()
	l.ix.Close()
	if l.keys != nil {
		l.keys.Close()
	}
}

// Fetcher is what reading the log needs: a tessera.LogReader,
// client.FileFetcher (POSIX files) or the *mysql.Storage OpenMySQLLog
// returns.
type Fetcher interface {
	ReadCheckpoint(ctx context.Context) ([]byte, error)
	ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error)
	ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error)
}

var _ Fetcher = client.FileFetcher{}

// errStop ends an iteration early without an error.
var errStop = errors.New("stop")
