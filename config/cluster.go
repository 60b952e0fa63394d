package config

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Cluster configures scale-out (docs/scale-out.md): which event bus,
// event store and ledger driver a node uses when it runs with
// `custos serve --role gateway|detector|api`. The defaults (local bus,
// sqlite store, posix ledger) are the embedded single process, which is
// what `--role all` always runs.
type Cluster struct {
	// NodeID names this node in partition leases and logs; empty means
	// the host name and process id.
	NodeID string        `yaml:"node_id"`
	Bus    ClusterBus    `yaml:"bus"`
	Store  ClusterStore  `yaml:"store"`
	Ledger ClusterLedger `yaml:"ledger"`
	// SpoolDir is where a gateway keeps events it could not publish while
	// the bus was down (relative to data_dir when not absolute).
	SpoolDir string `yaml:"spool_dir"`
	// FailMode is what a gateway does when the bus is down: "spool"
	// (append to the local spool with fsync, answer, publish when the bus
	// returns) or "closed" (refuse the batch with 503: no access is
	// allowed that could not be recorded on the bus).
	FailMode string `yaml:"fail_mode"`
	// Listen is the address of /healthz, /readyz and /metrics on nodes
	// without the API (detectors); empty disables it there.
	Listen string `yaml:"listen"`
}

// ClusterBus selects the event bus.
type ClusterBus struct {
	Driver string `yaml:"driver"` // local or nats
	URL    string `yaml:"url"`    // nats://host:4222[,nats://…]
	// Stream is the JetStream stream (and the prefix of the lease bucket
	// and subjects' owner); several Custos clusters can share one NATS.
	Stream string `yaml:"stream"`
	// Partitions is the number of actor partitions; fixed for the life of
	// the stream (changing it moves actors between partitions).
	Partitions int `yaml:"partitions"`
	// Replicas of the stream and the lease bucket: 3 on a three-server
	// JetStream cluster, 1 on a single server.
	Replicas int `yaml:"replicas"`
	// LeaseTTL is how long a detector's claim on a partition lasts without
	// renewal: a dead detector's partitions move after at most this long.
	LeaseTTL string `yaml:"lease_ttl"`
	// PublishTimeout bounds the wait for the bus's acknowledgement before
	// a gateway falls back to its spool (or fails closed).
	PublishTimeout string `yaml:"publish_timeout"`
}

// ClusterStore selects the event store.
type ClusterStore struct {
	Driver string `yaml:"driver"` // sqlite or postgres
	DSN    string `yaml:"dsn"`    // postgres://user@host:5432/db
}

// ClusterLedger selects the ledger's log storage.
type ClusterLedger struct {
	Driver string `yaml:"driver"` // posix or mysql
	DSN    string `yaml:"dsn"`    // go-sql-driver form: user:pass@tcp(host:3306)/db
}

// DefaultCluster is the embedded single process.
func DefaultCluster() Cluster {
	return Cluster{
		Bus: ClusterBus{Driver: "local", URL: "nats://127.0.0.1:4222", Stream: "CUSTOS",
			Partitions: 16, Replicas: 1, LeaseTTL: "5s", PublishTimeout: "2s"},
		Store:    ClusterStore{Driver: "sqlite"},
		Ledger:   ClusterLedger{Driver: "posix"},
		SpoolDir: "spool",
		FailMode: "spool",
	}
}

// LeaseDuration returns LeaseTTL (valid after Validate).
func (b ClusterBus) LeaseDuration() time.Duration {
	d, _ := time.ParseDuration(b.LeaseTTL)
	return d
}

// PublishWait returns PublishTimeout (valid after Validate).
func (b ClusterBus) PublishWait() time.Duration {
	d, _ := time.ParseDuration(b.PublishTimeout)
	return d
}

// Validate checks the cluster section.
func (c Cluster) Validate() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("cluster.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch c.Bus.Driver {
	case "local":
	case "nats":
		if c.Bus.URL == "" {
			bad("bus.url", "required with the nats driver")
		}
	default:
		bad("bus.driver", "must be local or nats, not %q", c.Bus.Driver)
	}
	if c.Bus.Stream == "" || !validStream(c.Bus.Stream) {
		bad("bus.stream", "must be letters, digits, '-' or '_'")
	}
	if c.Bus.Partitions < 1 || c.Bus.Partitions > 4096 {
		bad("bus.partitions", "must be between 1 and 4096")
	}
	if c.Bus.Replicas < 1 || c.Bus.Replicas > 5 {
		bad("bus.replicas", "must be between 1 and 5")
	}
	if d, err := time.ParseDuration(c.Bus.LeaseTTL); err != nil || d < time.Second {
		bad("bus.lease_ttl", "must be a duration of at least 1s")
	}
	if d, err := time.ParseDuration(c.Bus.PublishTimeout); err != nil || d <= 0 {
		bad("bus.publish_timeout", "must be a positive duration")
	}
	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		if c.Store.DSN == "" {
			bad("store.dsn", "required with the postgres driver")
		}
	default:
		bad("store.driver", "must be sqlite or postgres, not %q", c.Store.Driver)
	}
	switch c.Ledger.Driver {
	case "posix":
	case "mysql":
		if c.Ledger.DSN == "" {
			bad("ledger.dsn", "required with the mysql driver")
		}
	default:
		bad("ledger.driver", "must be posix or mysql, not %q", c.Ledger.Driver)
	}
	switch c.FailMode {
	case "spool", "closed":
	default:
		bad("fail_mode", "must be spool or closed, not %q", c.FailMode)
	}
	if c.SpoolDir == "" {
		bad("spool_dir", "required")
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			bad("listen", "must be host:port")
		}
	}
	return errs
}

// Distributed reports whether the section asks for the scale-out backends
// (a role other than all needs the nats bus and the postgres store).
func (c Cluster) Distributed() error {
	if c.Bus.Driver != "nats" || c.Store.Driver != "postgres" {
		return errors.New("cluster roles need cluster.bus.driver: nats and cluster.store.driver: postgres")
	}
	return nil
}

func validStream(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
