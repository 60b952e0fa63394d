package detect

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"sync"
)

// BreachedStore is a local breached-password store in the k-anonymity
// layout of the public range files: for each 5-hex-character prefix of a
// password's SHA-1, the set of 35-character suffixes known to be
// breached. Nothing leaves the machine. It is safe for concurrent use.
type BreachedStore struct {
	mu     sync.RWMutex
	ranges map[string]map[string]struct{}
}

// NewBreachedStore returns an empty store.
func NewBreachedStore() *BreachedStore {
	return &BreachedStore{ranges: map[string]map[string]struct{}{}}
}

// ImportRange reads one range file — lines "SUFFIX:COUNT" (padding lines
// with count 0 are skipped) — for the given 5-character prefix and
// returns how many suffixes it added.
func (b *BreachedStore) ImportRange(prefix string, r io.Reader) (int, error) {
	prefix = strings.ToUpper(strings.TrimSpace(prefix))
	if len(prefix) != 5 || !isHex(prefix) {
		return 0, fmt.Errorf("breached: range prefix must be 5 hex characters")
	}
	sc := bufio.NewScanner(r)
	added, line := 0, 0
	b.mu.Lock()
	defer b.mu.Unlock()
	set := b.ranges[prefix]
	if set == nil {
		set = map[string]struct{}{}
		b.ranges[prefix] = set
	}
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		suffix, count, ok := strings.Cut(s, ":")
		suffix = strings.ToUpper(suffix)
		if !ok || len(suffix) != 35 || !isHex(suffix) {
			return added, fmt.Errorf("breached: range %s line %d: want SUFFIX:COUNT with a 35-character hex suffix", prefix, line)
		}
		if strings.TrimSpace(count) == "0" {
			continue
		}
		if _, dup := set[suffix]; !dup {
			set[suffix] = struct{}{}
			added++
		}
	}
	if err := sc.Err(); err != nil {
		return added, fmt.Errorf("breached: range %s: %w", prefix, err)
	}
	return added, nil
}

// Add records one breached SHA-1 (40 hex characters).
func (b *BreachedStore) Add(sha1Hex string) error {
	h := strings.ToUpper(sha1Hex)
	if len(h) != 40 || !isHex(h) {
		return fmt.Errorf("breached: want a 40-character hex SHA-1")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	set := b.ranges[h[:5]]
	if set == nil {
		set = map[string]struct{}{}
		b.ranges[h[:5]] = set
	}
	set[h[5:]] = struct{}{}
	return nil
}

// Breached reports whether the SHA-1 fingerprint is in the store.
func (b *BreachedStore) Breached(sha1Hex string) bool {
	if len(sha1Hex) != 40 {
		return false
	}
	h := strings.ToUpper(sha1Hex)
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.ranges[h[:5]][h[5:]]
	return ok
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
