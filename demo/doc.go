// Package demo runs the whole of Custos on a synthetic organization: it
// prepares a data directory, starts a node, back-fills a week of simulated
// history through the ingest pipeline, then feeds live simulated activity
// (insiders and attackers included) through the real HTTP API, and prints
// where to look. The airline's passenger-service back office
// (demo/backoffice) runs behind the node's HTTP gateway, and the
// passenger-service staff's look-ups and the HTTP insiders go through it
// (sim/httpdrive); docs/demo.md describes both. `custos demo` is a thin
// command over Run.
package demo
