package config

import (
	"strings"
	"testing"
)

func TestClusterValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(c *Cluster)
		want string // substring of the error; "" means valid
	}{
		{"defaults", func(c *Cluster) {}, ""},
		{"nats and postgres", func(c *Cluster) {
			c.Bus.Driver, c.Store.Driver, c.Store.DSN = "nats", "postgres", "postgres://db/custos"
			c.Ledger.Driver, c.Ledger.DSN = "mysql", "root@tcp(db:3306)/ledger"
		}, ""},
		{"unknown bus", func(c *Cluster) { c.Bus.Driver = "kafka" }, "cluster.bus.driver"},
		{"nats without url", func(c *Cluster) { c.Bus.Driver, c.Bus.URL = "nats", "" }, "cluster.bus.url"},
		{"bad stream", func(c *Cluster) { c.Bus.Stream = "a.b" }, "cluster.bus.stream"},
		{"no partitions", func(c *Cluster) { c.Bus.Partitions = 0 }, "cluster.bus.partitions"},
		{"short lease", func(c *Cluster) { c.Bus.LeaseTTL = "100ms" }, "cluster.bus.lease_ttl"},
		{"bad publish timeout", func(c *Cluster) { c.Bus.PublishTimeout = "soon" }, "cluster.bus.publish_timeout"},
		{"postgres without dsn", func(c *Cluster) { c.Store.Driver = "postgres" }, "cluster.store.dsn"},
		{"unknown store", func(c *Cluster) { c.Store.Driver = "mongo" }, "cluster.store.driver"},
		{"mysql ledger without dsn", func(c *Cluster) { c.Ledger.Driver = "mysql" }, "cluster.ledger.dsn"},
		{"fail mode", func(c *Cluster) { c.FailMode = "open" }, "cluster.fail_mode"},
		{"no spool dir", func(c *Cluster) { c.SpoolDir = "" }, "cluster.spool_dir"},
		{"bad listen", func(c *Cluster) { c.Listen = "8871" }, "cluster.listen"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultCluster()
			tt.edit(&c)
			errs := c.Validate()
			switch {
			case tt.want == "" && len(errs) > 0:
				t.Errorf("unexpected errors: %v", errs)
			case tt.want != "" && (len(errs) == 0 || !strings.Contains(errs[0].Error(), tt.want)):
				t.Errorf("errors %v, want one about %s", errs, tt.want)
			}
		})
	}
}

func TestClusterDistributed(t *testing.T) {
	c := DefaultCluster()
	if c.Distributed() == nil {
		t.Error("the embedded defaults pass as a cluster")
	}
	c.Bus.Driver, c.Store.Driver = "nats", "postgres"
	if err := c.Distributed(); err != nil {
		t.Error(err)
	}
}

func TestClusterYAML(t *testing.T) {
	cfg := Default()
	err := Parse("custos.yaml", []byte("cluster:\n  bus:\n    driver: nats\n    partitions: 4\n  store:\n    driver: postgres\n    dsn: postgres://db/custos\n  fail_mode: closed\n"), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster.Bus.Driver != "nats" || cfg.Cluster.Bus.Partitions != 4 || cfg.Cluster.Bus.Stream != "CUSTOS" || cfg.Cluster.FailMode != "closed" {
		t.Errorf("parsed %+v", cfg.Cluster)
	}
	if err := Parse("custos.yaml", []byte("cluster:\n  bus:\n    drvier: nats\n"), &cfg); err == nil {
		t.Error("a misspelt key was accepted")
	}
}
