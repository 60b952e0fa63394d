package custos

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"
)

// Scope is what an API token may do.
type Scope string

const (
	ScopeIngest Scope = "ingest" // POST events and logins
	ScopeRead   Scope = "read"   // query history, alerts
	ScopeAdmin  Scope = "admin"  // everything
)

// Token is an API bearer token as stored: only the SHA-256 of the secret
// is kept, so a stolen data directory yields no usable token.
type Token struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Scopes  []Scope   `json:"scopes"`
	Hash    string    `json:"-"` // hex SHA-256 of the secret
	Created time.Time `json:"created"`
}

// Allows reports whether the token carries scope s (admin carries all).
func (t Token) Allows(s Scope) bool {
	for _, have := range t.Scopes {
		if have == s || have == ScopeAdmin {
			return true
		}
	}
	return false
}

// NewTokenSecret returns a new random bearer secret ("cst_" and 43
// base64url characters) and the hash under which it is stored.
func NewTokenSecret() (secret, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("token: %w", err)
	}
	secret = "cst_" + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashTokenSecret(secret), nil
}

// HashTokenSecret is the stored form of a bearer secret: hex SHA-256.
func HashTokenSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ParseScope checks a scope name.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case ScopeIngest, ScopeRead, ScopeAdmin:
		return Scope(s), nil
	}
	return "", fmt.Errorf("unknown scope %q (want ingest, read or admin)", s)
}
