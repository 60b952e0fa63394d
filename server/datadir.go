package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/store/sqlite"
)

// Init prepares a data directory: the blind-index and masking keys and the
// event store.
// It refuses a directory that already has a key, because replacing the key
// would orphan every stored hash.
func Init(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	keyPath := blind.KeyFile(dir)
	if _, err := os.Stat(keyPath); err == nil {
		return fmt.Errorf("init %s: already initialized (%s exists)", dir, keyPath)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	if err := blind.CreateKey(keyPath); err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	if err := blind.CreateKey(maskKeyFile(dir)); err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	return st.Close()
}

// Initialized reports whether dir holds a blind-index key.
func Initialized(dir string) bool {
	_, err := os.Stat(blind.KeyFile(dir))
	return err == nil
}

// TokenStore is where tokens are created: the data directory's SQLite
// store, or a cluster's PostgreSQL store.
type TokenStore interface {
	CreateToken(ctx context.Context, t custos.Token) error
}

// CreateToken stores a new API token and returns its secret, which is
// shown once and never stored.
func CreateToken(ctx context.Context, st TokenStore, name string, scopes []custos.Scope) (custos.Token, string, error) {
	secret, hash, err := custos.NewTokenSecret()
	if err != nil {
		return custos.Token{}, "", err
	}
	tok := custos.Token{
		ID:      hash[:12],
		Name:    name,
		Scopes:  scopes,
		Hash:    hash,
		Created: time.Now().UTC(),
	}
	if err := st.CreateToken(ctx, tok); err != nil {
		return custos.Token{}, "", fmt.Errorf("create token %s: %w", name, err)
	}
	return tok, secret, nil
}
