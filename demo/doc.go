// Package demo runs the whole of Custos on a synthetic organization: it
// prepares a data directory, starts a node, back-fills a week of simulated
// history through the ingest pipeline, then feeds live simulated activity
// (insiders and attackers included) through the real HTTP API, and prints
// where to look. `custos demo` is a thin command over Run.
package demo
