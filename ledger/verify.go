package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// VerifyOptions say what Verify trusts besides the log itself.
type VerifyOptions struct {
	// LogKey is the note verifier key the checkpoints must be signed
	// with. Empty means <dir>/signer.pub, which an operator who controls
	// the directory can replace: an audit passes a copy kept elsewhere.
	LogKey string
	// Trusted are checkpoints saved earlier (custos ledger verify
	// --from): the log must still contain exactly the entries they
	// commit to.
	Trusted [][]byte
	// WitnessDir, if set, is a FileWitness directory whose cosigned
	// checkpoints the log must be consistent with.
	WitnessDir string
	// Witness, if set, is a witness on another host (HTTPWitness): its
	// history is fetched and used as WitnessDir's would be.
	Witness *HTTPWitness
	// Store, if set, is the event store: every ledger entry of a stored
	// kind must be the store's event with that sequence number, and no
	// stored event up to the ledger's last may be missing.
	Store Source
	// Log, if set, is where the log is read from (OpenMySQLLog for a
	// MySQL-backed ledger); nil means the POSIX files in <dir>/log.
	Log Fetcher
	// Workers read and hash bundles in parallel (default 2×GOMAXPROCS).
	Workers int
}

// Problem is one way the ledger is not intact.
type Problem struct {
	// Leaf is the first entry the problem concerns, or -1 when it is not
	// tied to an entry (a bad signature).
	Leaf int64  `json:"leaf"`
	What string `json:"what"`
}

func (p Problem) String() string {
	if p.Leaf < 0 {
		return p.What
	}
	return fmt.Sprintf("entry %d: %s", p.Leaf, p.What)
}

// Report is what Verify found.
type Report struct {
	Size     uint64        `json:"size"` // entries the checkpoint commits to
	Root     []byte        `json:"root"` // root recomputed from the entries
	Checked  uint64        `json:"checked"`
	Anchors  []string      `json:"anchors"` // what the log was checked against
	Problems []Problem     `json:"problems"`
	Notes    []string      `json:"notes"`
	Took     time.Duration `json:"took"`
}

// Intact reports whether Verify found no problem.
func (r *Report) Intact() bool { return len(r.Problems) == 0 }

// FirstBad is the earliest entry a problem names, or the first problem
// if none names an entry; nil when intact.
func (r *Report) FirstBad() *Problem {
	if len(r.Problems) == 0 {
		return nil
	}
	return &r.Problems[0]
}

func (r *Report) add(leaf int64, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Leaf: leaf, What: fmt.Sprintf(format, args...)})
}

// anchor is a checkpoint the recomputed tree must agree with.
type anchor struct {
	size  uint64
	root  []byte
	label string
}

// Verify recomputes the Merkle tree of the ledger in dir from its entries
// and checks it against the signed checkpoint, the trusted and witnessed
// checkpoints, the stored leaf hashes, the leaf index and, if given, the
// event store. It names the earliest entry that differs. An error means
// Verify could not run (unreadable key, bad options); a damaged log is a
// Report with problems.
func Verify(ctx context.Context, dir string, opts VerifyOptions) (*Report, error) {
	start := time.Now()
	rep := &Report{}
	vkey := opts.LogKey
	if vkey == "" {
		var err error
		if vkey, err = readVerifierKey(filepath.Join(dir, signerPubName)); err != nil {
			return nil, err
		}
		rep.Notes = append(rep.Notes, "log key read from the ledger directory; pass --key with a copy kept elsewhere to rule out a replaced key")
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("ledger: log key: %w", err)
	}
	var f Fetcher = client.FileFetcher{Root: filepath.Join(dir, logDirName)}
	if opts.Log != nil {
		f = opts.Log
	}

	// The checkpoint under test.
	raw, err := f.ReadCheckpoint(ctx)
	if err != nil {
		rep.add(0, "no checkpoint: %v", err)
		rep.Took = time.Since(start)
		return rep, nil
	}
	cp, _, _, err := log.ParseCheckpoint(raw, v.Name(), v)
	if err != nil {
		rep.add(-1, "checkpoint is not signed by the trusted ledger key (%v): the log was replaced or re-signed", err)
		if cp = parseUnverified(raw); cp == nil {
			rep.Took = time.Since(start)
			return rep, nil
		}
	}
	rep.Size = cp.Size

	// Anchors: earlier checkpoints this one must extend.
	var anchors []anchor
	for i, t := range opts.Trusted {
		tc, _, _, err := log.ParseCheckpoint(t, v.Name(), v)
		if err != nil {
			// The operator vouches for this checkpoint (it was saved
			// somewhere he trusts). If the key in use does not sign it, the
			// ledger was re-keyed — a forger who replaced signer.pub —, or
			// it is not a checkpoint of this log at all: either way the
			// log is not intact. Its size and root still name where the
			// log departs from it.
			tc = parseUnverified(t)
			if tc == nil {
				return nil, fmt.Errorf("ledger: trusted checkpoint %d: %w", i+1, err)
			}
			rep.add(-1, "trusted checkpoint %d (size %d) is not signed by the ledger key in use (%v): the ledger was re-keyed or replaced", i+1, tc.Size, err)
		}
		anchors = append(anchors, anchor{size: tc.Size, root: tc.Hash, label: fmt.Sprintf("trusted checkpoint of size %d", tc.Size)})
	}
	if opts.WitnessDir != "" || opts.Witness != nil {
		// The witness keeps the ledger key it first saw; its history is
		// read with that key, so a re-keyed forgery cannot match it.
		var wkey string
		var ws []WitnessedCheckpoint
		if opts.Witness != nil {
			wkey, ws, err = opts.Witness.FetchWitnessed(ctx)
			if wkey == "" && err != nil {
				return nil, err
			}
		} else {
			if wkey, err = readVerifierKey(filepath.Join(opts.WitnessDir, witnessLogPub)); err != nil {
				return nil, fmt.Errorf("ledger: witness: %w", err)
			}
			ws, err = ReadWitnessed(opts.WitnessDir, wkey)
		}
		if wkey != vkey {
			rep.add(-1, "the ledger key differs from the one the witness holds: the ledger was re-keyed or replaced")
		}
		if err != nil {
			rep.add(-1, "witness history does not verify: %v", err)
		}
		for _, w := range ws {
			anchors = append(anchors, anchor{size: w.Size, root: w.Hash, label: fmt.Sprintf("witnessed checkpoint of size %d", w.Size)})
		}
		rep.Anchors = append(rep.Anchors, fmt.Sprintf("%d witnessed checkpoints", len(ws)))
	}
	// The checkpoint under test is the last anchor: the recomputed root
	// must be its root.
	anchors = append(anchors, anchor{size: cp.Size, root: cp.Hash, label: "log's checkpoint"})
	sort.SliceStable(anchors, func(i, j int) bool { return anchors[i].size < anchors[j].size })
	for _, a := range anchors {
		if a.size > cp.Size {
			rep.add(int64(cp.Size), "log has %d entries but a %s exists: rolled back or truncated", cp.Size, a.label)
			break
		}
	}
	if len(opts.Trusted) > 0 {
		rep.Anchors = append(rep.Anchors, fmt.Sprintf("%d trusted checkpoints", len(opts.Trusted)))
	}

	s := &scan{ctx: ctx, f: f, size: cp.Size, rep: rep, anchors: anchors, workers: opts.Workers}
	if s.workers <= 0 {
		// Reading bundle and tile files waits on the disk: more readers
		// than cores keep the cores busy.
		s.workers = 2 * runtime.GOMAXPROCS(0)
	}
	if ix, err := openIndexIfExists(filepath.Join(dir, indexName)); err != nil {
		return nil, err
	} else if ix != nil {
		defer ix.Close()
		s.ix = ix
		rep.Anchors = append(rep.Anchors, "leaf index")
	}
	if opts.Store != nil {
		keys, err := openSubjectKeys(dir, false, 0)
		if err != nil {
			return nil, err
		}
		if keys != nil {
			defer keys.Close()
		}
		s.store = newStoreCursor(opts.Store, keys)
		rep.Anchors = append(rep.Anchors, "event store")
	}
	if err := s.run(); err != nil {
		return nil, err
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool {
		a, b := rep.Problems[i].Leaf, rep.Problems[j].Leaf
		if (a < 0) != (b < 0) {
			return a >= 0
		}
		return a < b
	})
	rep.Took = time.Since(start)
	return rep, nil
}

func openIndexIfExists(path string) (*index, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return openIndex(path, true)
}

// scan walks the entries in chunks of bundles: workers read, hash and
// parse bundles in parallel; the ordered part (the compact range, the
// index and the store) runs on the caller's goroutine.
type scan struct {
	ctx     context.Context
	f       Fetcher
	size    uint64
	rep     *Report
	anchors []anchor
	workers int
	ix      *index
	store   *storeCursor
	// level1 holds the root of every full bundle's 256 leaves, in order:
	// the nodes the level-1 hash tiles must hold.
	level1 [][]byte
}

type bundleResult struct {
	first   uint64
	entries [][]byte
	hashes  [][]byte
	heads   []recordHead
	tile    [][]byte // stored level-0 leaf hashes
	root    []byte   // root of the bundle's leaves when it is full (a level-1 tile node)
	err     *entryError
	headErr map[int]error
}

const chunkBundles = 64

func (s *scan) run() error {
	hasher := rfc6962.DefaultHasher
	rf := compact.RangeFactory{Hash: hasher.HashChildren}
	cr := rf.NewEmptyRange(0)
	nBundles := (s.size + layout.EntryBundleWidth - 1) / layout.EntryBundleWidth
	ai := 0
	lastGood := uint64(0) // largest anchor size the recomputed tree matched
	var ixRows chan indexRow
	var ixErr error
	ixDone := make(chan struct{})
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	if s.ix != nil {
		ixRows = make(chan indexRow, 4096)
		go func() {
			defer close(ixDone)
			defer close(ixRows)
			ixErr = s.ix.scan(ctx, func(r indexRow) error {
				select {
				case ixRows <- r:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}()
	} else {
		close(ixDone)
	}
	var pendingRow *indexRow
	nextRow := func() *indexRow {
		if pendingRow != nil {
			r := pendingRow
			pendingRow = nil
			return r
		}
		if ixRows == nil {
			return nil
		}
		r, ok := <-ixRows
		if !ok {
			return nil
		}
		return &r
	}
	checkAnchors := func(upto uint64) bool {
		for ai < len(s.anchors) && s.anchors[ai].size <= upto {
			a := s.anchors[ai]
			ai++
			if a.size != upto {
				continue
			}
			var root []byte
			if a.size == 0 {
				root = hasher.EmptyRoot()
			} else {
				var err error
				if root, err = cr.GetRootHash(nil); err != nil {
					return false
				}
			}
			if !bytes.Equal(root, a.root) {
				s.rep.add(int64(lastGood), "the first %d entries do not hash to the root of the %s: an entry in [%d, %d) was changed", a.size, a.label, lastGood, a.size)
				return false
			}
			lastGood = a.size
		}
		return true
	}
	if !checkAnchors(0) {
		return nil
	}
	indexChecked := true
	for c := uint64(0); c < nBundles; c += chunkBundles {
		end := min(c+chunkBundles, nBundles)
		results := make([]bundleResult, end-c)
		var wg sync.WaitGroup
		next := make(chan uint64)
		for w := 0; w < s.workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range next {
					results[b-c] = s.readBundle(ctx, b)
				}
			}()
		}
		for b := c; b < end; b++ {
			next <- b
		}
		close(next)
		wg.Wait()
		for _, br := range results {
			for i := range br.entries {
				leaf := br.first + uint64(i)
				if !bytes.Equal(br.hashes[i], br.tile[i]) {
					s.rep.add(int64(leaf), "entry does not match the leaf hash the tree stores for it: changed, deleted, inserted or reordered")
					return s.finishIndex(ixDone, &ixErr, cancel)
				}
				if err := br.headErr[i]; err != nil {
					s.rep.add(int64(leaf), "entry is not a ledger record: %v", err)
					return s.finishIndex(ixDone, &ixErr, cancel)
				}
				if err := cr.Append(br.hashes[i], nil); err != nil {
					return fmt.Errorf("ledger: compact range: %w", err)
				}
				s.rep.Checked++
				h := br.heads[i]
				if indexChecked {
					if r := nextRow(); r == nil {
						if ixRows != nil && leaf < s.size {
							s.rep.Notes = append(s.rep.Notes, fmt.Sprintf("leaf index stops at entry %d (rebuilt when the ledger is next opened)", leaf))
						}
						indexChecked = false
					} else if r.Leaf != leaf || r.ID != h.ID || r.Kind != h.Kind || r.Seq != h.Seq {
						s.rep.add(int64(leaf), "leaf index says entry %d is %s %s seq %d; the log has %s %s seq %d", r.Leaf, r.Kind, r.ID, r.Seq, h.Kind, h.ID, h.Seq)
						indexChecked = false
					}
				}
				if s.store != nil {
					if msg, err := s.store.check(ctx, h, br.entries[i]); err != nil {
						return err
					} else if msg != "" {
						s.rep.add(int64(leaf), "%s", msg)
						s.store = nil
					}
				}
				if !checkAnchors(leaf + 1) {
					return s.finishIndex(ixDone, &ixErr, cancel)
				}
			}
			if br.err != nil {
				s.rep.add(int64(br.err.Leaf), "%v", br.err.Err)
				return s.finishIndex(ixDone, &ixErr, cancel)
			}
			if br.root != nil {
				s.level1 = append(s.level1, br.root)
			}
		}
	}
	if err := s.checkHigherTiles(ctx); err != nil {
		return err
	}
	root := hasher.EmptyRoot()
	if s.size > 0 {
		var err error
		if root, err = cr.GetRootHash(nil); err != nil {
			return fmt.Errorf("ledger: root: %w", err)
		}
	}
	s.rep.Root = root
	if s.store != nil {
		if msg, err := s.store.missingAfter(ctx); err != nil {
			return err
		} else if msg != "" {
			s.rep.Notes = append(s.rep.Notes, msg)
		}
		if n := s.store.shredded; n > 0 {
			s.rep.Notes = append(s.rep.Notes, fmt.Sprintf("%d entries name an erased (crypto-shredded) subject: their place in the tree was checked, their content could not be compared with the event store", n))
		}
	}
	if indexChecked && ixRows != nil {
		if r := nextRow(); r != nil && r.Leaf < s.size {
			s.rep.add(int64(r.Leaf), "leaf index names entry %d (%s %s) that the log does not have", r.Leaf, r.Kind, r.ID)
		}
	}
	return s.finishIndex(ixDone, &ixErr, cancel)
}

func (s *scan) finishIndex(done chan struct{}, ixErr *error, cancel context.CancelFunc) error {
	cancel()
	<-done
	if *ixErr != nil && !errors.Is(*ixErr, context.Canceled) {
		s.rep.Notes = append(s.rep.Notes, fmt.Sprintf("leaf index unreadable: %v", *ixErr))
	}
	return nil
}

// readBundle reads bundle b and its level-0 tile, hashes the entries and
// parses their headers.
func (s *scan) readBundle(ctx context.Context, b uint64) bundleResult {
	first := b * layout.EntryBundleWidth
	want := min(uint64(layout.EntryBundleWidth), s.size-first)
	br := bundleResult{first: first}
	p := layout.PartialTileSize(0, b, s.size)
	raw, err := readPartial(ctx, s.f.ReadEntryBundle, b, p)
	if err != nil {
		br.err = &entryError{Leaf: first, Err: fmt.Errorf("entry bundle %d unreadable: %v", b, err)}
		return br
	}
	var bundle api.EntryBundle
	if err := bundle.UnmarshalText(raw); err != nil {
		br.err = &entryError{Leaf: first, Err: fmt.Errorf("entry bundle %d does not parse (truncated or edited): %v", b, err)}
		return br
	}
	entries := bundle.Entries
	if uint64(len(entries)) > want {
		entries = entries[:want]
	}
	readTile0 := func(ctx context.Context, i uint64, p uint8) ([]byte, error) { return s.f.ReadTile(ctx, 0, i, p) }
	tileRaw, err := readPartial(ctx, readTile0, b, p)
	if err != nil {
		br.err = &entryError{Leaf: first, Err: fmt.Errorf("leaf hash tile %d unreadable: %v", b, err)}
		return br
	}
	var tile api.HashTile
	if err := tile.UnmarshalText(tileRaw); err != nil || uint64(len(tile.Nodes)) < want {
		br.err = &entryError{Leaf: first, Err: fmt.Errorf("leaf hash tile %d damaged", b)}
		return br
	}
	br.entries = entries
	br.tile = tile.Nodes[:len(entries)]
	br.hashes = make([][]byte, len(entries))
	br.heads = make([]recordHead, len(entries))
	for i, e := range entries {
		br.hashes[i] = rfc6962.DefaultHasher.HashLeaf(e)
		h, err := parseHead(e)
		if err != nil {
			if br.headErr == nil {
				br.headErr = make(map[int]error)
			}
			br.headErr[i] = err
		}
		br.heads[i] = h
	}
	if len(entries) == layout.EntryBundleWidth {
		// Hashed here, in parallel, not on the ordered path.
		br.root = perfectRoot(br.hashes)
	}
	if uint64(len(entries)) < want {
		br.err = &entryError{Leaf: first + uint64(len(entries)), Err: fmt.Errorf("missing: bundle %d holds %d entries, the checkpoint needs %d (deleted or truncated)", b, len(entries), want)}
	}
	return br
}

// readPartial reads a partial bundle or tile, falling back to the full one
// (Tessera removes partials once the full one exists) cut to size by the
// caller.
func readPartial(ctx context.Context, read func(context.Context, uint64, uint8) ([]byte, error), i uint64, p uint8) ([]byte, error) {
	raw, err := read(ctx, i, p)
	if err == nil || p == 0 || !errors.Is(err, os.ErrNotExist) {
		return raw, err
	}
	return read(ctx, i, 0)
}

// parseUnverified reads the size and root of a signed note without
// checking its signature, or returns nil if it is not a checkpoint.
func parseUnverified(raw []byte) *log.Checkpoint {
	body, _, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		return nil
	}
	cp := &log.Checkpoint{}
	if _, err := cp.Unmarshal(append(body, '\n')); err != nil {
		return nil
	}
	return cp
}

// perfectRoot is the Merkle root of a power-of-two number of hashes.
func perfectRoot(hashes [][]byte) []byte {
	level := hashes
	for len(level) > 1 {
		next := make([][]byte, len(level)/2)
		for i := range next {
			next[i] = rfc6962.DefaultHasher.HashChildren(level[2*i], level[2*i+1])
		}
		level = next
	}
	return level[0]
}

// checkHigherTiles compares the hash tiles above level 0 with the nodes
// recomputed from the entries. The root check already proves the entries;
// a damaged higher tile would make Tessera hand out inclusion and
// consistency proofs that do not verify, so it is named too, at the first
// entry whose proofs it breaks.
func (s *scan) checkHigherTiles(ctx context.Context) error {
	nodes := s.level1
	for level := uint64(1); len(nodes) > 0; level++ {
		span := uint64(1) << (layout.TileHeight * level) // leaves under one node of this level
		for i := uint64(0); i*layout.TileWidth < uint64(len(nodes)); i++ {
			want := nodes[i*layout.TileWidth : min((i+1)*layout.TileWidth, uint64(len(nodes)))]
			first := int64(i * layout.TileWidth * span)
			read := func(ctx context.Context, idx uint64, p uint8) ([]byte, error) {
				return s.f.ReadTile(ctx, level, idx, p)
			}
			raw, err := readPartial(ctx, read, i, layout.PartialTileSize(level, i, s.size))
			if err != nil {
				s.rep.add(first, "level-%d hash tile %d unreadable (%v): inclusion proofs for these entries cannot be built", level, i, err)
				return nil
			}
			var tile api.HashTile
			if err := tile.UnmarshalText(raw); err != nil || len(tile.Nodes) < len(want) {
				s.rep.add(first, "level-%d hash tile %d damaged: inclusion proofs for these entries cannot be built", level, i)
				return nil
			}
			for j, h := range want {
				if !bytes.Equal(tile.Nodes[j], h) {
					from := uint64(first) + uint64(j)*span
					s.rep.add(int64(from), "level-%d hash tile %d, node %d, differs from the hash of entries [%d, %d) recomputed from the log: inclusion proofs for them would not verify", level, i, j, from, from+span)
					return nil
				}
			}
		}
		var next [][]byte
		for k := 0; k+layout.TileWidth <= len(nodes); k += layout.TileWidth {
			next = append(next, perfectRoot(nodes[k:k+layout.TileWidth]))
		}
		nodes = next
	}
	return nil
}
