package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// Proof shows that an event is in the ledger: its entry, its leaf index
// and the hashes that lead from the entry to the root of a signed
// checkpoint. Anyone with the ledger's verifier key can check it with
// VerifyProof, without access to the log.
type Proof struct {
	EventID    string          `json:"event_id"`
	Kind       string          `json:"kind"`
	Seq        int64           `json:"seq"`
	LeafIndex  uint64          `json:"leaf_index"`
	TreeSize   uint64          `json:"tree_size"`
	Hashes     [][]byte        `json:"hashes"`
	Entry      json.RawMessage `json:"entry"`
	Checkpoint string          `json:"checkpoint"`
}

// ErrNotCheckpointed is returned for an event that is in the log but not
// yet covered by a published checkpoint; retry after the checkpoint
// interval.
var ErrNotCheckpointed = errors.New("ledger: event not yet covered by a checkpoint")

// Proof returns the inclusion proof of event id against the latest
// checkpoint.
func (l *Ledger) Proof(ctx context.Context, id string) (Proof, error) {
	return buildProof(ctx, l.ix, l.reader, l.verifier, id)
}

// Proofs returns inclusion proofs for several events against one
// checkpoint, sharing the tile reads (a page of subject history). Events
// not in the ledger, or not yet covered by the checkpoint, are left out of
// the map.
func (l *Ledger) Proofs(ctx context.Context, ids []string) (map[string]Proof, error) {
	raw, err := l.reader.ReadCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger: read checkpoint: %w", err)
	}
	cp, _, _, err := log.ParseCheckpoint(raw, l.verifier.Name(), l.verifier)
	if err != nil {
		return nil, fmt.Errorf("ledger: checkpoint: %w", err)
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, l.reader.ReadTile)
	if err != nil {
		return nil, fmt.Errorf("ledger: proof builder: %w", err)
	}
	out := make(map[string]Proof, len(ids))
	for _, id := range ids {
		row, err := l.ix.lookup(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if row.Leaf >= cp.Size {
			continue
		}
		p, err := proveRow(ctx, l.reader, pb, cp, raw, row)
		if err != nil {
			return nil, err
		}
		if err := VerifyProof(p, l.verifier); err != nil {
			return nil, fmt.Errorf("ledger: proof for leaf %d does not verify (run custos ledger verify): %w", row.Leaf, err)
		}
		out[id] = p
	}
	return out, nil
}

// ProveEvent builds the inclusion proof of event id from the ledger files
// in dir, without opening the log for writing (a running server may hold
// it).
func ProveEvent(ctx context.Context, dir, id string) (Proof, error) {
	return ProveEventIn(ctx, dir, nil, id)
}

// ProveEventIn is ProveEvent for a log read from f (OpenMySQLLog for a
// MySQL-backed ledger); nil f means the POSIX files in dir/log.
func ProveEventIn(ctx context.Context, dir string, f Fetcher, id string) (Proof, error) {
	if f == nil {
		f = client.FileFetcher{Root: filepath.Join(dir, logDirName)}
	}
	vkey, err := readVerifierKey(filepath.Join(dir, signerPubName))
	if err != nil {
		return Proof{}, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Proof{}, err
	}
	ix, err := openIndex(filepath.Join(dir, indexName), true)
	if err != nil {
		return Proof{}, err
	}
	defer ix.Close()
	return buildProof(ctx, ix, f, v, id)
}

func buildProof(ctx context.Context, ix *index, f Fetcher, v note.Verifier, id string) (Proof, error) {
	row, err := ix.lookup(ctx, id)
	if err != nil {
		return Proof{}, err
	}
	raw, err := f.ReadCheckpoint(ctx)
	if err != nil {
		return Proof{}, fmt.Errorf("ledger: read checkpoint: %w", err)
	}
	cp, _, _, err := log.ParseCheckpoint(raw, v.Name(), v)
	if err != nil {
		return Proof{}, fmt.Errorf("ledger: checkpoint: %w", err)
	}
	if row.Leaf >= cp.Size {
		return Proof{}, ErrNotCheckpointed
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, f.ReadTile)
	if err != nil {
		return Proof{}, fmt.Errorf("ledger: proof builder: %w", err)
	}
	p, err := proveRow(ctx, f, pb, cp, raw, row)
	if err != nil {
		return Proof{}, err
	}
	if err := VerifyProof(p, v); err != nil {
		// The index and the log disagree, or the log is damaged: say so
		// rather than hand out a proof that does not verify.
		return Proof{}, fmt.Errorf("ledger: proof for leaf %d does not verify (run custos ledger verify): %w", row.Leaf, err)
	}
	return p, nil
}

func proveRow(ctx context.Context, f Fetcher, pb *client.ProofBuilder, cp *log.Checkpoint, raw []byte, row indexRow) (Proof, error) {
	p := Proof{EventID: row.ID, Kind: row.Kind, Seq: row.Seq, LeafIndex: row.Leaf, TreeSize: cp.Size, Checkpoint: string(raw)}
	err := forEachEntry(ctx, f.ReadEntryBundle, row.Leaf, row.Leaf+1, cp.Size, func(_ uint64, data []byte) error {
		p.Entry = bytes.Clone(data)
		return nil
	})
	if err != nil {
		return Proof{}, fmt.Errorf("ledger: read entry %d: %w", row.Leaf, err)
	}
	if p.Hashes, err = pb.InclusionProof(ctx, row.Leaf); err != nil {
		return Proof{}, fmt.Errorf("ledger: inclusion proof %d: %w", row.Leaf, err)
	}
	return p, nil
}

// VerifyProof checks p: the checkpoint is signed by v, the entry is the
// event p names, and the entry's hash leads to the checkpoint's root.
func VerifyProof(p Proof, v note.Verifier) error {
	cp, _, _, err := log.ParseCheckpoint([]byte(p.Checkpoint), v.Name(), v)
	if err != nil {
		return fmt.Errorf("ledger: proof checkpoint: %w", err)
	}
	if cp.Size != p.TreeSize {
		return fmt.Errorf("ledger: proof is for tree size %d, checkpoint has %d", p.TreeSize, cp.Size)
	}
	h, err := parseHead(p.Entry)
	if err != nil {
		return err
	}
	if h.ID != p.EventID || h.Kind != p.Kind || h.Seq != p.Seq {
		return errors.New("ledger: proof entry is not the event it names")
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(p.Entry)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.LeafIndex, p.TreeSize, leaf, p.Hashes, cp.Hash); err != nil {
		return fmt.Errorf("ledger: inclusion: %w", err)
	}
	return nil
}
