// Package server assembles a running Custos from a configuration: the data
// directory (keys, event store), the ingest pipeline, the in-process bus
// and its consumers, and the HTTP API. `custos serve` and `custos demo`
// both start one; end-to-end tests start one on port 0.
package server
