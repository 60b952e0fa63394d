package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Config is the whole of custos.yaml. Field comments are the reference
// documentation (docs/config.md repeats them with examples).
type Config struct {
	// DataDir holds the event store, keys and ledger.
	DataDir string `yaml:"data_dir"`
	Log     Log    `yaml:"log"`
	API     API    `yaml:"api"`
	Detect  Detect `yaml:"detect"`
	Ledger  Ledger `yaml:"ledger"`
	// Approvals configures who may grant unmasking, exports, quota raises
	// and break-glass access.
	Approvals Approvals `yaml:"approvals"`
	// Policy names the policy and catalogue files the gateways decide by.
	Policy Policy `yaml:"policy"`
	// Alerts says where alerts are delivered (webhook, syslog, e-mail).
	Alerts Alerts `yaml:"alerts"`
	// HTTPGateway is the HTTP reverse-proxy gateway (docs/httpgw.md).
	HTTPGateway HTTPGateway `yaml:"http_gateway"`
	// Postgres is the PostgreSQL wire-protocol gateway (docs/pgwire.md).
	Postgres Postgres `yaml:"postgres"`
	// Console is the web console for investigators, approvers and auditors (docs/console.md).
	Console Console `yaml:"console"`
	// Cluster selects the bus, store and ledger drivers for scale-out (docs/scale-out.md).
	Cluster Cluster `yaml:"cluster"`
	// Export is how gateways fingerprint exports (docs/tracing.md).
	Export Export `yaml:"export"`
}

// Approvals names the approver rules file (docs/policy.md); empty leaves
// /api/v1/approvals off.
type Approvals struct {
	RulesFile string `yaml:"rules_file"`
	// Notify tells approvers of each new request (docs/policy.md,
	// "Approver notifications"); every sink is optional.
	Notify ApprovalNotify `yaml:"notify"`
}

// ApprovalNotify is where new approval requests are announced.
type ApprovalNotify struct {
	Webhooks []Webhook `yaml:"webhooks"`
	Email    Email     `yaml:"email"`
	// ConsoleURL is the console's address as approvers reach it
	// (https://custos.example.org/console); notices link its approvals page.
	ConsoleURL string `yaml:"console_url"`
}

// Enabled reports whether any sink is configured.
func (n ApprovalNotify) Enabled() bool { return len(n.Webhooks) > 0 || n.Email.SMTP != "" }

// Ledger configures the tamper-evident log every stored event is appended
// to (<data_dir>/ledger).
type Ledger struct {
	Enabled bool `yaml:"enabled"`
	// CheckpointInterval is how often a signed checkpoint is published
	// (default 1s).
	CheckpointInterval string `yaml:"checkpoint_interval"`
	// Witness has the ledger's checkpoints cosigned by a witness on
	// another host (another Custos serving serve_witness); empty URL: no
	// witness.
	Witness LedgerWitness `yaml:"witness"`
	// ServeWitness makes this node a witness for another Custos's ledger,
	// at /api/v1/witness/ (ingest-scope token); empty log_key: off.
	ServeWitness ServeWitness `yaml:"serve_witness"`
}

// LedgerWitness names a remote witness.
type LedgerWitness struct {
	URL       string `yaml:"url"`        // e.g. https://custos-b.example.org/api/v1/witness
	Key       string `yaml:"key"`        // the witness's note verifier key (GET …/witness.pub on its host, checked out of band)
	TokenFile string `yaml:"token_file"` // its ingest token, mode 0600
}

// ServeWitness is the ledger this node witnesses.
type ServeWitness struct {
	LogKey string `yaml:"log_key"` // the witnessed ledger's verifier key
}

// Detect configures the detection engine that analyses stored events.
type Detect struct {
	Enabled bool `yaml:"enabled"`
	// TimeZone is the organization's local time (IANA name) for working
	// hours and days.
	TimeZone string `yaml:"time_zone"`
	// SnapshotInterval is how often the engine's state is saved so that a
	// restart resumes without re-reading history.
	SnapshotInterval string `yaml:"snapshot_interval"` // e.g. 30s, 5m
}

// Snapshots returns SnapshotInterval as a duration (valid after Validate).
func (d Detect) Snapshots() time.Duration {
	v, _ := time.ParseDuration(d.SnapshotInterval)
	return v
}

// Log configures Custos's own logs (which never carry personal data).
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// API configures the HTTP API (ingest, queries, metrics).
type API struct {
	Enabled      bool   `yaml:"enabled"`
	Listen       string `yaml:"listen"`         // host:port
	MaxBatch     int    `yaml:"max_batch"`      // events per ingest request
	MaxBodyBytes int64  `yaml:"max_body_bytes"` // bytes per request body
	TLS          TLS    `yaml:"tls"`
}

// TLS names a certificate and key; both empty means plain HTTP.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Default returns the configuration used when custos.yaml omits a field.
func Default() Config {
	return Config{
		DataDir: "custos-data",
		Log:     Log{Level: "info", Format: "text"},
		API: API{
			Enabled:      true,
			Listen:       "127.0.0.1:8870",
			MaxBatch:     10000,
			MaxBodyBytes: 32 << 20,
		},
		Ledger:      Ledger{Enabled: true, CheckpointInterval: "1s"},
		Detect:      Detect{Enabled: true, TimeZone: "UTC", SnapshotInterval: "1m"},
		Alerts:      Alerts{MinSeverity: "medium"},
		HTTPGateway: DefaultHTTPGateway(),
		Postgres:    defaultPostgres(),
		Console:     DefaultConsole(),
		Cluster:     DefaultCluster(),
		Export:      DefaultExport(),
	}
}

// Load reads path over the defaults, applies CUSTOS_* environment
// overrides from env (os.Environ form) and validates the result. An empty
// path means defaults and environment only.
func Load(path string, env []string) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := Parse(path, data, &cfg); err != nil {
			return cfg, err
		}
		cfg.resolvePaths(filepath.Dir(path))
	}
	if err := applyEnv(&cfg, env); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config %s: %w", displayName(path), err)
	}
	return cfg, nil
}

// Parse decodes YAML strictly into cfg. Errors read "file:line:column: …".
func Parse(name string, data []byte, cfg *Config) (err error) {
	// The YAML decoder panics on some malformed inputs (found by fuzzing);
	// a bad file must be an error, never a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: malformed YAML", displayName(name))
		}
	}()
	err = yaml.UnmarshalWithOptions(data, cfg, yaml.Strict())
	if err == nil {
		return nil
	}
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		pos := ye.GetToken().Position
		return fmt.Errorf("%s:%d:%d: %s", displayName(name), pos.Line, pos.Column, ye.GetMessage())
	}
	return fmt.Errorf("%s: %w", displayName(name), err)
}

func displayName(path string) string {
	if path == "" {
		return "(defaults)"
	}
	return path
}

// envOverrides maps each environment variable to the field it sets.
var envOverrides = map[string]func(*Config, string) error{
	"CUSTOS_DATA_DIR":      func(c *Config, v string) error { c.DataDir = v; return nil },
	"CUSTOS_LOG_LEVEL":     func(c *Config, v string) error { c.Log.Level = v; return nil },
	"CUSTOS_LOG_FORMAT":    func(c *Config, v string) error { c.Log.Format = v; return nil },
	"CUSTOS_API_LISTEN":    func(c *Config, v string) error { c.API.Listen = v; return nil },
	"CUSTOS_API_TLS_CERT":  func(c *Config, v string) error { c.API.TLS.Cert = v; return nil },
	"CUSTOS_API_TLS_KEY":   func(c *Config, v string) error { c.API.TLS.Key = v; return nil },
	"CUSTOS_API_MAX_BATCH": func(c *Config, v string) error { return setInt(&c.API.MaxBatch, v) },
	"CUSTOS_LEDGER_ENABLED": func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		c.Ledger.Enabled = b
		return err
	},
	"CUSTOS_DETECT_TIME_ZONE": func(c *Config, v string) error { c.Detect.TimeZone = v; return nil },
	"CUSTOS_DETECT_ENABLED": func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		c.Detect.Enabled = b
		return err
	},
	"CUSTOS_API_ENABLED": func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		c.API.Enabled = b
		return err
	},
}

// EnvVars lists the supported environment overrides, for --help.
func EnvVars() []string {
	var names []string
	for k := range envOverrides {
		names = append(names, k)
	}
	return names
}

func applyEnv(cfg *Config, env []string) error {
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "CUSTOS_") {
			continue
		}
		set, known := envOverrides[k]
		if !known {
			continue // other CUSTOS_ variables belong to tests and tools
		}
		if err := set(cfg, v); err != nil {
			return fmt.Errorf("config: environment %s: %v", k, err)
		}
	}
	return nil
}

func setInt(dst *int, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("not an integer")
	}
	*dst = n
	return nil
}

// Validate checks field values and names every bad field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.DataDir == "" {
		bad("data_dir", "required")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "must be text or json, not %q", c.Log.Format)
	}
	if c.API.Enabled {
		if _, _, err := net.SplitHostPort(c.API.Listen); err != nil {
			bad("api.listen", "must be host:port (e.g. 127.0.0.1:8870)")
		}
		if c.API.MaxBatch < 1 || c.API.MaxBatch > 1_000_000 {
			bad("api.max_batch", "must be between 1 and 1000000")
		}
		if c.API.MaxBodyBytes < 1024 {
			bad("api.max_body_bytes", "must be at least 1024")
		}
		if (c.API.TLS.Cert == "") != (c.API.TLS.Key == "") {
			bad("api.tls", "cert and key must both be set or both be empty")
		}
	}
	if _, err := time.LoadLocation(c.Detect.TimeZone); err != nil {
		bad("detect.time_zone", "unknown time zone %q (use an IANA name such as Asia/Shanghai)", c.Detect.TimeZone)
	}
	if d, err := time.ParseDuration(c.Detect.SnapshotInterval); err != nil || d < time.Second {
		bad("detect.snapshot_interval", "must be a duration of at least 1s (e.g. 30s, 5m)")
	}
	if err := c.Postgres.validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.HTTPGateway.Validate()...)
	errs = append(errs, c.Console.Validate()...)
	errs = append(errs, c.Cluster.Validate()...)
	errs = append(errs, c.Export.Validate()...)
	if d, err := time.ParseDuration(c.Ledger.CheckpointInterval); err != nil || d < 100*time.Millisecond || d > time.Hour {
		bad("ledger.checkpoint_interval", "must be a duration between 100ms and 1h (e.g. 1s)")
	}
	errs = append(errs, c.Alerts.validate()...)
	errs = append(errs, validateWebhooks("approvals.notify", c.Approvals.Notify.Webhooks)...)
	errs = append(errs, c.Approvals.Notify.Email.validate("approvals.notify")...)
	if c.Approvals.Notify.Enabled() && c.Approvals.RulesFile == "" {
		errs = append(errs, errors.New("approvals.notify: needs approvals.rules_file (there are no approvals without approver rules)"))
	}
	return errors.Join(errs...)
}
