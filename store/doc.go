// Package store is the home of the custos.EventStore backends: sqlite (the
// embedded default, one data directory) and postgres (scale-out). Every
// backend passes the same conformance suite, storetest.Run, and reads its
// numbered schema migrations with Migrations.
package store
