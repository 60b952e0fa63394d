package config

import (
	"fmt"
	"net/url"
	"strings"
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
	// OIDC signs people in through an OpenID Connect provider, beside
	// local accounts (off unless issuer is set).
	OIDC ConsoleOIDC `yaml:"oidc"`
}

// ConsoleOIDC configures the console's single sign-on (docs/console.md).
type ConsoleOIDC struct {
	// Issuer is the provider's issuer URL (its discovery document is at
	// ISSUER/.well-known/openid-configuration). Empty: OIDC is off.
	Issuer   string `yaml:"issuer"`
	ClientID string `yaml:"client_id"`
	// ClientSecretFile holds the client secret (kept out of the config).
	ClientSecretFile string `yaml:"client_secret_file"`
	// RedirectURL is https://HOST/console/oidc/callback as registered at
	// the provider.
	RedirectURL string `yaml:"redirect_url"`
	// Scopes besides openid (default profile, email).
	Scopes []string `yaml:"scopes"`
	// UsernameClaim names the person (default preferred_username).
	UsernameClaim string `yaml:"username_claim"`
	// RoleClaim is the claim whose values map to roles (default groups).
	RoleClaim string `yaml:"role_claim"`
	// Roles maps a value of role_claim to admin, investigator, approver
	// or auditor. People with no mapped value are refused.
	Roles map[string]string `yaml:"roles"`
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
	return append(errs, c.OIDC.validate()...)
}

func (o ConsoleOIDC) validate() []error {
	if o.Issuer == "" {
		return nil
	}
	var errs []error
	if u, err := url.Parse(o.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("console.oidc.issuer: must be an http(s) URL"))
	}
	if o.ClientID == "" {
		errs = append(errs, fmt.Errorf("console.oidc.client_id: required with console.oidc.issuer"))
	}
	if o.ClientSecretFile == "" {
		errs = append(errs, fmt.Errorf("console.oidc.client_secret_file: required with console.oidc.issuer"))
	}
	if u, err := url.Parse(o.RedirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || !strings.HasSuffix(u.Path, "/console/oidc/callback") {
		errs = append(errs, fmt.Errorf("console.oidc.redirect_url: must be an http(s) URL ending in /console/oidc/callback"))
	}
	if len(o.Roles) == 0 {
		errs = append(errs, fmt.Errorf("console.oidc.roles: map at least one value of the role claim to a role"))
	}
	for v, r := range o.Roles {
		switch r {
		case "admin", "investigator", "approver", "auditor":
		default:
			errs = append(errs, fmt.Errorf("console.oidc.roles[%q]: %q is not admin, investigator, approver or auditor", v, r))
		}
	}
	return errs
}
