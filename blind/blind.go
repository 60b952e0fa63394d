package blind

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/pii"
)

// KeySize is the size of the blind-index key in bytes.
const KeySize = 32

// Index hashes subject identifiers under one key. It is safe for
// concurrent use.
type Index struct {
	pool sync.Pool // of hash.Hash (HMAC-SHA256 under the key)
}

// New returns an Index keyed by key, which must be KeySize bytes.
func New(key []byte) (*Index, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("blind: key is %d bytes, want %d", len(key), KeySize)
	}
	k := append([]byte(nil), key...)
	x := &Index{}
	x.pool.New = func() any { return hmac.New(sha256.New, k) }
	return x, nil
}

// Hash returns the blind index of an identifier of type t: hex
// HMAC-SHA256 over "type:normalized value". The type is part of the input
// so that the same digits as a phone and as a card are different subjects.
// Errors say what is wrong with the value's shape, never the value.
func (x *Index) Hash(t custos.DataType, value string) (string, error) {
	n, err := pii.Normalize(t, value)
	if err != nil {
		return "", fmt.Errorf("blind: %w", err)
	}
	return x.hashNormalized(t, n), nil
}

func (x *Index) hashNormalized(t, n string) string {
	h := x.pool.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(t))
	h.Write([]byte{':'})
	h.Write([]byte(n))
	var sum [sha256.Size]byte
	out := hex.EncodeToString(h.Sum(sum[:0]))
	x.pool.Put(h)
	return out
}

// Seal replaces every subject's raw Value by its Hash and a Masked display
// form, so the event can be stored and published. A value that does not
// normalize for its type is an error naming the subject's position.
func (x *Index) Seal(e *custos.AccessEvent) error {
	for i := range e.Subjects {
		s := &e.Subjects[i]
		if s.Value == "" {
			continue
		}
		n, err := pii.Normalize(s.Type, s.Value)
		if err != nil {
			return &SubjectError{Index: i, Err: err}
		}
		s.Hash = x.hashNormalized(s.Type, n)
		s.Masked = mask.Partial(s.Type, n)
		s.Value = ""
	}
	return nil
}

// SubjectError reports a subject value that could not be indexed.
type SubjectError struct {
	Index int // position in the event's subjects
	Err   error
}

func (e *SubjectError) Error() string { return fmt.Sprintf("subjects[%d].value: %v", e.Index, e.Err) }
func (e *SubjectError) Unwrap() error { return e.Err }

// KeyFile is where a data directory keeps the blind-index key.
func KeyFile(dataDir string) string { return filepath.Join(dataDir, "keys", "blind.key") }

// CreateKey writes a new random key to path (hex, mode 0600). It refuses to
// overwrite an existing key: every stored hash depends on it.
func CreateKey(path string) error {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("blind: generate key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("blind: create key dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("blind: create key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("blind: write key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("blind: sync key: %w", err)
	}
	return f.Close()
}

// LoadKey reads a key written by CreateKey. It refuses a key file that
// others can read.
func LoadKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blind: no key at %s (run 'custos init' first): %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("blind: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("blind: key file %s has mode %v; it must be readable by its owner only (chmod 600)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("blind: read key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("blind: key file %s is not %d hex-encoded bytes", path, KeySize)
	}
	return key, nil
}
