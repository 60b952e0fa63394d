package detect

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// snapshotVersion changes whenever the state layout does; Restore refuses
// other versions rather than misreading them.
const snapshotVersion = 1

type snapshot struct {
	Version int
	Now     time.Time
	Day     int64
	Actors  map[string]*actorState
	Sources map[string]*sourceState
	// Sessions of older builds (keyed by session id alone) are not read:
	// sessions now live with their actor.
	Docs        map[uint64][]docEntry
	Incidents   map[string]*Alert
	Peers       map[string]*peerStats
	Compromised map[string]compromise
	// AccessAt and LoginAt are the two streams' clocks (zero in
	// snapshots of older builds: the first events set them).
	AccessAt, LoginAt time.Time
	Reported          map[string]int64
	Idle              map[string]int64
}

// Snapshot writes the engine's state to w. Events processed after a
// snapshot are not in it: resume the stream from the snapshot's position
// (Now reports its event time).
func (e *Engine) Snapshot(w io.Writer) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := snapshot{snapshotVersion, e.now, e.day, e.actors, e.sources, e.docs, e.incidents, e.peers, e.compromised, e.accessAt, e.loginAt, e.reported, e.idle}
	if err := gob.NewEncoder(w).Encode(&s); err != nil {
		return fmt.Errorf("detect: snapshot: %w", err)
	}
	return nil
}

// Restore replaces the engine's state with a snapshot read from r.
func (e *Engine) Restore(r io.Reader) error {
	var s snapshot
	if err := gob.NewDecoder(r).Decode(&s); err != nil {
		return fmt.Errorf("detect: restore: %w", err)
	}
	if s.Version != snapshotVersion {
		return fmt.Errorf("detect: restore: snapshot version %d, this build reads %d", s.Version, snapshotVersion)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reset()
	e.now, e.day = s.Now, s.Day
	e.accessAt, e.loginAt = s.AccessAt, s.LoginAt
	for k, v := range s.Actors {
		if v.Categories == nil {
			v.Categories = map[string]bool{}
		}
		e.actors[k] = v
	}
	copyInto(e.sources, s.Sources)
	copyInto(e.docs, s.Docs)
	copyInto(e.incidents, s.Incidents)
	copyInto(e.peers, s.Peers)
	copyInto(e.compromised, s.Compromised)
	copyInto(e.reported, s.Reported)
	copyInto(e.idle, s.Idle)
	return nil
}

func copyInto[K comparable, V any](dst, src map[K]V) {
	for k, v := range src {
		dst[k] = v
	}
}

// Now is the event time of the latest event the engine has seen.
func (e *Engine) Now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// SaveSnapshot writes a snapshot to path atomically (temporary file,
// fsync, rename), so a crash leaves the previous snapshot intact.
func (e *Engine) SaveSnapshot(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".snapshot-*")
	if err != nil {
		return fmt.Errorf("detect: save snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := e.Snapshot(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("detect: save snapshot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("detect: save snapshot: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("detect: save snapshot: %w", err)
	}
	return nil
}

// LoadSnapshot restores from path; a missing file is not an error (the
// engine starts empty) and reports false.
func (e *Engine) LoadSnapshot(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("detect: load snapshot: %w", err)
	}
	defer f.Close()
	if err := e.Restore(f); err != nil {
		return false, err
	}
	return true, nil
}

// SnapshotEvery saves a snapshot to path every interval of wall-clock
// time until ctx ends, and once more then. Errors are reported through
// onError (nil to ignore) and do not stop the loop: a failed snapshot
// only means a longer replay after a crash.
func (e *Engine) SnapshotEvery(ctx context.Context, path string, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := e.SaveSnapshot(path); err != nil && onError != nil {
				onError(err)
			}
			return
		case <-t.C:
			if err := e.SaveSnapshot(path); err != nil && onError != nil {
				onError(err)
			}
		}
	}
}
