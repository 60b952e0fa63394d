package config

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Postgres configures the PostgreSQL wire-protocol gateway (docs/pgwire.md):
// employees connect to Listen with their own Custos login; the gateway
// connects to the upstream server with the credentials of their role.
type Postgres struct {
	Enabled bool   `yaml:"enabled"`
	Listen  string `yaml:"listen"` // host:port
	// System is the name of the upstream in the catalogue and the policy
	// (resources' system), and in access events.
	System   string           `yaml:"system"`
	Upstream PostgresUpstream `yaml:"upstream"`
	// Credentials are the upstream logins per Custos role. A user connects
	// upstream with the first of their roles that has credentials.
	Credentials []PostgresCredential `yaml:"credentials"`
	// Users is the gateway's own user directory.
	Users []PostgresUser `yaml:"users"`
	// TLS is the certificate offered to clients that send SSLRequest; both
	// empty refuses TLS ('N').
	TLS TLS `yaml:"tls"`
	// RequireTLS refuses clients that do not negotiate TLS.
	RequireTLS     bool `yaml:"require_tls"`
	MaxConnections int  `yaml:"max_connections"`
	// RecordAll records an access event for every statement, not only for
	// those that touch personal data (docs/pgwire.md, Events).
	RecordAll bool `yaml:"record_all"`
	// AutoPrepare runs each simple-protocol SELECT with numeric constants
	// as a prepared statement of its shape upstream (docs/pgwire.md,
	// Auto-prepare). On by default.
	AutoPrepare bool `yaml:"auto_prepare"`
	// The policy and catalogue are the node's (policy.file and
	// policy.catalog), shared with the other gateways.
}

// PostgresUpstream is the real PostgreSQL server behind the gateway.
type PostgresUpstream struct {
	Address string `yaml:"address"` // host:port
	// Database is used when a client names none.
	Database string `yaml:"database"`
	// SSLMode is libpq's sslmode for the upstream leg: disable, prefer,
	// require, verify-ca or verify-full.
	SSLMode string `yaml:"sslmode"`
	// CA is the CA certificate file for verify-ca and verify-full.
	CA string `yaml:"ca"`
	// Meta is the login the gateway uses for its own catalogue look-ups
	// (table and column names); empty uses the first credentials.
	Meta PostgresCredential `yaml:"meta"`
}

// PostgresCredential is an upstream login for a role.
type PostgresCredential struct {
	Role     string `yaml:"role,omitempty"`
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// PostgresUser is an employee's gateway login: a SCRAM-SHA-256 verifier
// (`custos pg passwd` prints one), never a clear password.
type PostgresUser struct {
	Name     string   `yaml:"name"`
	Verifier string   `yaml:"verifier"`
	Roles    []string `yaml:"roles"`
	OrgUnit  string   `yaml:"org_unit"`
	// AppKeyFile holds the application key of a service account whose
	// statements may name their end user in a signed comment
	// (docs/pgsql.md); empty refuses such comments.
	AppKeyFile string `yaml:"app_key_file"`
}

func defaultPostgres() Postgres {
	return Postgres{
		Listen:         "127.0.0.1:6432",
		System:         "postgres",
		Upstream:       PostgresUpstream{Address: "127.0.0.1:5432", Database: "postgres", SSLMode: "prefer"},
		MaxConnections: 1000,
		AutoPrepare:    true,
	}
}

// validate checks the gateway section when it is enabled.
func (p Postgres) validate() error {
	if !p.Enabled {
		return nil
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("postgres.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(p.Listen); err != nil {
		bad("listen", "must be host:port (e.g. 127.0.0.1:6432)")
	}
	if p.System == "" {
		bad("system", "required (the upstream's name in the catalogue and policy)")
	}
	if _, _, err := net.SplitHostPort(p.Upstream.Address); err != nil {
		bad("upstream.address", "must be host:port (e.g. 127.0.0.1:5432)")
	}
	switch p.Upstream.SSLMode {
	case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
	default:
		bad("upstream.sslmode", "must be disable, prefer, require, verify-ca or verify-full, not %q", p.Upstream.SSLMode)
	}
	if len(p.Credentials) == 0 {
		bad("credentials", "at least one role's upstream login is required")
	}
	roles := map[string]bool{}
	for i, c := range p.Credentials {
		if c.Role == "" || c.User == "" {
			bad(fmt.Sprintf("credentials[%d]", i), "role and user are required")
		}
		if roles[c.Role] {
			bad(fmt.Sprintf("credentials[%d]", i), "role %q listed twice", c.Role)
		}
		roles[c.Role] = true
	}
	names := map[string]bool{}
	for i, u := range p.Users {
		field := fmt.Sprintf("users[%d]", i)
		if u.Name == "" {
			bad(field, "name is required")
		}
		if names[u.Name] {
			bad(field, "user %q listed twice", u.Name)
		}
		names[u.Name] = true
		if !strings.HasPrefix(u.Verifier, "SCRAM-SHA-256$") {
			bad(field+".verifier", "must be a SCRAM-SHA-256 verifier (custos pg passwd prints one)")
		}
		ok := false
		for _, r := range u.Roles {
			ok = ok || roles[r]
		}
		if !ok {
			bad(field+".roles", "none of the user's roles has upstream credentials")
		}
	}
	if (p.TLS.Cert == "") != (p.TLS.Key == "") {
		bad("tls", "cert and key must both be set or both be empty")
	}
	if p.RequireTLS && p.TLS.Cert == "" {
		bad("require_tls", "needs tls.cert and tls.key")
	}
	if p.MaxConnections < 1 {
		bad("max_connections", "must be at least 1")
	}
	return errors.Join(errs...)
}
