package custos

import "time"

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
