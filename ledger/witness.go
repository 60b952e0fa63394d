package ledger

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// Witness cosigns the ledger's checkpoints after checking that each new
// one extends the last one it saw. An operator who rewrites the whole log
// and signs a new checkpoint with the ledger key cannot also make the
// witness's history agree, so Verify catches the rewrite.
type Witness interface {
	// Latest returns the last checkpoint the witness cosigned for origin,
	// or nil if none.
	Latest(ctx context.Context, origin string) (*log.Checkpoint, error)
	// Cosign checks checkpoint against the witness's last one using the
	// consistency proof and returns it with the witness's signature added.
	Cosign(ctx context.Context, checkpoint []byte, proof [][]byte) ([]byte, error)
}

// Witness errors: a checkpoint the witness refuses to cosign.
var (
	ErrRollback     = errors.New("ledger: checkpoint is older than one the witness already cosigned")
	ErrFork         = errors.New("ledger: checkpoint has the size of a cosigned one but a different root")
	ErrInconsistent = errors.New("ledger: checkpoint is not consistent with the last cosigned one")
)

// FileWitness is a witness that keeps its key and the checkpoints it
// cosigned in a directory: another disk, another host's mount, a
// directory another team owns. It is as independent as that directory is.
type FileWitness struct {
	dir      string
	origin   string
	logV     note.Verifier
	signer   note.Signer
	witnessV note.Verifier
	mu       sync.Mutex
}

const (
	witnessLogPub   = "log.pub"
	witnessLatest   = "latest"
	witnessHistory  = "history"
	witnessKeyNameV = "custos.witness"
)

// OpenFileWitness opens (creating if needed) a witness in dir for the log
// whose checkpoints verify with logVKey. The first log key it sees is the
// one it keeps: a witness that was set up for one key refuses another.
func OpenFileWitness(dir, logVKey string) (*FileWitness, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger: witness dir: %w", err)
	}
	logV, err := note.NewVerifier(logVKey)
	if err != nil {
		return nil, fmt.Errorf("ledger: witness: log key: %w", err)
	}
	pubPath := filepath.Join(dir, witnessLogPub)
	if have, err := readVerifierKey(pubPath); err == nil {
		if have != logVKey {
			return nil, errors.New("ledger: witness was set up for another log key")
		}
	} else if errors.Is(err, os.ErrNotExist) || errors.Is(errors.Unwrap(err), os.ErrNotExist) {
		if err := writeFileSync(pubPath, []byte(logVKey+"\n"), 0o644); err != nil {
			return nil, err
		}
	} else {
		return nil, err
	}
	signer, wvkey, err := loadOrCreateKey(dir, witnessKeyName, witnessPubName, witnessKeyNameV)
	if err != nil {
		return nil, err
	}
	wv, err := note.NewVerifier(wvkey)
	if err != nil {
		return nil, err
	}
	return &FileWitness{dir: dir, origin: logV.Name(), logV: logV, signer: signer, witnessV: wv}, nil
}

// VerifierKey is the witness's own verifier key.
func (w *FileWitness) VerifierKey() string {
	b, _ := os.ReadFile(filepath.Join(w.dir, witnessPubName))
	return string(bytes.TrimSpace(b))
}

// Latest implements Witness.
func (w *FileWitness) Latest(ctx context.Context, origin string) (*log.Checkpoint, error) {
	raw, err := os.ReadFile(filepath.Join(w.dir, witnessLatest))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: witness latest: %w", err)
	}
	cp, _, _, err := log.ParseCheckpoint(raw, origin, w.logV, w.witnessV)
	if err != nil {
		return nil, fmt.Errorf("ledger: witness latest: %w", err)
	}
	return cp, nil
}

// Cosign implements Witness.
func (w *FileWitness) Cosign(ctx context.Context, raw []byte, consistency [][]byte) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cp, _, n, err := log.ParseCheckpoint(raw, w.origin, w.logV)
	if err != nil {
		return nil, fmt.Errorf("ledger: witness: %w", err)
	}
	prev, err := w.Latest(ctx, w.origin)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		switch {
		case cp.Size < prev.Size:
			return nil, fmt.Errorf("%w (size %d < %d)", ErrRollback, cp.Size, prev.Size)
		case cp.Size == prev.Size:
			if !bytes.Equal(cp.Hash, prev.Hash) {
				return nil, fmt.Errorf("%w (size %d)", ErrFork, cp.Size)
			}
		case prev.Size > 0:
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, prev.Size, cp.Size, consistency, prev.Hash, cp.Hash); err != nil {
				return nil, fmt.Errorf("%w (%d → %d): %v", ErrInconsistent, prev.Size, cp.Size, err)
			}
		}
	}
	// n.Sigs holds only the verified log signature; ours goes after it.
	cosigned, err := note.Sign(n, w.signer)
	if err != nil {
		return nil, fmt.Errorf("ledger: witness sign: %w", err)
	}
	if prev == nil || cp.Size > prev.Size {
		if err := w.appendHistory(cosigned); err != nil {
			return nil, err
		}
	}
	if err := writeFileSync(filepath.Join(w.dir, witnessLatest), cosigned, 0o644); err != nil {
		return nil, err
	}
	return cosigned, nil
}

// appendHistory keeps every cosigned checkpoint, one base64 note a line,
// so that Verify can bracket where a rewritten log first differs.
func (w *FileWitness) appendHistory(cosigned []byte) error {
	f, err := os.OpenFile(filepath.Join(w.dir, witnessHistory), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("ledger: witness history: %w", err)
	}
	line := base64.StdEncoding.EncodeToString(cosigned) + "\n"
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("ledger: witness history: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("ledger: witness history: %w", err)
	}
	return f.Close()
}

// WitnessedCheckpoint is a checkpoint with the log's and the witness's
// signatures verified.
type WitnessedCheckpoint struct {
	log.Checkpoint
	Raw []byte
}

// ReadWitnessed returns the checkpoints the witness in dir cosigned, in
// the order it cosigned them, each verified against the log key logVKey
// and the witness's key. A line that fails verification is an error:
// someone has edited the witness's history.
func ReadWitnessed(dir, logVKey string) ([]WitnessedCheckpoint, error) {
	logV, err := note.NewVerifier(logVKey)
	if err != nil {
		return nil, fmt.Errorf("ledger: log key: %w", err)
	}
	wvkey, err := readVerifierKey(filepath.Join(dir, witnessPubName))
	if err != nil {
		return nil, err
	}
	wv, err := note.NewVerifier(wvkey)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, witnessHistory))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: witness history: %w", err)
	}
	defer f.Close()
	var out []WitnessedCheckpoint
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		raw, err := base64.StdEncoding.DecodeString(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("ledger: witness history line %d: %w", line, err)
		}
		cp, _, n, err := log.ParseCheckpoint(raw, logV.Name(), logV, wv)
		if err != nil {
			return nil, fmt.Errorf("ledger: witness history line %d: %w", line, err)
		}
		if !signedBy(n, wv) {
			return nil, fmt.Errorf("ledger: witness history line %d: no witness signature", line)
		}
		out = append(out, WitnessedCheckpoint{Checkpoint: *cp, Raw: raw})
	}
	return out, sc.Err()
}

func signedBy(n *note.Note, v note.Verifier) bool {
	for _, s := range n.Sigs {
		if s.Name == v.Name() && s.Hash == v.KeyHash() {
			return true
		}
	}
	return false
}

// WitnessNow sends the latest checkpoint to the witness if it has not
// cosigned it yet. The background loop calls it every checkpoint
// interval; Close calls it once more.
func (l *Ledger) WitnessNow(ctx context.Context) error {
	if l.opts.Witness == nil {
		return nil
	}
	l.witnessMu.Lock()
	defer l.witnessMu.Unlock()
	raw, err := l.reader.ReadCheckpoint(ctx)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ledger: read checkpoint: %w", err)
	}
	cp, _, _, err := log.ParseCheckpoint(raw, l.opts.Origin, l.verifier)
	if err != nil {
		return fmt.Errorf("ledger: own checkpoint: %w", err)
	}
	prev, err := l.opts.Witness.Latest(ctx, l.opts.Origin)
	if err != nil {
		return err
	}
	if prev != nil && prev.Size == cp.Size && bytes.Equal(prev.Hash, cp.Hash) {
		return nil
	}
	var consistency [][]byte
	if prev != nil && prev.Size > 0 && cp.Size > prev.Size {
		pb, err := client.NewProofBuilder(ctx, cp.Size, l.reader.ReadTile)
		if err != nil {
			return fmt.Errorf("ledger: proof builder: %w", err)
		}
		if consistency, err = pb.ConsistencyProof(ctx, prev.Size, cp.Size); err != nil {
			return fmt.Errorf("ledger: consistency proof %d→%d: %w", prev.Size, cp.Size, err)
		}
	}
	if _, err := l.opts.Witness.Cosign(ctx, raw, consistency); err != nil {
		return err
	}
	l.witnessed.Store(cp.Size)
	return nil
}

func (l *Ledger) witnessLoop(ctx context.Context) {
	t := time.NewTicker(l.opts.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.WitnessNow(ctx); err != nil && ctx.Err() == nil {
				l.opts.Logger.Error("ledger: witness", "err", err)
			}
		}
	}
}

// Witnessed is the size of the last checkpoint the witness cosigned.
func (l *Ledger) Witnessed() uint64 { return l.witnessed.Load() }
