// Package postgres is the scale-out custos.EventStore on PostgreSQL
// (through pgx): access events, login events, the subject blind index,
// alerts, consumer offsets, API tokens and detection snapshots, shared by
// every node of a cluster.
//
// The event tables are partitioned by event time, one partition per
// month, created on demand by the first append that needs one; dropping a
// month is dropping a table. Event ids and sequence numbers live in small
// unpartitioned tables (PostgreSQL cannot enforce uniqueness across
// partitions), which is what makes appends idempotent.
//
// Appends of one kind are serialized by a transaction-scoped advisory
// lock, so sequence numbers are assigned and committed in the same order:
// a consumer that reads "seq > n" (the ledger follower, SIEM feeds) never
// misses an event that commits later with a lower number. A successful
// append has been committed with synchronous_commit (the server's WAL is
// fsync'd) before it returns.
//
// History is ordered by sequence number, newest first; time bounds are
// half-open, From <= time < To, and select partitions. The schema is
// versioned like store/sqlite: numbered SQL files under migrations/,
// applied in order under an advisory lock, so nodes starting together
// migrate once. A database written by a newer build is refused.
package postgres
