// Package store is the home of the custos.EventStore backends: sqlite (the
// embedded default, one data directory) and, later, postgres. Every backend
// passes the same conformance suite, storetest.Run.
package store
