package ledger

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// File names inside the ledger directory.
const (
	logDirName     = "log"
	signerKeyName  = "signer.key"
	signerPubName  = "signer.pub"
	indexName      = "index.db"
	DefaultOrigin  = "custos.ledger"
	witnessKeyName = "witness.key"
	witnessPubName = "witness.pub"
)

// loadOrCreateKey returns the note signer key stored at dir/keyName,
// creating an ed25519 key named name (mode 0600, public half in pubName)
// the first time.
func loadOrCreateKey(dir, keyName, pubName, name string) (note.Signer, string, error) {
	keyPath := filepath.Join(dir, keyName)
	pubPath := filepath.Join(dir, pubName)
	skey, err := os.ReadFile(keyPath)
	if errors.Is(err, os.ErrNotExist) {
		s, v, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			return nil, "", fmt.Errorf("ledger: generate key %s: %w", keyName, err)
		}
		if err := writeFileSync(pubPath, []byte(v+"\n"), 0o644); err != nil {
			return nil, "", err
		}
		// O_EXCL: two processes initialising at once must not end up with
		// different keys.
		f, err := os.OpenFile(keyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, "", fmt.Errorf("ledger: create %s: %w", keyName, err)
		}
		if _, err := f.WriteString(s + "\n"); err != nil {
			f.Close()
			return nil, "", fmt.Errorf("ledger: write %s: %w", keyName, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, "", fmt.Errorf("ledger: sync %s: %w", keyName, err)
		}
		if err := f.Close(); err != nil {
			return nil, "", err
		}
		skey = []byte(s)
	} else if err != nil {
		return nil, "", fmt.Errorf("ledger: read %s: %w", keyName, err)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, "", fmt.Errorf("ledger: parse %s: %w", keyName, err)
	}
	vkey, err := readVerifierKey(pubPath)
	if err != nil {
		return nil, "", err
	}
	if v, err := note.NewVerifier(vkey); err != nil || v.KeyHash() != signer.KeyHash() || v.Name() != signer.Name() {
		return nil, "", fmt.Errorf("ledger: %s does not match %s", pubName, keyName)
	}
	return signer, vkey, nil
}

// readVerifierKey reads a note verifier key (name+hash+key) from a file.
func readVerifierKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("ledger: read verifier key: %w", err)
	}
	vkey := strings.TrimSpace(string(b))
	if _, err := note.NewVerifier(vkey); err != nil {
		return "", fmt.Errorf("ledger: verifier key %s: %w", filepath.Base(path), err)
	}
	return vkey, nil
}

// writeFileSync writes a file atomically (temp file, fsync, rename, fsync
// directory) so that a crash leaves the old or the new content.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("ledger: write %s: %w", filepath.Base(path), err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("ledger: write %s: %w", filepath.Base(path), err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("ledger: sync %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("ledger: rename %s: %w", filepath.Base(path), err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// CreateKey creates the ledger's ed25519 checkpoint signing key in dir
// if it has none (an existing key is kept) and returns the verifier key.
// It lets the key exist before the first event, so that the operator can
// keep a copy of the verifier key apart from the data directory from the
// start (an empty origin means DefaultOrigin).
func CreateKey(dir, origin string) (string, error) {
	if origin == "" {
		origin = DefaultOrigin
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("ledger: create %s: %w", dir, err)
	}
	_, vkey, err := loadOrCreateKey(dir, signerKeyName, signerPubName, origin)
	return vkey, err
}
