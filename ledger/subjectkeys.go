package ledger

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/custos-dev/custos"
)

// Crypto-shredding. Each data subject gets a data key of its own; in the
// ledger, an access event's subjects are not written as their blind-index
// hash and masked form but as those two sealed (AES-256-GCM) under the
// subject's data key, next to a random key id. Data keys are kept outside
// the log, in keys.db, wrapped by a key-encryption key (kek.key). Erasing
// a subject deletes its data key: every entry that names the subject stays
// in the tree, byte for byte, so the log still verifies, but nobody can
// tell any longer which person those entries were about.
//
// The sealing is deterministic (the nonce is derived from the key and the
// plaintext), so the same stored event always gives the same entry and
// Verify can still compare the log with the event store.
const (
	subjectKeysName = "keys.db"
	kekName         = "kek.key"
)

// ErrShredded is returned for a subject whose data key has been erased.
var ErrShredded = errors.New("ledger: subject key erased")

// subjectKeys holds the data keys. Keys are created durably (fsync) before
// any entry sealed with them is appended, so a crash never loses the key
// of an entry that made it into the log.
type subjectKeys struct {
	db   *sql.DB
	kek  cipher.AEAD
	from int64 // the first access sequence number sealed in this ledger

	mu    sync.Mutex
	cache map[string]*subjectKey // by subject hash
}

type subjectKey struct {
	kid  string
	dek  []byte
	aead cipher.AEAD
}

// sealedSubject is how a subject appears in a sealed ledger entry.
type sealedSubject struct {
	Type   string `json:"type"`
	Key    string `json:"key"`
	Sealed string `json:"sealed,omitempty"`
}

// sealedAccess is an access event as a sealed ledger entry holds it: the
// outer Subjects field shadows the event's own in the JSON encoding.
type sealedAccess struct {
	custos.AccessEvent
	Subjects []sealedSubject `json:"subjects,omitempty"`
}

// openSubjectKeys opens dir's key store. With create, a missing store is
// created and seals access events from sequence number from on; without,
// a missing store returns (nil, nil): the ledger predates sealing.
func openSubjectKeys(dir string, create bool, from int64) (*subjectKeys, error) {
	path := filepath.Join(dir, subjectKeysName)
	if _, err := os.Stat(path); err != nil {
		if !create || !errors.Is(err, os.ErrNotExist) {
			if errors.Is(err, os.ErrNotExist) {
				return nil, nil
			}
			return nil, fmt.Errorf("ledger: subject keys: %w", err)
		}
	}
	kek, err := loadOrCreateKEK(filepath.Join(dir, kekName), create)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	// A deleted row would otherwise stay readable in its free page: the
	// key must be gone from the file, not just from the table.
	q.Add("_pragma", "secure_delete(ON)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("ledger: open subject keys: %w", err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`
CREATE TABLE IF NOT EXISTS subject_keys (
	subject TEXT PRIMARY KEY,   -- blind-index hash
	kid     TEXT NOT NULL UNIQUE,
	wrapped BLOB NOT NULL       -- the data key sealed by the KEK
);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (k, v) VALUES ('sealed_from_access_seq', ?);`, from); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: subject keys schema: %w", err)
	}
	os.Chmod(path, 0o600)
	k := &subjectKeys{db: db, kek: kek, cache: map[string]*subjectKey{}}
	if err := db.QueryRow(`SELECT v FROM meta WHERE k = 'sealed_from_access_seq'`).Scan(&k.from); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: subject keys: %w", err)
	}
	return k, nil
}

func loadOrCreateKEK(path string, create bool) (cipher.AEAD, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		key = make([]byte, 32)
		rand.Read(key)
		if err := os.WriteFile(path, key, 0o600); err != nil {
			return nil, fmt.Errorf("ledger: create key-encryption key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("ledger: key-encryption key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("ledger: key-encryption key %s: %d bytes, want 32", path, len(key))
	}
	return newGCM(key)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (k *subjectKeys) Close() error { return k.db.Close() }

// ensure creates, in one durable transaction, the keys of the subjects
// that have none.
func (k *subjectKeys) ensure(ctx context.Context, hashes []string) error {
	var missing []string
	k.mu.Lock()
	for _, h := range hashes {
		if _, ok := k.cache[h]; !ok && h != custos.ErasedHash {
			missing = append(missing, h)
		}
	}
	k.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	tx, err := k.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger: subject keys: %w", err)
	}
	defer tx.Rollback()
	// One look-up for the batch, not one per subject: a busy follower
	// meets thousands of subjects a second, most of them new.
	found, err := k.loadMany(ctx, tx, missing)
	if err != nil {
		return err
	}
	insert, err := tx.PrepareContext(ctx, `INSERT INTO subject_keys (subject, kid, wrapped) VALUES (?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("ledger: create subject key: %w", err)
	}
	defer insert.Close()
	created := map[string]*subjectKey{}
	for _, h := range missing {
		if found[h] || created[h] != nil {
			continue
		}
		dek := make([]byte, 32)
		rand.Read(dek)
		var id [8]byte
		rand.Read(id[:])
		nonce := make([]byte, k.kek.NonceSize())
		rand.Read(nonce)
		kid := "k_" + hex.EncodeToString(id[:])
		wrapped := k.kek.Seal(nonce, nonce, dek, []byte(kid))
		if _, err := insert.ExecContext(ctx, h, kid, wrapped); err != nil {
			return fmt.Errorf("ledger: create subject key: %w", err)
		}
		aead, err := newGCM(dek)
		if err != nil {
			return err
		}
		created[h] = &subjectKey{kid: kid, dek: dek, aead: aead}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: subject keys: %w", err)
	}
	// Cached only once durable, so that nothing is sealed under a key
	// that a failed commit left nowhere.
	k.mu.Lock()
	for h, sk := range created {
		k.cache[h] = sk
	}
	k.mu.Unlock()
	return nil
}

// loadMany caches the stored keys of hashes, looked up in batches, and
// reports which exist.
func (k *subjectKeys) loadMany(ctx context.Context, tx *sql.Tx, hashes []string) (map[string]bool, error) {
	found := map[string]bool{}
	const batch = 500
	for start := 0; start < len(hashes); start += batch {
		part := hashes[start:min(start+batch, len(hashes))]
		args := make([]any, len(part))
		for i, h := range part {
			args[i] = h
		}
		rows, err := tx.QueryContext(ctx, `SELECT subject, kid, wrapped FROM subject_keys WHERE subject IN (?`+strings.Repeat(",?", len(part)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("ledger: subject keys: %w", err)
		}
		for rows.Next() {
			var h, kid string
			var wrapped []byte
			if err := rows.Scan(&h, &kid, &wrapped); err != nil {
				rows.Close()
				return nil, fmt.Errorf("ledger: subject keys: %w", err)
			}
			sk, err := k.unwrap(kid, wrapped)
			if err != nil {
				rows.Close()
				return nil, err
			}
			k.mu.Lock()
			k.cache[h] = sk
			k.mu.Unlock()
			found[h] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("ledger: subject keys: %w", err)
		}
	}
	return found, nil
}

// load returns a subject's key from the cache or the store.
func (k *subjectKeys) load(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, hash string) (*subjectKey, error) {
	k.mu.Lock()
	sk, ok := k.cache[hash]
	k.mu.Unlock()
	if ok {
		return sk, nil
	}
	var kid string
	var wrapped []byte
	err := q.QueryRowContext(ctx, `SELECT kid, wrapped FROM subject_keys WHERE subject = ?`, hash).Scan(&kid, &wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrShredded
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: subject key: %w", err)
	}
	sk, err = k.unwrap(kid, wrapped)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.cache[hash] = sk
	k.mu.Unlock()
	return sk, nil
}

// unwrap opens a stored data key with the key-encryption key.
func (k *subjectKeys) unwrap(kid string, wrapped []byte) (*subjectKey, error) {
	ns := k.kek.NonceSize()
	if len(wrapped) < ns {
		return nil, fmt.Errorf("ledger: subject key %s: truncated", kid)
	}
	dek, err := k.kek.Open(nil, wrapped[:ns], wrapped[ns:], []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("ledger: subject key %s does not open with this key-encryption key", kid)
	}
	aead, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	return &subjectKey{kid: kid, dek: dek, aead: aead}, nil
}

// seal returns the sealed form of one subject.
func (k *subjectKeys) seal(ctx context.Context, s custos.Subject) (sealedSubject, error) {
	if s.Hash == custos.ErasedHash {
		// Erased from the store before the ledger reached the event.
		return sealedSubject{Type: s.Type, Key: custos.ErasedHash}, nil
	}
	sk, err := k.load(ctx, k.db, s.Hash)
	if err != nil {
		return sealedSubject{}, err
	}
	plain := []byte(s.Hash + "\x00" + s.Masked)
	// Deterministic: the nonce is a MAC of the plaintext under the data
	// key, so equal plaintexts (and only they) give equal ciphertexts.
	m := hmac.New(sha256.New, sk.dek)
	m.Write([]byte(sk.kid))
	m.Write(plain)
	nonce := m.Sum(nil)[:sk.aead.NonceSize()]
	ct := sk.aead.Seal(nonce, nonce, plain, []byte(s.Type))
	return sealedSubject{Type: s.Type, Key: sk.kid, Sealed: base64.RawURLEncoding.EncodeToString(ct)}, nil
}

// sealedAccessRecord is the ledger record of a stored access event with
// its subjects sealed. It returns ErrShredded if a subject's key is gone.
func (k *subjectKeys) sealedAccessRecord(ctx context.Context, e custos.StoredAccess) (Record, error) {
	if !e.Sealed() {
		return Record{}, fmt.Errorf("ledger: access %s: %w", e.ID, custos.ErrUnsealed)
	}
	sa := sealedAccess{AccessEvent: e.AccessEvent, Subjects: make([]sealedSubject, len(e.Subjects))}
	for i, s := range e.Subjects {
		ss, err := k.seal(ctx, s)
		if err != nil {
			return Record{}, fmt.Errorf("ledger: access %s subject %d: %w", e.ID, i, err)
		}
		sa.Subjects[i] = ss
	}
	b, err := json.Marshal(sa)
	if err != nil {
		return Record{}, fmt.Errorf("ledger: encode access %s: %w", e.ID, err)
	}
	if len(b) > maxEventBytes {
		if b, err = digestSubjects(e.AccessEvent, sa.Subjects); err != nil {
			return Record{}, fmt.Errorf("ledger: encode access %s: %w", e.ID, err)
		}
	}
	return Record{Kind: KindAccess, ID: e.ID, Seq: e.Seq, Event: b}, nil
}

// shred erases a subject's data key and returns its key id ("" if the
// subject had none).
func (k *subjectKeys) shred(ctx context.Context, hash string) (string, error) {
	var kid string
	err := k.db.QueryRowContext(ctx, `DELETE FROM subject_keys WHERE subject = ? RETURNING kid`, hash).Scan(&kid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("ledger: erase subject key: %w", err)
	}
	k.mu.Lock()
	delete(k.cache, hash)
	k.mu.Unlock()
	if err := k.scrubWAL(ctx); err != nil {
		return kid, err
	}
	return kid, nil
}

// scrubWAL copies the WAL into the database file and truncates it: the
// WAL still holds the frames that wrote the erased key, and anyone with a
// copy of the directory has the KEK that unwraps it. A reader (verify
// --store in another process) can hold the WAL for a moment, so it
// retries for a few seconds.
func (k *subjectKeys) scrubWAL(ctx context.Context) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		var busy, logFrames, checkpointed int
		err := k.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed)
		if err != nil {
			return fmt.Errorf("ledger: erase subject key: checkpoint the WAL: %w", err)
		}
		if busy == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("ledger: erase subject key: the key is deleted but its old copy is still in keys.db-wal (a reader holds it); retry")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Unseal opens a sealed subject of an entry: its blind-index hash and
// masked form. It returns ErrShredded once the subject has been erased.
func (l *Ledger) Unseal(ctx context.Context, typ, kid, sealed string) (hash, masked string, err error) {
	if l.keys == nil {
		return "", "", errors.New("ledger: this ledger does not seal subjects")
	}
	var subject string
	err = l.keys.db.QueryRowContext(ctx, `SELECT subject FROM subject_keys WHERE kid = ?`, kid).Scan(&subject)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrShredded
	}
	if err != nil {
		return "", "", fmt.Errorf("ledger: unseal: %w", err)
	}
	sk, err := l.keys.load(ctx, l.keys.db, subject)
	if err != nil {
		return "", "", err
	}
	ct, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(ct) < sk.aead.NonceSize() {
		return "", "", errors.New("ledger: unseal: malformed ciphertext")
	}
	plain, err := sk.aead.Open(nil, ct[:sk.aead.NonceSize()], ct[sk.aead.NonceSize():], []byte(typ))
	if err != nil {
		return "", "", errors.New("ledger: unseal: ciphertext does not open")
	}
	h, m, _ := cutZero(plain)
	return h, m, nil
}

func cutZero(b []byte) (string, string, bool) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), string(b[i+1:]), true
		}
	}
	return string(b), "", false
}

// Shred erases a data subject from the ledger: its data key is deleted,
// so the entries that name it can no longer be tied to it, while the tree
// and every checkpoint stay valid. It returns the erased key's id (""
// when the ledger never saw the subject).
func (l *Ledger) Shred(ctx context.Context, subjectHash string) (string, error) {
	if l.keys == nil {
		return "", errors.New("ledger: this ledger predates subject sealing; nothing to shred")
	}
	return l.keys.shred(ctx, subjectHash)
}
