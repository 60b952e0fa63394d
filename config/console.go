package config

import (
	"fmt"
	"time"
)

// Console configures the web console (docs/console.md), served on the
// API's listener at / and /console/.
type Console struct {
	Enabled bool `yaml:"enabled"`
	// SessionTTL is how long a login lasts at most (e.g. 8h).
	SessionTTL string `yaml:"session_ttl"`
	// IdleTimeout ends a session unused for this long (e.g. 30m).
	IdleTimeout string `yaml:"idle_timeout"`
	// SecureCookies marks cookies Secure even when the API listener is
	// plain HTTP (behind a TLS-terminating proxy). Under api.tls they are
	// always Secure.
	SecureCookies bool `yaml:"secure_cookies"`
}

// DefaultConsole is the console section's defaults.
func DefaultConsole() Console {
	return Console{Enabled: true, SessionTTL: "8h", IdleTimeout: "30m"}
}

// Session returns SessionTTL and IdleTimeout as durations (valid after
// Validate).
func (c Console) Session() (ttl, idle time.Duration) {
	ttl, _ = time.ParseDuration(c.SessionTTL)
	idle, _ = time.ParseDuration(c.IdleTimeout)
	return ttl, idle
}

// Validate names every bad console field.
func (c Console) Validate() []error {
	var errs []error
	if !c.Enabled {
		return nil
	}
	ttl, err1 := time.ParseDuration(c.SessionTTL)
	if err1 != nil || ttl < time.Minute || ttl > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("console.session_ttl: must be a duration between 1m and 168h (e.g. 8h)"))
	}
	idle, err2 := time.ParseDuration(c.IdleTimeout)
	if err2 != nil || idle < time.Minute || (err1 == nil && idle > ttl) {
		errs = append(errs, fmt.Errorf("console.idle_timeout: must be a duration of at least 1m and at most session_ttl (e.g. 30m)"))
	}
	return errs
}
